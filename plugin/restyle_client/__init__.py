"""Restyle's client side: the request type, the wire format and a ZeroMQ client.

Only the standard library, pyzmq and msgpack are used here, because this package runs
inside the editors' own Python (Krita, GIMP), which has neither numpy nor torch.
"""

DEFAULT_PORT = 7865
DEFAULT_ENDPOINT = f"tcp://127.0.0.1:{DEFAULT_PORT}"

from .request import Options, Pixels, Region, Request, RequestError, Style  # noqa: E402

__all__ = [
    "DEFAULT_ENDPOINT",
    "DEFAULT_PORT",
    "Options",
    "Pixels",
    "Region",
    "Request",
    "RequestError",
    "Style",
]
