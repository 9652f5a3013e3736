"""The one thread that runs the engine: a job in, protocol messages out.

The GPU (or the CPU cores) can only do one job well at a time, so there is exactly one
worker.  It never touches the ZeroMQ socket, which belongs to the I/O thread; it hands
each message over through `post`, which never blocks, so a slow client cannot slow the
optimisation.  Every job ends with exactly one final message (result, cancelled or
error), posted last: the I/O thread lets the job go when it takes that message, before
sending it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from restyle_client import events as ev
from restyle_client.request import Request

from core.events import CancelToken
from core.events import Progress as EngineProgress
from core.job import JobError

from .job_builder import build_job, downscaled, full_size_reply

log = logging.getLogger("restyle.server")


@dataclass
class JobEntry:
    client: bytes  # the routing id of the client that submitted it
    request: Request
    token: CancelToken = field(default_factory=CancelToken)
    position: int = -1
    step: int = 0  # written by the worker, read for status replies
    steps: int = 0
    fraction: float = 0.0

    @property
    def job_id(self) -> str:
        return self.request.job_id


Post = Callable[[JobEntry, ev.Event], None]


class Worker:
    def __init__(self, engine: Any, post: Post, calibrate: bool = True) -> None:
        self.engine = engine
        self._post = post
        self._calibrate = calibrate
        self._inbox: queue.Queue[JobEntry | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="restyle-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def give(self, entry: JobEntry) -> None:
        self._inbox.put(entry)

    def stop(self, timeout: float | None = None) -> bool:
        self._inbox.put(None)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        if self._calibrate:
            self._measure_pace()
        while True:
            entry = self._inbox.get()
            if entry is None:
                return
            self._post(entry, self._run(entry))

    def _measure_pace(self) -> None:
        """Before the first job, so that the first editor to connect can say how long
        each quality takes here; a job that arrives meanwhile waits about a second."""
        started = time.perf_counter()
        try:
            self.engine.calibrate()
        except Exception:  # an estimate is a nicety; serving is not
            log.warning("could not measure this device's pace:\n%s", traceback.format_exc())
            return
        pace = self.engine.pace.pace
        log.info("measured this device in %.1f s: %.3f s an iteration plus %.3f s a megapixel",
                 time.perf_counter() - started, pace.per_iteration, pace.per_pixel * 1e6)

    def _run(self, entry: JobEntry) -> ev.Result | ev.Error:
        """Stream the job's news through `post`; return its final message, whatever happens."""
        job_id = entry.job_id
        try:
            return self._stream(entry)
        except JobError as exc:
            return ev.Error(job_id, "invalid_job", str(exc))
        except Exception as exc:  # the server must outlive any failing job
            log.error("job %s failed:\n%s", job_id, traceback.format_exc())
            return ev.Error(job_id, "internal", f"the engine failed on this job: {type(exc).__name__}: {exc}")

    def _stream(self, entry: JobEntry) -> ev.Result:
        request = entry.request
        options = request.options
        job_id = request.job_id
        job = build_job(request)
        if options.mode == "draw":
            stream = self.engine.draw(job, cancel=entry.token, image_every=options.preview_every)
        else:
            stream = self.engine.run(job, cancel=entry.token, image_every=options.preview_every)
        throttle = PreviewThrottle(options.preview_interval_ms / 1000.0)
        frame_index = 0
        for event in stream:
            if not isinstance(event, EngineProgress):
                pixels = full_size_reply(event.image, request.content)
                return ev.Result(job_id, pixels, event.cancelled, event.reason)
            entry.step, entry.steps, entry.fraction = event.step, event.steps, event.fraction
            self._post(
                entry,
                ev.Progress(
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
                ),
            )
            if event.image is None:
                continue
            if options.mode == "draw":  # the frames are the drawing: each one counts
                self._post(entry, ev.Frame(job_id, frame_index, downscaled(event.image, options.preview_max_size)))
                frame_index += 1
            elif throttle.due():
                self._post(entry, ev.Preview(job_id, downscaled(event.image, options.preview_max_size)))
        raise RuntimeError("the engine ended without a result")


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
