"""The style server: one ROUTER socket, one I/O thread, one or more workers.

The I/O thread owns the socket and every piece of scheduling state (clients, queue,
the running jobs), so nothing here needs a lock.  It hands queued jobs in the fair
queue's order to whichever worker is ready and idle (server/workers.py); the workers
hand messages back through a queue plus an inproc wakeup socket.  A client is known by
its ZeroMQ routing id; everything it may touch (cancel, status details) is limited to
its own jobs.  A job is let go before the message that ends it is queued, so whatever
a client does after reading that message already sees the job gone.
"""

from __future__ import annotations

import logging
import math
import queue
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import zmq
from restyle_client import events as ev
from restyle_client.protocol import (
    CLIENT_TYPES,
    PROTOCOL_VERSION,
    Cancel,
    Hello,
    Ping,
    ProtocolError,
    StatusQuery,
    Submit,
    decode,
    job_id_of,
    quoted,
    read_header,
)
from restyle_client.request import Pixels, RequestError

from core.engine import StyleTransfer

from . import keys as keys_mod
from . import pixels as px
from .config import ServerConfig
from .job_builder import downscaled
from .outbox import Outbox
from .scheduler import FairQueue
from .style_cache import MemoryLRU
from .worker import JobEntry, LocalWorker
from .workers import WORKER_LOST, ClusterError, Worker, WorkerState, fastest, local_workers, summed_cache

log = logging.getLogger("restyle.server")

SERVER_VERSION = "0.1.0"
SHUTDOWN_REASON = "the server is shutting down"
LOST_CLIENTS_REMEMBERED = 256
# Refusals of well-formed messages; every other refusal is a malformed message.
REJECTED = ("too_large", "queue_full", "busy", "duplicate_job", "unknown_job", "no_workers")
LOG_WINDOW = 5.0  # seconds
LOG_BURST = 20  # job events per client and window logged at INFO; the rest are summed up


@dataclass
class LogQuota:
    """How many of one client's job events were logged in this window, and how many not."""

    since: float = -math.inf
    lines: int = 0
    hidden: int = 0


@dataclass
class ClientState:
    last_seen: float
    outbox: Outbox
    jobs: dict[str, JobEntry] = field(default_factory=dict)
    logged: set[str] = field(default_factory=set)  # error codes already logged for this client
    quota: LogQuota = field(default_factory=LogQuota)


class StyleServer:
    """Create, then `serve()` in the thread that should own the socket; `stop()` from anywhere."""

    def __init__(
        self, config: ServerConfig, engine: StyleTransfer | None = None, workers: list[Worker] | None = None
    ) -> None:
        """`engine` serves alone (tests); `workers` are given ready-made; otherwise they come from `config`."""
        self.config = config
        config.validate()
        keys_mod.check_bind(config.bind, config.keys)
        self._server_keys = keys_mod.load_server_keys(config.keys) if config.keys else None
        self._release_cluster = None
        if engine is not None:
            if getattr(engine, "style_cache", None) is None:
                engine.style_cache = MemoryLRU(config.cache_bytes)
            workers = [LocalWorker(f"{engine.device}#0", engine, self._post, config.calibrate)]
        elif workers is None and config.ray is not None:
            try:
                from .ray_workers import ray_workers  # Ray is imported only when asked for
            except ImportError as exc:
                raise ClusterError(f"--ray needs Ray ({exc}): install it beside Restyle, e.g. "
                                   f"{sys.executable} -m pip install 'ray>=2.8' (docs/cluster.md)") from None
            workers, self._release_cluster = ray_workers(config, self._post, self._wake)
        elif workers is None:
            workers = local_workers(config, self._post, lambda: MemoryLRU(config.cache_bytes))
        self.workers: list[Worker] = workers
        self.engine = getattr(workers[0], "engine", None)  # the first in-process engine, if any
        self.endpoint: str | None = None
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._ctx = zmq.Context()
        self._inbox: queue.Queue[tuple[JobEntry, ev.Event]] = queue.Queue()
        self._wake_address = f"inproc://restyle-wake-{id(self)}"
        self._wake_lock = threading.Lock()
        self._waker: zmq.Socket | None = None
        self._clients: dict[bytes, ClientState] = {}
        self._lost: OrderedDict[bytes, list[str]] = OrderedDict()
        self._queue: FairQueue[JobEntry] = FairQueue()
        self._running: dict[int, JobEntry] = {}  # by worker index
        self._counts = {"done": 0, "cancelled": 0, "failed": 0, "rejected": 0, "clients_lost": 0, "malformed": 0}

    # --- public ---------------------------------------------------------------------

    @property
    def device(self) -> str:
        """The workers' device, or their devices joined when they differ (`cuda:0, cuda:1`)."""
        devices = list(dict.fromkeys(str(w.describe().get("device")) for w in self.workers))
        return ", ".join(devices)

    @property
    def weights_label(self) -> str:
        return str(self._first("weights", self.config.weights))

    def _first(self, key: str, default: Any) -> Any:
        """A setting all workers share, as the first worker describes it."""
        engine_value = getattr(self.engine, {"weights": "weights_label"}.get(key, key), None)
        if engine_value is not None:
            return engine_value
        return self.workers[0].describe().get(key, default)

    def capabilities(self, asker: bytes = b"") -> dict[str, Any]:
        described = [w.describe() for w in self.workers]
        return {
            "server": f"restyle {SERVER_VERSION}",
            "protocol": list(PROTOCOL_VERSION),
            "device": self.device,
            "weights": self.weights_label,
            "precision": self._first("precision", self.config.precision),
            "memory_gb": self._first("memory_gb", self.config.memory_gb),
            "limits": self.config.limits.as_dict(),
            "heartbeat": {"interval": self.config.heartbeat_interval, "timeout": self.config.heartbeat_timeout},
            "modes": ["stylize", "draw"],
            "samples": ["u8", "u16", "f32"],
            "speed": fastest([d.get("speed") for d in described]),
            "workers": [self._worker_view(i, d, asker) for i, d in enumerate(described)],
        }

    def _worker_view(self, index: int, described: dict[str, Any], asker: bytes) -> dict[str, Any]:
        """One worker as `capabilities` and `status_report` show it (docs/protocol.md §3.1)."""
        worker = self.workers[index]
        entry = self._running.get(index)
        state = worker.state
        return {
            "name": worker.name,
            "device": described.get("device"),
            "node": described.get("node"),
            "state": "busy" if entry is not None and state is WorkerState.READY else state.value,
            "speed": described.get("speed"),
            "job": None if entry is None else self._running_view(entry, asker),
            "cache": described.get("cache"),
        }

    def stop(self) -> None:
        """Safe from a signal handler: only sets a flag, which the loop reads within 250 ms."""
        self._stop.set()

    def serve(self) -> None:
        """Bind, serve until `stop()`, then cancel everything and tell the clients."""
        auth = None
        router = self._ctx.socket(zmq.ROUTER)
        wake = self._ctx.socket(zmq.PULL)
        wake.bind(self._wake_address)
        try:
            router.setsockopt(zmq.ROUTER_MANDATORY, 1)
            router.setsockopt(zmq.LINGER, 1000)
            router.setsockopt(zmq.SNDHWM, self.config.hwm)
            router.setsockopt(zmq.RCVHWM, self.config.hwm)
            router.setsockopt(zmq.MAXMSGSIZE, self.config.limits.max_message_bytes)
            if self._server_keys is not None:
                public, secret, authorized = self._server_keys
                auth = keys_mod.start_authenticator(self._ctx, authorized)
                router.curve_server = True
                router.curve_publickey = public
                router.curve_secretkey = secret
            router.bind(keys_mod.bindable(self.config.bind))
            self.endpoint = router.getsockopt_string(zmq.LAST_ENDPOINT)
            for worker in self.workers:
                worker.start()
            self.ready.set()
            self._loop(router, wake)
            self._shutdown(router, wake)
        finally:
            router.close(linger=0)
            wake.close(linger=0)
            with self._wake_lock:
                if self._waker is not None:
                    self._waker.close(linger=0)
                    self._waker = None
            if auth is not None:
                auth.stop()
            self._ctx.term()
            if self._release_cluster is not None:
                self._release_cluster()
            self.ready.set()

    # --- worker hand-off --------------------------------------------------------------

    def _post(self, entry: JobEntry, message: ev.Event) -> None:
        self._inbox.put((entry, message))
        self._wake()

    def _wake(self) -> None:
        with self._wake_lock:
            if self._waker is None:
                if self._ctx.closed:
                    return
                self._waker = self._ctx.socket(zmq.PUSH)
                self._waker.setsockopt(zmq.SNDHWM, 1)
                self._waker.setsockopt(zmq.LINGER, 0)
                self._waker.connect(self._wake_address)
            try:
                self._waker.send(b"", zmq.NOBLOCK)
            except zmq.ZMQError:
                pass  # a wakeup is already pending

    # --- the loop ---------------------------------------------------------------------

    def _loop(self, router: zmq.Socket, wake: zmq.Socket) -> None:
        poller = zmq.Poller()
        poller.register(router, zmq.POLLIN)
        poller.register(wake, zmq.POLLIN)
        next_check = time.monotonic()
        while not self._stop.is_set():
            waiting = any(c.outbox for c in self._clients.values())
            ready = dict(poller.poll(20 if waiting else 250))
            if wake in ready:
                while wake.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                    wake.recv(zmq.NOBLOCK)
            if router in ready:
                for _ in range(1000):  # bounded so the worker's news is not starved
                    if not router.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                        break
                    self._receive(router.recv_multipart(zmq.NOBLOCK, copy=True))
            self._drain_worker()
            self._dispatch()
            self._flush(router)
            now = time.monotonic()
            if now >= next_check:
                self._check_heartbeats(now)
                next_check = now + min(0.25, self.config.heartbeat_timeout / 4)

    def _receive(self, frames: list[bytes]) -> None:
        identity, body = frames[0], frames[1:]
        now = time.monotonic()
        client = self._clients.get(identity)
        if client is None:
            outbox = Outbox(self.config.limits.max_unread_bytes, self.config.max_pending_frames)
            client = self._clients[identity] = ClientState(now, outbox)
            for job_id in self._lost.pop(identity, ()):
                self._send(
                    identity,
                    ev.Error(
                        job_id,
                        "client_timeout",
                        f"the server heard nothing from this client for {self.config.heartbeat_timeout:g} s "
                        "and cancelled the job; send pings (call poll()) at the heartbeat interval",
                    ),
                )
        client.last_seen = now
        size = sum(len(f) for f in body)
        if size > self.config.limits.max_message_bytes:
            self._reject(
                identity,
                ProtocolError(
                    "too_large",
                    f"the message is {size} bytes; this server takes at most "
                    f"{self.config.limits.max_message_bytes} bytes per message",
                    _job_id_of(body),
                ),
            )
            return
        try:
            message = decode(body, CLIENT_TYPES)
        except ProtocolError as exc:
            self._reject(identity, exc)
            return
        if isinstance(message, Hello):
            self._send(identity, ev.Capabilities(self.capabilities(identity)), reply=True)
        elif isinstance(message, Ping):
            self._send(identity, ev.Pong(message.token), reply=True)
        elif isinstance(message, StatusQuery):
            self._send(identity, ev.Status(self._status(identity)), reply=True)
        elif isinstance(message, Submit):
            self._submit(identity, client, message)
        elif isinstance(message, Cancel):
            self._cancel(identity, client, message.job_id)

    def _reject(self, identity: bytes, exc: ProtocolError) -> None:
        """Answer the sender; log the first of each kind per client, so a flood cannot fill the log."""
        self._counts["rejected" if exc.code in REJECTED else "malformed"] += 1
        client = self._clients.get(identity)
        first = client is None or exc.code not in client.logged
        if client is not None:
            client.logged.add(exc.code)
        log.log(
            logging.WARNING if first else logging.DEBUG, "client %s: %s: %s", _short(identity), exc.code, exc.message
        )
        job_id = exc.job_id
        if job_id is not None and client is not None and job_id in client.jobs:
            job_id = None  # an error about a resend must not end the job that is running
        self._send(identity, ev.Error(job_id, exc.code, exc.message), reply=True)

    def _submit(self, identity: bytes, client: ClientState, message: Submit) -> None:
        request = message.request
        job_id = request.job_id
        limits = self.config.limits
        if client.outbox.over_budget:
            self._reject(
                identity,
                ProtocolError(
                    "busy",
                    f"the server holds {client.outbox.bytes} bytes of messages this client has not read, over its "
                    f"limit of {limits.max_unread_bytes}; read them, then submit again",
                    job_id,
                ),
            )
            return
        for what, pixels in request.layers():
            if pixels.pixel_count > limits.max_pixels:
                self._reject(
                    identity,
                    ProtocolError(
                        "too_large",
                        f"{what} is {pixels.width}x{pixels.height} = {pixels.pixel_count} pixels; "
                        f"this server takes at most {limits.max_pixels} pixels per layer",
                        job_id,
                    ),
                )
                return
        if all(w.state is WorkerState.LOST for w in self.workers):
            self._reject(
                identity,
                ProtocolError(
                    "no_workers",
                    "no worker can take jobs now: the server has lost every one of them (docs/cluster.md); "
                    "submit again once they are back, which status shows",
                    job_id,
                ),
            )
            return
        if job_id in client.jobs:
            self._reject(identity, ProtocolError("duplicate_job", f"job {job_id} is already queued or running"))
            return
        if len(client.jobs) >= limits.max_jobs_per_client:
            self._reject(
                identity,
                ProtocolError(
                    "queue_full",
                    f"you already have {len(client.jobs)} jobs queued or running; "
                    f"the limit is {limits.max_jobs_per_client} per client",
                    job_id,
                ),
            )
            return
        if self._job_count() >= limits.max_jobs_total:
            self._reject(
                identity,
                ProtocolError(
                    "queue_full",
                    f"the server has {self._job_count()} jobs queued or running, its limit; try again later",
                    job_id,
                ),
            )
            return
        for what, pixels in request.layers():
            try:
                px.check_values(pixels, what)
            except RequestError as exc:
                self._reject(identity, ProtocolError(exc.code, str(exc), job_id))
                return
        entry = JobEntry(identity, request)
        client.jobs[job_id] = entry
        self._queue.push(identity, job_id, entry)
        self._note(
            identity,
            "job %s queued (%dx%d, %s)",
            job_id,
            request.content.width,
            request.content.height,
            request.options.mode,
        )
        entry.position = self._positions()[id(entry)]
        self._send(identity, ev.Accepted(job_id, entry.position))
        self._announce_positions()  # round robin may have put it ahead of other clients' jobs
        self._dispatch()

    def _cancel(self, identity: bytes, client: ClientState, job_id: str) -> None:
        entry = client.jobs.get(job_id)
        if entry is None:
            self._reject(identity, ProtocolError("unknown_job", f"you have no job {quoted(job_id)} queued or running"))
            return
        if entry.worker is not None:
            self.workers[entry.worker].cancel(entry, "cancelled by the client")
            return
        self._queue.remove(identity, job_id)
        del client.jobs[job_id]
        self._counts["cancelled"] += 1
        self._note(identity, "job %s cancelled before it started", job_id)
        self._send(
            identity, ev.Result(job_id, entry.request.content, cancelled=True, reason="cancelled before it started")
        )
        self._announce_positions()

    def _job_count(self) -> int:
        return len(self._queue) + len(self._running)

    # --- scheduling -------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Give the next jobs in fair order to the workers that are ready and idle, first worker first."""
        if self._stop.is_set():
            return
        started = False
        for index, worker in enumerate(self.workers):
            if index in self._running or worker.state is not WorkerState.READY:
                continue
            picked = self._queue.pop()
            if picked is None:
                break
            _, entry = picked
            entry.worker = index
            self._running[index] = entry
            self._note(entry.client, "job %s started on %s", entry.job_id, worker.name)
            worker.give(entry)
            started = True
        if started:
            self._announce_positions()

    def _positions(self) -> dict[int, int]:
        """Running jobs are at 0; a queued job counts the queued jobs ahead of it, plus one
        for the running ones, since it starts when the first worker is free."""
        offset = 1 if self._running else 0
        out = {id(entry): 0 for entry in self._running.values()}
        for index, (_, _, entry) in enumerate(self._queue.planned()):
            out[id(entry)] = index + offset
        return out

    def _announce_positions(self) -> None:
        planned = self._positions()
        for entry in [*self._running.values(), *(e for _, _, e in self._queue.planned())]:
            position = planned[id(entry)]
            if position != entry.position:
                entry.position = position
                self._send(entry.client, ev.Queued(entry.job_id, position))

    def _drain_worker(self) -> None:
        while True:
            try:
                entry, message = self._inbox.get_nowait()
            except queue.Empty:
                return
            entry.note(message)
            if ev.is_final(message):
                if isinstance(message, ev.Error) and message.code == WORKER_LOST:
                    self._send(entry.client, ev.Preview(entry.job_id, _picture_so_far(entry)))
                self._release(entry, message)
            self._send(entry.client, message)

    def _release(self, entry: JobEntry, final: ev.Event) -> None:
        """Let the running job go, so that its client's next message already finds it gone."""
        if entry.worker is not None and self._running.get(entry.worker) is entry:
            del self._running[entry.worker]
        client = self._clients.get(entry.client)
        if client is not None and client.jobs.get(entry.job_id) is entry:
            del client.jobs[entry.job_id]
        if isinstance(final, ev.Result):
            self._counts["cancelled" if final.cancelled else "done"] += 1
        else:
            self._counts["failed"] += 1
        self._note(entry.client, "job %s ended", entry.job_id)

    # --- sending and logging ----------------------------------------------------------

    def _send(self, identity: bytes, message: ev.Event, reply: bool = False) -> None:
        client = self._clients.get(identity)
        if client is not None:
            client.outbox.put(message, reply)

    def _note(self, identity: bytes, what: str, *args: Any) -> None:
        """Log a job event; past LOG_BURST per client in LOG_WINDOW, at debug level and summed up later."""
        client = self._clients.get(identity)
        if client is None:
            log.info("client %s: " + what, _short(identity), *args)
            return
        quota = client.quota
        now = time.monotonic()
        if now - quota.since >= LOG_WINDOW:
            self._summarise(identity, client, now)
            quota.since, quota.lines = now, 0
        quota.lines += 1
        if quota.lines > LOG_BURST:
            quota.hidden += 1
            log.debug("client %s: " + what, _short(identity), *args)
        else:
            log.info("client %s: " + what, _short(identity), *args)

    def _summarise(self, identity: bytes, client: ClientState, now: float) -> None:
        quota = client.quota
        if quota.hidden:
            log.info(
                "client %s: %d more job events in %.0f s, logged at debug level",
                _short(identity),
                quota.hidden,
                now - quota.since,
            )
            quota.hidden = 0

    def _flush(self, router: zmq.Socket) -> None:
        for identity, client in list(self._clients.items()):
            if not client.outbox:
                continue

            def send(frames: list[Any], identity: bytes = identity) -> bool:
                try:
                    router.send_multipart([identity, *frames], zmq.NOBLOCK, copy=False)
                    return True
                except zmq.Again:
                    return False  # its pipe is full: keep (and coalesce) here
                except zmq.ZMQError as exc:
                    if exc.errno == zmq.EHOSTUNREACH:
                        return False  # not connected right now; the heartbeat decides
                    raise

            client.outbox.flush(send)

    # --- heartbeats and shutdown ------------------------------------------------------

    def _check_heartbeats(self, now: float) -> None:
        timeout = self.config.heartbeat_timeout
        for identity, client in list(self._clients.items()):
            if now - client.quota.since >= LOG_WINDOW:
                self._summarise(identity, client, now)
            if now - client.last_seen <= timeout:
                continue
            if client.jobs:
                log.warning(
                    "client %s: silent for %.1f s, cancelling its %d job(s)",
                    _short(identity),
                    now - client.last_seen,
                    len(client.jobs),
                )
                self._counts["clients_lost"] += 1
            self._forget(identity)

    def _forget(self, identity: bytes) -> None:
        client = self._clients.pop(identity, None)
        if client is None:
            return
        self._summarise(identity, client, time.monotonic())
        if client.jobs:
            # Should it only have been frozen, it learns what happened when it speaks again.
            self._lost[identity] = list(client.jobs)
            while len(self._lost) > LOST_CLIENTS_REMEMBERED:
                self._lost.popitem(last=False)
        self._queue.remove_client(identity)
        for entry in client.jobs.values():
            if entry.worker is not None:
                self.workers[entry.worker].cancel(entry, "the client went away")
            else:
                self._counts["cancelled"] += 1
        self._announce_positions()

    def _shutdown(self, router: zmq.Socket, wake: zmq.Socket) -> None:
        log.info("stopping: cancelling %d queued and %d running job(s)", len(self._queue), len(self._running))
        for _, job_id, entry in self._queue.planned():
            self._queue.remove(entry.client, job_id)
            client = self._clients.get(entry.client)
            if client is not None:
                client.jobs.pop(job_id, None)
                self._counts["cancelled"] += 1
                content = entry.request.content
                self._send(entry.client, ev.Result(job_id, content, cancelled=True, reason=SHUTDOWN_REASON))
        for index, entry in self._running.items():
            self.workers[index].cancel(entry, SHUTDOWN_REASON)
        deadline = time.monotonic() + 120.0
        while self._running and time.monotonic() < deadline:
            self._inbox_wait(wake, 0.1)
            self._drain_worker()
            self._flush(router)
        for worker in self.workers:
            worker.stop(timeout=5.0)
        self._drain_worker()
        flush_until = time.monotonic() + 2.0
        while any(c.outbox for c in self._clients.values()) and time.monotonic() < flush_until:
            self._flush(router)
            time.sleep(0.01)
        log.info("stopped")

    def _inbox_wait(self, wake: zmq.Socket, seconds: float) -> None:
        if wake.poll(int(seconds * 1000)):
            while wake.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                wake.recv(zmq.NOBLOCK)

    # --- status -----------------------------------------------------------------------

    def _running_view(self, entry: JobEntry, asker: bytes) -> dict[str, Any]:
        mine = entry.client == asker
        return {
            "mine": mine,
            "job_id": entry.job_id if mine else None,
            "step": entry.step,
            "steps": entry.steps,
            "fraction": round(entry.fraction, 4),
        }

    def _status(self, identity: bytes) -> dict[str, Any]:
        # `running` is one job, as with one worker: the asker's own if it has one running.
        entries = sorted(self._running.values(), key=lambda e: e.client != identity)
        running = self._running_view(entries[0], identity) if entries else None
        described = [w.describe() for w in self.workers]
        queue_view = [
            {"position": i + (1 if running else 0), "mine": c == identity, "job_id": j if c == identity else None}
            for i, (c, j, _) in enumerate(self._queue.planned())
        ]
        asker = self._clients.get(identity)
        return {
            "running": running,
            "queue": queue_view,
            "clients": len(self._clients),
            "jobs": dict(self._counts),
            "unread": {
                "bytes": sum(c.outbox.bytes for c in self._clients.values()),
                "mine": asker.outbox.bytes if asker is not None else 0,
                "budget_bytes": self.config.limits.max_unread_bytes,
            },
            "cache": summed_cache([d.get("cache") for d in described]),
            "device": self.device,
            "weights": self.weights_label,
            "workers": [self._worker_view(i, d, identity) for i, d in enumerate(described)],
        }


def _job_id_of(body: list[bytes]) -> str | None:
    """The job a refused message was about, when its header can be read, so the error can end it."""
    try:
        return job_id_of(read_header(body[0])) if body else None
    except ProtocolError:
        return None


def _picture_so_far(entry: JobEntry) -> Pixels:
    """The newest picture the server received of a job, or its content when none came yet."""
    if entry.picture is not None:
        return entry.picture
    import torch

    array = px.to_array(entry.request.content)
    return downscaled(torch.from_numpy(array).permute(2, 0, 1), entry.request.options.preview_max_size)


def _short(identity: bytes) -> str:
    return identity[-8:].decode("ascii", "replace") if identity.isascii() else identity.hex()[-8:]
