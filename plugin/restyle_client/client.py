"""The editor's end of the wire: a DEALER socket that sends requests and yields events.

Two ways to use it.  A script iterates `events()`, which blocks.  An editor watches
`fileno()` with its own event loop and calls `poll()`, which never blocks.  The ZeroMQ
descriptor is edge-triggered, so `poll()` drains everything pending every time; call it
when the descriptor fires, once from a zero-delay timer after every send, and from a
timer at least every `heartbeat_interval` seconds so the server knows the editor is alive.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Iterator
from typing import Any

import zmq

from . import DEFAULT_ENDPOINT
from . import events as ev
from .protocol import SERVER_TYPES, Cancel, Hello, Ping, ProtocolError, StatusQuery, Submit, decode, encode
from .request import Request, RequestError

DEFAULT_HEARTBEAT_INTERVAL = 2.0
DEFAULT_HEARTBEAT_TIMEOUT = 20.0


class ServerUnavailable(ConnectionError):
    """No server answered at the endpoint (not running, wrong address, or keys refused)."""


def new_routing_id() -> bytes:
    return b"rc-" + uuid.uuid4().hex.encode()


class Client:
    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        server_public_key: bytes | None = None,
        client_keys: tuple[bytes, bytes] | None = None,
        name: str = "restyle_client",
        context: zmq.Context | None = None,
        routing_id: bytes | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.name = name
        self.capabilities: dict[str, Any] | None = None
        self._ctx = context or zmq.Context.instance()
        self._sock = self._ctx.socket(zmq.DEALER)
        # A fixed routing id lets the server keep recognising us across a reconnect; a
        # second process that knows it (a watchdog) can speak for our jobs.
        self.routing_id = routing_id if routing_id is not None else new_routing_id()
        self._sock.setsockopt(zmq.ROUTING_ID, self.routing_id)
        self._sock.setsockopt(zmq.LINGER, 0)
        if server_public_key is not None:
            public, secret = client_keys if client_keys is not None else zmq.curve_keypair()
            self._sock.curve_serverkey = server_public_key
            self._sock.curve_publickey = public
            self._sock.curve_secretkey = secret
        self._sock.connect(endpoint)
        self._pending: deque[ev.Event] = deque()
        self._jobs: set[str] = set()
        self._ping_token = 0
        now = time.monotonic()
        self._last_sent = now
        self._last_heard = now
        self._closed = False

    # --- heartbeat settings come from the server once it has said hello -------------

    @property
    def heartbeat_interval(self) -> float:
        hb = (self.capabilities or {}).get("heartbeat") or {}
        return float(hb.get("interval", DEFAULT_HEARTBEAT_INTERVAL))

    @property
    def heartbeat_timeout(self) -> float:
        hb = (self.capabilities or {}).get("heartbeat") or {}
        return float(hb.get("timeout", DEFAULT_HEARTBEAT_TIMEOUT))

    # --- requests ---------------------------------------------------------------------

    def hello(self, timeout: float = 5.0) -> dict[str, Any]:
        """Ask the server who it is; blocks up to `timeout` seconds.

        Other events that arrive meanwhile are kept for the next `poll()`/`events()`.
        """
        self._send(Hello(client=self.name))
        found = self._wait_for(ev.Capabilities, timeout)
        if found is None:
            raise ServerUnavailable(
                f"no Restyle server answered at {self.endpoint} within {timeout:g} s "
                "(is `restyle serve` running there, and are the keys right?)"
            )
        self.capabilities = found.info
        return found.info

    def submit(self, request: Request) -> str:
        """Send a job; raises `RequestError` for what the server would refuse anyway."""
        request.validate()
        self._check_limits(request)
        if request.job_id in self._jobs:
            raise RequestError(f"job {request.job_id} is already running", code="duplicate_job")
        self._send(Submit(request))
        if not self._jobs:
            self._last_heard = time.monotonic()  # the server's silence counts from now
        self._jobs.add(request.job_id)
        return request.job_id

    def cancel(self, job_id: str) -> None:
        """Ask to stop a job; it still ends with a `Result` (cancelled) holding its picture."""
        self._send(Cancel(job_id))

    def request_status(self) -> None:
        """Ask for a `Status` event (the queue, the running job, cache figures)."""
        self._send(StatusQuery())

    def status(self, timeout: float = 5.0) -> dict[str, Any]:
        self.request_status()
        found = self._wait_for(ev.Status, timeout)
        if found is None:
            raise ServerUnavailable(f"no status from {self.endpoint} within {timeout:g} s")
        return found.report

    def ping(self) -> None:
        self._ping_token += 1
        self._send(Ping(self._ping_token))

    # --- receiving --------------------------------------------------------------------

    def fileno(self) -> int:
        return self._sock.getsockopt(zmq.FD)

    def poll(self) -> list[ev.Event]:
        """Every event pending now, without blocking; keeps the heartbeat going."""
        self._drain()
        self._heartbeat()
        out = list(self._pending)
        self._pending.clear()
        return out

    def events(self, timeout: float | None = None) -> Iterator[ev.Event]:
        """Events until every submitted job has ended.

        `timeout` bounds the wait for each next event; past it, `TimeoutError`.
        """
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        last_event = time.monotonic()
        while True:
            self._drain()
            self._heartbeat()
            while self._pending:
                last_event = time.monotonic()
                yield self._pending.popleft()
            if not self._jobs:
                return
            wait = self.heartbeat_interval
            if timeout is not None:
                left = timeout - (time.monotonic() - last_event)
                if left <= 0:
                    raise TimeoutError(f"no event from {self.endpoint} for {timeout:g} s")
                wait = min(wait, left)
            poller.poll(max(1, int(wait * 1000)))

    def close(self, cancel_jobs: bool = True) -> None:
        """Close the socket; by default first ask the server to cancel this client's jobs.

        Without that the server would compute for nobody until the heartbeat timeout.
        Waits at most half a second for those cancels to leave.
        """
        if self._closed:
            return
        self._closed = True
        linger = 0
        if cancel_jobs:
            for job_id in sorted(self._jobs):
                try:
                    self._sock.send_multipart(encode(Cancel(job_id)), flags=zmq.NOBLOCK)
                    linger = 500
                except zmq.ZMQError:
                    break
        self._sock.close(linger=linger)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals --------------------------------------------------------------------

    def _check_limits(self, request: Request) -> None:
        limits = (self.capabilities or {}).get("limits") or {}
        max_pixels = limits.get("max_pixels")
        if isinstance(max_pixels, int):
            for what, pixels in request.layers():
                if pixels.pixel_count > max_pixels:
                    raise RequestError(
                        f"{what} has {pixels.pixel_count} pixels; the server takes at most {max_pixels} per layer",
                        code="too_large",
                    )
        max_bytes = limits.get("max_message_bytes")
        if isinstance(max_bytes, int):
            size = sum(len(f) for f in encode(Submit(request)))
            if size > max_bytes:
                raise RequestError(
                    f"the request is {size} bytes; the server takes messages of at most {max_bytes} bytes",
                    code="too_large",
                )

    def _send(self, message: Any) -> None:
        try:
            self._sock.send_multipart(encode(message), flags=zmq.NOBLOCK, copy=False)
        except zmq.Again:
            raise ServerUnavailable(f"cannot send to {self.endpoint}: its queue is full") from None
        self._last_sent = time.monotonic()

    def _drain(self) -> None:
        while self._sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
            try:
                frames = self._sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            self._last_heard = time.monotonic()
            try:
                event = decode(frames, SERVER_TYPES)
            except ProtocolError as exc:
                if exc.code == "unknown_type":
                    continue  # a newer minor version's message, or one for servers: ignored, as the spec says
                event = ev.Error(exc.job_id if exc.job_id in self._jobs else None, exc.code, str(exc))
            if isinstance(event, ev.Pong) or not isinstance(event, ev.EVENT_TYPES):
                continue  # pongs only keep the heartbeat
            if ev.is_final(event):
                self._jobs.discard(event.job_id)  # type: ignore[union-attr]
            self._pending.append(event)

    def _heartbeat(self) -> None:
        now = time.monotonic()
        if now - self._last_sent >= self.heartbeat_interval:
            try:
                self.ping()
            except ServerUnavailable:
                pass
        if self._jobs and now - self._last_heard > self.heartbeat_timeout:
            for job_id in sorted(self._jobs):
                self._pending.append(
                    ev.Error(
                        job_id,
                        "server_lost",
                        f"the server at {self.endpoint} stopped answering for "
                        f"{self.heartbeat_timeout:g} s; the job is lost",
                    )
                )
            self._jobs.clear()

    def _wait_for(self, kind: type, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        while True:
            self._drain()
            for event in list(self._pending):
                if isinstance(event, kind):
                    self._pending.remove(event)
                    return event
                if isinstance(event, ev.Error) and event.job_id is None and event.code == "version_mismatch":
                    self._pending.remove(event)
                    raise ServerUnavailable(event.message)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            poller.poll(max(1, int(min(left, 0.5) * 1000)))
