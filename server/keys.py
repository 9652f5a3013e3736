"""CurveZMQ keys: who may talk to a server that listens beyond this machine.

Folder layout made by `restyle keys DIR` (docs/protocol.md, "Security"):

    DIR/server.key            the server's public key: give it to every client
    DIR/server.key_secret     the server's key pair: stays on the server
    DIR/authorized/NAME.key   public keys of the clients allowed to connect
    DIR/clients/NAME.key      a client's public key
    DIR/clients/NAME.key_secret  that client's key pair: copy it to that editor's machine

Revoking a client is deleting its file in `authorized/` and restarting the server.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class KeysError(ValueError):
    """Keys missing or unusable; the message says which file and what to do."""


def make_keys(folder: Path, clients: list[str]) -> list[Path]:
    """Make the server key pair (once) and a key pair per named client; returns new files."""
    folder = Path(folder)
    made = []
    (folder / "authorized").mkdir(parents=True, exist_ok=True)
    (folder / "clients").mkdir(parents=True, exist_ok=True)
    if not (folder / "server.key_secret").exists():
        public, secret = zmq.auth.create_certificates(str(folder), "server")
        Path(secret).chmod(0o600)
        made += [Path(public), Path(secret)]
    for name in clients:
        if not NAME.match(name):
            raise KeysError(f"client name {name!r}: use letters, digits, '.', '_' or '-'")
        if (folder / "clients" / f"{name}.key_secret").exists():
            continue
        public, secret = zmq.auth.create_certificates(str(folder / "clients"), name)
        Path(secret).chmod(0o600)
        shutil.copy(public, folder / "authorized" / f"{name}.key")
        made += [Path(public), Path(secret), folder / "authorized" / f"{name}.key"]
    return made


def load_server_keys(folder: Path) -> tuple[bytes, bytes, Path]:
    """(public, secret, authorized folder), or a `KeysError` naming what is missing."""
    folder = Path(folder)
    secret_file = folder / "server.key_secret"
    if not secret_file.exists():
        raise KeysError(f"{secret_file} does not exist; run `restyle keys {folder}` first")
    public, secret = zmq.auth.load_certificate(str(secret_file))
    if not secret:
        raise KeysError(f"{secret_file} holds no secret key")
    authorized = folder / "authorized"
    if not authorized.is_dir() or not any(authorized.glob("*.key")):
        raise KeysError(
            f"{authorized} holds no client public keys, so nobody could connect; "
            f"run `restyle keys {folder} --client NAME`"
        )
    return public, secret, authorized


def load_client_keys(folder: Path, name: str) -> tuple[bytes, tuple[bytes, bytes]]:
    """(server public key, (client public, client secret)) from a key folder."""
    folder = Path(folder)
    server_public, _ = zmq.auth.load_certificate(str(folder / "server.key"))
    public, secret = zmq.auth.load_certificate(str(folder / "clients" / f"{name}.key_secret"))
    if secret is None:
        raise KeysError(f"{folder / 'clients' / (name + '.key_secret')} holds no secret key")
    return server_public, (public, secret)


def start_authenticator(context: zmq.Context, authorized: Path) -> ThreadAuthenticator:
    """ZAP handler that admits exactly the public keys in `authorized`."""
    auth = ThreadAuthenticator(context)
    auth.start()
    auth.configure_curve(domain="*", location=str(authorized))
    return auth


def is_loopback(endpoint: str) -> bool:
    """True when only this machine can reach the endpoint.

    ipc:// and inproc:// are local by nature; tcp:// counts only for 127.0.0.0/8, ::1,
    "localhost" and the "lo" interface.  Wildcards and every other host are remote.
    """
    scheme, _, rest = endpoint.partition("://")
    if scheme in ("ipc", "inproc"):
        return True
    if scheme != "tcp":
        return False
    host = _host(rest)
    if host in ("localhost", "lo"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host(rest: str) -> str:
    if rest.startswith("["):
        return rest[1 : rest.find("]")]
    host, _, _ = rest.rpartition(":")
    return host


def bindable(endpoint: str) -> str:
    """`tcp://HOST:0` asks the OS for a port, which ZeroMQ spells `tcp://HOST:*`."""
    if endpoint.startswith("tcp://") and endpoint.endswith(":0"):
        return endpoint[:-2] + ":*"
    return endpoint


def check_bind(endpoint: str, keys: Path | None) -> None:
    if keys is None and not is_loopback(endpoint):
        raise KeysError(
            f"refusing to listen on {endpoint}: it is reachable from other machines, and "
            "without CurveZMQ keys anyone there could use this server. Make keys with "
            "`restyle keys DIR --client NAME` and start with `--keys DIR`, or bind to "
            "tcp://127.0.0.1:PORT"
        )
