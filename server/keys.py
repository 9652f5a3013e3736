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
import os
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
    """Make the server key pair (once) and a key pair per named client; returns new files.

    Every name is checked before anything is written, and each secret key is made
    readable by its owner only from the moment it exists.
    """
    folder = Path(folder)
    for name in clients:
        check_client_name(name)
    made = []
    (folder / "authorized").mkdir(parents=True, exist_ok=True)
    (folder / "clients").mkdir(parents=True, exist_ok=True)
    if not (folder / "server.key_secret").exists():
        made += _key_pair(folder, "server")
    for name in clients:
        if (folder / "clients" / f"{name}.key_secret").exists():
            continue
        public, secret = _key_pair(folder / "clients", name)
        shutil.copy(public, folder / "authorized" / f"{name}.key")
        made += [public, secret, folder / "authorized" / f"{name}.key"]
    return made


def check_client_name(name: str) -> None:
    if not NAME.match(name):
        raise KeysError(f"client name {name!r}: use 1 to 64 letters, digits, '.', '_' or '-'")


def _key_pair(folder: Path, name: str) -> list[Path]:
    """zmq's key files, made under a private umask; the public one then gets the usual mode."""
    umask = os.umask(0o077)
    try:
        public, secret = zmq.auth.create_certificates(str(folder), name)
    finally:
        os.umask(umask)
    Path(public).chmod(0o666 & ~umask)
    return [Path(public), Path(secret)]


def load_server_keys(folder: Path) -> tuple[bytes, bytes, Path]:
    """(public, secret, authorized folder), or a `KeysError` naming what is missing."""
    folder = _key_folder(folder)
    secret_file = folder / "server.key_secret"
    if not secret_file.exists():
        raise KeysError(f"{secret_file} does not exist; run `restyle keys {folder}` first")
    public, secret = _load(secret_file)
    if not secret:
        raise KeysError(f"{secret_file} holds no secret key")
    authorized = folder / "authorized"
    if not authorized.is_dir() or not any(authorized.glob("*.key")):
        raise KeysError(
            f"{authorized} holds no client public keys, so nobody could connect; "
            f"run `restyle keys {folder} --client NAME`"
        )
    for key in sorted(authorized.glob("*.key")):
        _load(key)
    return public, secret, authorized


def load_client_keys(folder: Path, name: str) -> tuple[bytes, tuple[bytes, bytes]]:
    """(server public key, (client public, client secret)) from a key folder."""
    folder = _key_folder(folder)
    check_client_name(name)
    server_file = folder / "server.key"
    if not server_file.exists():
        raise KeysError(f"{server_file} does not exist; copy server.key from the server's key folder")
    secret_file = folder / "clients" / f"{name}.key_secret"
    if not secret_file.exists():
        raise KeysError(
            f"{secret_file} does not exist: no key for client {name!r}; make it on the server with "
            f"`restyle keys DIR --client {name}` and copy it here"
        )
    server_public, _ = _load(server_file)
    public, secret = _load(secret_file)
    if not secret:
        raise KeysError(f"{secret_file} holds no secret key")
    return server_public, (public, secret)


def _key_folder(folder: Path) -> Path:
    folder = Path(folder)
    if not folder.is_dir():
        raise KeysError(f"the key folder {folder} does not exist; make one with `restyle keys DIR --client NAME`")
    return folder


def _load(path: Path) -> tuple[bytes, bytes | None]:
    try:
        return zmq.auth.load_certificate(str(path))
    except (OSError, ValueError) as e:
        raise KeysError(f"{path} is not a CurveZMQ key file from `restyle keys` ({e})") from None


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
