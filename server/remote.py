"""Running one job on a running server, for `restyle stylize --server ENDPOINT`.

The CLI turns files into a `Request` and the result back into a file; this only moves
the request and the events, so the in-process and remote paths share everything else.
"""

from __future__ import annotations

from collections.abc import Callable

from restyle_client import events as ev
from restyle_client.client import Client, ServerUnavailable
from restyle_client.request import Request


class RemoteError(RuntimeError):
    """The server refused or failed the job; `code` is the protocol's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{message} ({code})")
        self.code = code


def remote_stylize(
    endpoint: str,
    request: Request,
    on_event: Callable[[ev.Event], None] | None = None,
    timeout: float | None = None,
    *,
    server_public_key: bytes | None = None,
    client_keys: tuple[bytes, bytes] | None = None,
    hello_timeout: float = 10.0,
    on_cancel: Callable[[], None] | None = None,
    on_hello: Callable[[dict], None] | None = None,
) -> ev.Result:
    """Submit, pass every event to `on_event`, and return the final `Result`.

    `timeout` bounds the wait for each next event.  A cancelled job still returns its
    `Result`, with `cancelled` set and the picture as it was: a Ctrl-C asks the server
    to cancel and waits for that picture (calling `on_cancel`), and a second one stops
    at once.  An `Error` raises.  `on_hello` gets the server's capabilities first.
    """
    with Client(endpoint, server_public_key=server_public_key, client_keys=client_keys, name="restyle-cli") as client:
        capabilities = client.hello(timeout=hello_timeout)
        if on_hello is not None:
            on_hello(capabilities)
        job_id = client.submit(request)
        try:
            return _until_result(client, job_id, endpoint, on_event, timeout)
        except KeyboardInterrupt:
            client.cancel(job_id)
            if on_cancel is not None:
                on_cancel()
        return _until_result(client, job_id, endpoint, on_event, timeout)


def _until_result(
    client: Client, job_id: str, endpoint: str, on_event: Callable[[ev.Event], None] | None, timeout: float | None
) -> ev.Result:
    for event in client.events(timeout=timeout):
        if on_event is not None:
            on_event(event)
        if isinstance(event, ev.Error) and event.job_id in (job_id, None):
            raise RemoteError(event.code, event.message)
        if isinstance(event, ev.Result) and event.job_id == job_id:
            return event
    raise ServerUnavailable(f"the server at {endpoint} ended the job without a result")
