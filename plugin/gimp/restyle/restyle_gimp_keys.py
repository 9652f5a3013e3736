"""The CurveZMQ keys for a server that was started with `--keys`.

`restyle keys` hands each client two files: the server's public key (server.key) and
the client's own key pair (clients/NAME.key_secret).  The plug-in only reads them, so
that a wrong or swapped file gets a message naming it instead of a silent refusal.
"""

from __future__ import annotations

from restyle_gimp_job import PluginError, ProcedureSettings

Keys = tuple[bytes, tuple[bytes, bytes]]


def load_keys(settings: ProcedureSettings) -> Keys | None:
    """(server public key, (client public, client secret)), or None for a plain server."""
    if not settings.server_key_file:
        return None
    from zmq.auth import load_certificate

    server_public, _ = _read(load_certificate, settings.server_key_file, "the server's public key")
    public, secret = _read(load_certificate, settings.client_key_file, "your secret key")
    if secret is None:
        raise PluginError(
            f"{settings.client_key_file} holds only a public key; choose the .key_secret file "
            "that `restyle keys` made for you"
        )
    return server_public, (public, secret)


def _read(load, path: str, what: str):
    try:
        return load(path)
    except (OSError, ValueError) as exc:
        raise PluginError(f"Cannot read {what} from {path}: {exc}") from None
