"""One connection per server endpoint, shared by every document and window of this Krita.

Krita's GUI thread must never wait on the network.  Events arrive through a
QSocketNotifier on the client's ZeroMQ descriptor; that descriptor is edge-triggered,
so every activation (and a zero-delay timer after every send) calls `Client.poll()`,
which drains all that is pending.  Asking "is a server there?" blocks by nature, so it
runs on a short-lived thread with its own socket, and reports back through a signal.
Starting a server is the shared `restyle_client.launcher.Launch`, polled from a timer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from PyQt5.QtCore import QObject, QSocketNotifier, QTimer, pyqtSignal
from restyle_client import events as ev
from restyle_client import launcher, texts
from restyle_client.client import Client, ServerUnavailable
from restyle_client.estimate import Speed
from restyle_client.request import Request

from .server_state import ServerState

PROBE_TIMEOUT = 2.0
PROBE_EVERY_MS = 500  # while a started server is loading
RECHECK_AFTER = 5.0

Handler = Callable[[object], None]


class Connection(QObject):
    stateChanged = pyqtSignal(object, str)  # ServerState, the text to show
    _probed = pyqtSignal(int, bool, str, object)

    def __init__(self, endpoint: str, server_config: launcher.ServerConfig) -> None:
        super().__init__()
        self.endpoint = endpoint
        self.server_config = server_config
        self.state = ServerState.UNKNOWN
        self.detail = ""
        self.speed: Speed | None = None  # the pace the server measured on its device
        self._client: Client | None = None
        self._notifier: QSocketNotifier | None = None
        self._handlers: dict[str, Handler] = {}
        self._waiting: list[tuple[Callable[[], None], Callable[[str], None]]] = []
        self._probe_serial = 0
        self._launch: launcher.Launch | None = None
        self._seen_at = 0.0
        self._heartbeat = QTimer(self)
        self._heartbeat.setInterval(1000)
        self._heartbeat.timeout.connect(self._drain)
        self._probed.connect(self._on_probed)

    # --- reaching a server -----------------------------------------------------------

    def ensure_server(self, ready: Callable[[], None], failed: Callable[[str], None]) -> None:
        """Call `ready` once a server answers, else `failed(reason)`; never blocks."""
        # A server seen moments ago is trusted; otherwise look again (it may have stopped).
        recent = time.monotonic() - self._seen_at < RECHECK_AFTER
        if self.state is ServerState.CONNECTED and self._client is not None and recent:
            ready()
            return
        self._waiting.append((ready, failed))
        if self.state not in (ServerState.CHECKING, ServerState.STARTING):
            if self.state is not ServerState.CONNECTED:
                self._set_state(ServerState.CHECKING, texts.looking_text(self.endpoint))
            else:
                self.state = ServerState.CHECKING
            self._probe()

    def check(self) -> None:
        """Refresh the connection state for display, without starting anything."""
        if self.state in (ServerState.CHECKING, ServerState.STARTING):
            return
        self._set_state(ServerState.CHECKING, texts.looking_text(self.endpoint))
        self._probe()

    def refresh(self) -> None:
        """Ask a connected server again, quietly: it learns its speed from the jobs it runs."""
        if self.state is ServerState.CONNECTED:
            self._probe()

    def _probe(self) -> None:
        self._probe_serial += 1
        serial = self._probe_serial
        endpoint = self.endpoint

        def work() -> None:
            try:
                with Client(endpoint, name="restyle-krita-probe") as probe:
                    info = probe.hello(timeout=PROBE_TIMEOUT)
                label = str(info.get("weights") or info.get("device") or "")
                self._probed.emit(serial, True, label, info)
            except ServerUnavailable as exc:
                self._probed.emit(serial, False, str(exc), None)
            except Exception as exc:  # a broken endpoint string, a zmq error
                self._probed.emit(serial, False, f"{type(exc).__name__}: {exc}", None)

        threading.Thread(target=work, name="restyle-probe", daemon=True).start()

    def _on_probed(self, serial: int, ok: bool, detail: str, info: object) -> None:
        if serial != self._probe_serial:
            return
        if ok:
            self._launch = None
            self._seen_at = time.monotonic()
            self.speed = Speed.parse(info.get("speed")) if isinstance(info, dict) else None
            self._connect(info if isinstance(info, dict) else None)
            self._set_state(ServerState.CONNECTED, texts.connected_text(self.endpoint, detail))
            waiting, self._waiting = self._waiting, []
            for ready, _ in waiting:
                ready()
        elif self._launch is not None:
            self._follow(self._launch.poll(answered=False))
        elif not self._waiting:
            self._set_state(ServerState.UNAVAILABLE, texts.no_answer_text(self.endpoint))
        else:
            self._launch = launcher.Launch(self.endpoint, self.server_config)
            self._follow(self._launch.start())

    def _follow(self, state: launcher.LaunchState) -> None:
        """Ask again a moment later while the started server loads; report a failed start."""
        launch = self._launch
        if launch is None:
            return
        if state is launcher.LaunchState.FAILED:
            self._launch = None
            self._fail(launch.error)
            return
        if self.state is not ServerState.STARTING:
            self._set_state(ServerState.STARTING, launch.text)
        QTimer.singleShot(PROBE_EVERY_MS, self._probe)

    def _fail(self, reason: str) -> None:
        self._set_state(ServerState.UNAVAILABLE, reason)
        waiting, self._waiting = self._waiting, []
        for _, failed in waiting:
            failed(reason)

    def _set_state(self, state: ServerState, detail: str) -> None:
        self.state, self.detail = state, detail
        self.stateChanged.emit(state, detail)

    # --- jobs -------------------------------------------------------------------------

    def _connect(self, info: dict | None) -> None:
        if self._client is None:
            self._client = Client(self.endpoint, name="restyle-krita")
            self._notifier = QSocketNotifier(self._client.fileno(), QSocketNotifier.Read, self)
            self._notifier.activated.connect(self._drain)
        if info is not None:
            # The server's heartbeat settings, learnt by the probe: the client pings to match.
            self._client.capabilities = info
        self._heartbeat.setInterval(max(100, min(1000, int(self._client.heartbeat_interval * 500))))

    def submit(self, request: Request, handler: Handler) -> str:
        """Send a job; its events go to `handler` until it ends. Raises RequestError."""
        assert self._client is not None, "submit only after ensure_server() said ready"
        job_id = self._client.submit(request)
        self._handlers[job_id] = handler
        self._heartbeat.start()
        QTimer.singleShot(0, self._drain)
        return job_id

    def cancel(self, job_id: str) -> None:
        if self._client is not None and job_id in self._handlers:
            self._client.cancel(job_id)
            QTimer.singleShot(0, self._drain)

    def _drain(self, *_args: object) -> None:
        client = self._client
        if client is None:
            return
        for event in client.poll():
            job_id = getattr(event, "job_id", None)
            if isinstance(event, ev.Error) and job_id is None:
                self._set_state(ServerState.CONNECTED, f"The server said: {event.message}")
                continue
            handler = self._handlers.get(job_id) if job_id else None
            if handler is None:
                continue
            if ev.is_final(event):
                del self._handlers[job_id]
                if isinstance(event, ev.Error) and event.code == "server_lost":
                    self._drop_client(event.message)
            handler(event)
        if not self._handlers:
            self._heartbeat.stop()

    def _drop_client(self, reason: str) -> None:
        """The server vanished: forget the socket, so the next job looks (and starts) afresh."""
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier = None
        if self._client is not None:
            lost = [j for j in self._handlers]
            self._client.close()
            self._client = None
            for job_id in lost:
                handler = self._handlers.pop(job_id)
                handler(ev.Error(job_id, "server_lost", reason))
        self._set_state(ServerState.UNAVAILABLE, reason)

    def close(self) -> None:
        self._heartbeat.stop()
        if self._notifier is not None:
            self._notifier.setEnabled(False)
        if self._client is not None:
            self._client.close()
            self._client = None


_connections: dict[str, Connection] = {}


def get(endpoint: str) -> Connection:
    """The one connection to `endpoint` in this Krita, made on first use."""
    connection = _connections.get(endpoint)
    if connection is None:
        connection = Connection(endpoint, launcher.load())
        _connections[endpoint] = connection
    return connection
