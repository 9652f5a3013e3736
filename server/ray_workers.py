"""Workers on Ray: one actor per GPU, or a given number of CPU actors, each with a warm engine.

Ray places the actors, restarts one whose process dies, and streams each job's messages
back through a streaming generator; this module only connects, makes the actors, and
keeps one driver thread per actor that feeds it jobs and forwards what comes back.  A
job whose actor dies ends with `worker_lost` (the server sends the picture it last
received first), the actor is restarted by Ray, and every other job goes on.  This is
the only module that imports Ray, and only `restyle serve --ray` imports it.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import ray
from restyle_client import events as ev
from restyle_client.request import Request

from core.events import CancelToken

from .config import ServerConfig
from .style_cache import MemoryLRU
from .worker import JobEntry, Post, job_events, measure_pace
from .workers import WORKER_LOST, ClusterError, Worker, WorkerState, pace_dict

log = logging.getLogger("restyle.server")

PROBE_TIMEOUT = 5.0  # seconds to open a TCP connection to the cluster's address
BACKPRESSURE = 64  # messages an actor may run ahead of the server before it waits
RETRY = 1.0  # seconds between attempts to reach an actor that is restarting or lost
HEALTH_EVERY = 5.0  # seconds between checks of an idle actor, so a lost cluster shows before a job fails
START_TIMEOUT = 600.0  # an actor's first start on a machine may download VGG19's weights


class EngineActor:
    """Runs inside a Ray worker process: one engine, kept warm across jobs."""

    def __init__(self, settings: dict[str, Any]) -> None:
        import torch

        from core.engine import StyleTransfer

        if settings["threads"]:
            torch.set_num_threads(settings["threads"])
        self.engine = StyleTransfer(
            weights=settings["weights"], device=settings["device"], precision=settings["precision"],
            style_cache=MemoryLRU(settings["cache_bytes"]), memory_gb=settings["memory_gb"],
        )
        if settings["calibrate"]:
            measure_pace(self.engine)
        self._tokens: dict[str, CancelToken] = {}
        self._lock = threading.Lock()

    def describe(self) -> dict[str, Any]:
        context = ray.get_runtime_context()
        return {
            "device": str(self.engine.device),
            "node": f"{socket.gethostname()} ({context.get_node_id()[:8]})",
            "speed": pace_dict(self.engine.pace.pace),
            "cache": self.engine.style_cache.stats(),
            "weights": self.engine.weights_label,
            "precision": self.engine.precision,
            "memory_gb": self.engine.memory_gb,
            "pid": os.getpid(),
        }

    def run(self, key: str, request: Request) -> Iterator[ev.Event]:
        """A Ray streaming generator: each message reaches the server as soon as it is made."""
        try:
            yield from job_events(self.engine, request, self._token(key))
        finally:
            with self._lock:
                self._tokens.pop(key, None)

    def cancel(self, key: str, reason: str) -> None:
        """Between two iterations the job ends with its current picture, as in-process."""
        self._token(key).cancel(reason)

    def _token(self, key: str) -> CancelToken:
        with self._lock:  # a cancel may arrive before its job has started here
            return self._tokens.setdefault(key, CancelToken())


class RayWorker:
    """The server's side of one actor: a thread that gives it jobs and forwards their news."""

    def __init__(self, name: str, actor: Any, post: Post, wake: Callable[[], None], timeout: float) -> None:
        self.name = name
        self._actor = actor
        self._post = post
        self._wake = wake
        self._timeout = timeout
        self._state = WorkerState.STARTING
        self._described: dict[str, Any] = {}
        self._keys: dict[int, str] = {}
        self._current: JobEntry | None = None
        self._dropped: set[int] = set()  # jobs cancelled while they waited for the actor to return
        self._lock = threading.Lock()
        self._inbox: queue.Queue[JobEntry | None] = queue.Queue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"restyle-ray-{name}", daemon=True)

    @property
    def state(self) -> WorkerState:
        return self._state

    def start(self) -> None:
        self._thread.start()

    def wait_ready(self) -> dict[str, Any]:
        """At start: the actor's description once it has built its engine, or ClusterError."""
        try:
            self._described = ray.get(self._actor.describe.remote(), timeout=START_TIMEOUT)
        except Exception as exc:
            raise ClusterError(f"worker {self.name} did not start in {START_TIMEOUT:g} s: {_why(exc)}") from None
        self._state = WorkerState.READY
        return self._described

    def give(self, entry: JobEntry) -> None:
        self._keys[id(entry)] = f"{entry.job_id}-{uuid.uuid4().hex}"
        self._inbox.put(entry)

    def cancel(self, entry: JobEntry, reason: str) -> None:
        entry.token.cancel(reason)
        with self._lock:
            waiting = self._current is not entry and self._state is not WorkerState.READY
            if waiting:  # given just before its actor went away: end it here, as it was
                self._dropped.add(id(entry))
        if waiting:
            self._post(entry, ev.Result(entry.job_id, entry.request.content, cancelled=True, reason=reason))
            return
        key = self._keys.get(id(entry))
        if key is not None:
            self._actor.cancel.remote(key, reason)

    def describe(self) -> dict[str, Any]:
        return {"device": None, "node": None, "speed": None, "cache": None, **self._described}

    def stop(self, timeout: float | None = None) -> bool:
        self._stopping.set()
        self._inbox.put(None)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        while True:
            try:
                if not self._serve_one():
                    return
            except Exception:  # this thread must not die: its worker would look ready for ever
                log.error("worker %s:\n%s", self.name, traceback.format_exc())
                with self._lock:
                    self._state = WorkerState.STARTING
                self._await_actor()

    def _serve_one(self) -> bool:
        """Run the next job, or check the idle actor; False once the server stops."""
        try:
            entry = self._inbox.get(timeout=min(HEALTH_EVERY, self._timeout))
        except queue.Empty:
            if not self._refresh():
                with self._lock:
                    self._state = WorkerState.STARTING
                self._await_actor()
            return True
        if entry is None:
            return False
        with self._lock:
            dropped = id(entry) in self._dropped
            self._dropped.discard(id(entry))
            self._current = None if dropped else entry
        try:
            if not dropped:
                self._run(entry)
        finally:
            self._current = None
            self._keys.pop(id(entry), None)
        return True

    def _run(self, entry: JobEntry) -> None:
        key = self._keys[id(entry)]
        ended = False
        try:
            stream = self._actor.run.options(
                num_returns="streaming", _generator_backpressure_num_objects=BACKPRESSURE
            ).remote(key, entry.request)
            for ref in stream:
                message = ray.get(ref)
                ended = ev.is_final(message)
                if ended:
                    self._refresh()  # its cache and pace, before it is free for the next job
                self._post(entry, message)
                if ended:
                    break  # the job is over here, whenever Ray tells the stream's end
        except ray.exceptions.RayError as exc:
            if ended:
                return
            with self._lock:
                self._state = WorkerState.STARTING  # before the error frees it: no job is given meanwhile
            log.warning("worker %s lost job %s: %s", self.name, entry.job_id, _why(exc))
            self._post(entry, ev.Error(
                entry.job_id, WORKER_LOST,
                f"the worker running this job ({self.name}) was lost: {_why(exc)}; the picture so far came "
                "as the last preview; submit the job again to run it on a worker that is up",
            ))
            self._await_actor()
            return
        except Exception as exc:  # anything else still ends the job, never silence
            if not ended:
                log.error("worker %s, job %s:\n%s", self.name, entry.job_id, traceback.format_exc())
                self._post(entry, ev.Error(entry.job_id, "internal", f"the worker failed on this job: {_why(exc)}"))
            return
        if not ended:
            self._post(entry, ev.Error(entry.job_id, "internal", "the worker ended the job without a result"))

    def _refresh(self) -> bool:
        """Its cache and pace as they are now; False when it does not answer."""
        try:
            self._described = ray.get(self._actor.describe.remote(), timeout=min(RETRY * 5, self._timeout))
        except Exception:  # whatever Ray raises, the actor did not answer
            return False
        return True

    def _await_actor(self) -> None:
        """Until Ray has restarted the actor (which builds its engine again), or the server stops."""
        lost_after = time.monotonic() + self._timeout
        while not self._stopping.is_set():
            try:
                self._described = ray.get(self._actor.describe.remote(), timeout=min(RETRY * 5, self._timeout))
            except Exception as exc:  # whatever Ray raises, the actor did not answer
                if self._state is not WorkerState.LOST and time.monotonic() > lost_after:
                    log.warning("worker %s cannot be reached: %s; retrying every %g s", self.name, _why(exc), RETRY)
                    self._state = WorkerState.LOST
                self._stopping.wait(RETRY)
                continue
            log.info("worker %s is back on %s", self.name, self._described.get("node"))
            with self._lock:
                self._state = WorkerState.READY
            self._wake()
            return


def ray_workers(
    config: ServerConfig, post: Post, wake: Callable[[], None]
) -> tuple[list[Worker], Callable[[], None]]:
    """Connect (or start a local instance), make the actors and wait for their engines;
    returns the workers and what disconnects from Ray.  ClusterError when it cannot serve."""
    _connect(config)
    try:
        workers = _make_workers(config, post, wake)
        for worker in workers:
            worker.wait_ready()
    except BaseException:
        ray.shutdown()
        raise
    return workers, ray.shutdown


def _connect(config: ServerConfig) -> None:
    # The driver would otherwise exit when the cluster's head is gone for a minute; the
    # server must keep answering and refuse jobs until its workers return.
    os.environ.setdefault("RAY_gcs_rpc_server_reconnect_timeout_s", str(365 * 24 * 3600))
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if config.ray == "auto":
        address, where = "local", "a local Ray instance"
        if config.ray_object_store_bytes is not None:
            options["object_store_memory"] = config.ray_object_store_bytes
    else:
        address, where = config.ray, f"the Ray cluster at {config.ray}"
        _probe(address)
    try:
        ray.init(address=address, **options)  # in this thread: Ray's driver breaks if it starts in another
    except Exception as exc:
        raise ClusterError(
            f"cannot reach {where}: {_why(exc)}; check the address, and that RAY_AUTH_MODE and its token "
            "are the cluster's (docs/cluster.md)"
        ) from None


def _probe(address: str) -> None:
    """A GCS address that takes no connection fails here in seconds, where Ray would retry for minutes."""
    if "://" in address:
        return  # ray://: Ray Client decides
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"--ray takes 'auto' or the head's HOST:PORT (as `ray start --head` prints), not {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=PROBE_TIMEOUT).close()
    except OSError as exc:
        raise ClusterError(
            f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}); "
            "start its head with `ray start --head` or check the address"
        ) from None


def _make_workers(config: ServerConfig, post: Post, wake: Callable[[], None]) -> list[RayWorker]:
    settings = {
        "weights": config.weights, "precision": config.precision, "memory_gb": config.memory_gb,
        "cache_bytes": config.cache_bytes, "calibrate": config.calibrate,
    }
    if config.ray_cpu_workers is not None:
        count, resources = config.ray_cpu_workers, {"num_cpus": config.ray_cpus_per_worker, "num_gpus": 0}
        settings.update(device="cpu", threads=config.ray_cpus_per_worker)
        have, need = int(ray.cluster_resources().get("CPU", 0)), count * config.ray_cpus_per_worker
        if need > have:
            raise ClusterError(f"{count} workers of {config.ray_cpus_per_worker} cores need {need} CPUs; "
                               f"the Ray cluster has {have}: give fewer --ray-cpu-workers")
    else:
        count = int(ray.cluster_resources().get("GPU", 0))
        if count == 0:
            raise ClusterError("the Ray cluster has no GPUs; give --ray-cpu-workers N to run N workers on its CPUs")
        resources = {"num_cpus": 1, "num_gpus": 1}
        settings.update(device="cuda", threads=None)  # Ray shows each actor only its own GPU
    actor_class = ray.remote(**resources, max_restarts=-1, max_task_retries=0, max_concurrency=2)(EngineActor)
    workers = []
    for index in range(count):
        actor = actor_class.options(name=None, scheduling_strategy="SPREAD").remote(settings)
        workers.append(RayWorker(f"ray-{settings['device']}#{index}", actor, post, wake, config.ray_timeout))
    return workers


def _why(exc: BaseException) -> str:
    """The first line of an exception, which is what a person needs of Ray's long ones."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
