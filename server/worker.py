"""One job on one engine, and the in-process worker thread that runs jobs one by one.

A device can only do one job well at a time, so each worker runs one job at a time; the
server has one worker per device it was given (server/workers.py), and Ray workers run
the same `job_events` inside an actor (server/ray_workers.py).  A worker never touches
the ZeroMQ socket, which belongs to the I/O thread; it hands each message over through
`post`, which never blocks, so a slow client cannot slow the optimisation.  Every job
ends with exactly one final message (result, cancelled or error), posted last and only
after the engine has let the job go: the I/O thread frees the job and the worker when it
takes that message, before sending it.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
import traceback
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

from restyle_client import events as ev
from restyle_client.request import Pixels, Request

from core.events import CancelToken
from core.events import Progress as EngineProgress
from core.job import JobError

from .job_builder import build_job, downscaled, full_size_reply
from .workers import WorkerState, pace_dict

log = logging.getLogger("restyle.server")


@dataclass
class JobEntry:
    """A job as the I/O thread sees it; only that thread writes it."""

    client: bytes  # the routing id of the client that submitted it
    request: Request
    token: CancelToken = field(default_factory=CancelToken)
    position: int = -1
    worker: int | None = None  # index of the worker running it
    step: int = 0
    steps: int = 0
    fraction: float = 0.0
    picture: Pixels | None = None  # the newest preview or frame, given back should its worker be lost

    @property
    def job_id(self) -> str:
        return self.request.job_id

    def note(self, message: ev.Event) -> None:
        """Keep what status replies and a lost worker's error need from a job's news."""
        if isinstance(message, ev.Progress):
            self.step, self.steps, self.fraction = message.step, message.steps, message.fraction
        elif isinstance(message, (ev.Preview, ev.Frame)):
            self.picture = message.pixels


Post = Callable[[JobEntry, ev.Event], None]


def job_events(engine: Any, request: Request, token: CancelToken) -> Iterator[ev.Event]:
    """The job's protocol messages, ending with exactly one final one, whatever happens."""
    final = yield from _news(engine, request, token)
    yield final


def _news(engine: Any, request: Request, token: CancelToken) -> Generator[ev.Event, None, ev.Result | ev.Error]:
    job_id = request.job_id
    try:
        return (yield from _stream(engine, request, token))
    except JobError as exc:
        return ev.Error(job_id, "invalid_job", str(exc))
    except Exception as exc:  # the server must outlive any failing job
        log.error("job %s failed:\n%s", job_id, traceback.format_exc())
        return ev.Error(job_id, "internal", f"the engine failed on this job: {type(exc).__name__}: {exc}")


def _stream(engine: Any, request: Request, token: CancelToken) -> Generator[ev.Event, None, ev.Result]:
    options = request.options
    job_id = request.job_id
    job = build_job(request)
    if options.mode == "draw":
        stream = engine.draw(job, cancel=token, image_every=options.preview_every)
    else:
        stream = engine.run(job, cancel=token, image_every=options.preview_every)
    throttle = PreviewThrottle(options.preview_interval_ms / 1000.0)
    frame_index = 0
    with contextlib.closing(stream):  # the engine lets the job go before its end is told
        for event in stream:
            if not isinstance(event, EngineProgress):
                pixels = full_size_reply(event.image, request.content)
                return ev.Result(job_id, pixels, event.cancelled, event.reason)
            yield ev.Progress(
                job_id,
                event.stage,
                event.stages,
                event.iteration,
                event.iterations,
                event.step,
                event.steps,
                dict(event.losses),
                event.elapsed,
                event.eta,
                event.blocks,
                event.fraction,
                event.size,
            )
            if event.image is None:
                continue
            if options.mode == "draw":  # the frames are the drawing: each one counts
                yield ev.Frame(job_id, frame_index, downscaled(event.image, options.preview_max_size))
                frame_index += 1
            elif throttle.due():
                yield ev.Preview(job_id, downscaled(event.image, options.preview_max_size))
    raise RuntimeError("the engine ended without a result")


def measure_pace(engine: Any) -> None:
    """Before the first job, so that the first editor to connect can say how long
    each quality takes here; a job that arrives meanwhile waits about a second."""
    started = time.perf_counter()
    try:
        engine.calibrate()
    except Exception:  # an estimate is a nicety; serving is not
        log.warning("could not measure this device's pace:\n%s", traceback.format_exc())
        return
    pace = engine.pace.pace
    log.info("measured %s in %.1f s: %.3f s an iteration plus %.3f s a megapixel", engine.device,
             time.perf_counter() - started, pace.per_iteration, pace.per_pixel * 1e6)


class LocalWorker:
    """A thread of this process with its own engine (and so its own style cache)."""

    node = "local"

    def __init__(self, name: str, engine: Any, post: Post, calibrate: bool = True) -> None:
        self.name = name
        self.engine = engine
        self._post = post
        self._calibrate = calibrate
        self._inbox: queue.Queue[JobEntry | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name=f"restyle-worker-{name}", daemon=True)

    @property
    def state(self) -> WorkerState:
        return WorkerState.READY  # a job given while it calibrates waits in its inbox

    def start(self) -> None:
        self._thread.start()

    def give(self, entry: JobEntry) -> None:
        self._inbox.put(entry)

    def cancel(self, entry: JobEntry, reason: str) -> None:
        entry.token.cancel(reason)

    def describe(self) -> dict[str, Any]:
        cache = getattr(self.engine, "style_cache", None)
        meter = getattr(self.engine, "pace", None)
        return {
            "device": str(self.engine.device),
            "node": self.node,
            "speed": pace_dict(meter.pace if meter is not None else None),
            "cache": cache.stats() if cache is not None and hasattr(cache, "stats") else None,
        }

    def stop(self, timeout: float | None = None) -> bool:
        self._inbox.put(None)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        if self._calibrate:
            measure_pace(self.engine)
        while True:
            entry = self._inbox.get()
            if entry is None:
                return
            for message in job_events(self.engine, entry.request, entry.token):
                self._post(entry, message)


class PreviewThrottle:
    """`preview_interval_ms` as a client means it: at least this long between two previews,
    so a slow connection gets a bounded number per second, however fast the engine."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last = -float("inf")

    def due(self) -> bool:
        now = time.monotonic()
        if now - self._last < self.interval:
            return False
        self._last = now
        return True
