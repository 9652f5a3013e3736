"""The one thread that runs the engine: a job in, protocol messages out.

The GPU (or the CPU cores) can only do one job well at a time, so there is exactly one
worker.  It never touches the ZeroMQ socket, which belongs to the I/O thread; it hands
ready-made frames over through `post`, which never blocks, so a slow client cannot slow
the optimisation.
"""

from __future__ import annotations

import logging
import queue
import threading
import traceback
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from restyle_client import events as ev
from restyle_client.protocol import encode
from restyle_client.request import Request

from core.events import CancelToken
from core.events import Progress as EngineProgress
from core.job import JobError

from .job_builder import build_job, downscaled, full_size_reply
from .outbox import Frames

log = logging.getLogger("restyle.server")

# (kind, client, job_id, frames); kind "done" carries no frames and frees the worker.
Post = Callable[[str, Hashable, str | None, Frames], None]


@dataclass
class JobEntry:
    client: Hashable
    request: Request
    token: CancelToken = field(default_factory=CancelToken)
    position: int = -1
    started: bool = False
    step: int = 0  # written by the worker, read for status replies
    steps: int = 0

    @property
    def job_id(self) -> str:
        return self.request.job_id


class Worker:
    def __init__(self, engine: Any, post: Post) -> None:
        self.engine = engine
        self._post = post
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
        while True:
            entry = self._inbox.get()
            if entry is None:
                return
            try:
                self._run(entry)
            finally:
                self._post("done", entry.client, entry.job_id, [])

    def _send(self, kind: str, entry: JobEntry, message: Any) -> None:
        self._post(kind, entry.client, entry.job_id, encode(message))

    def _run(self, entry: JobEntry) -> None:
        request = entry.request
        options = request.options
        job_id = request.job_id
        try:
            job = build_job(request)
            if options.mode == "draw":
                stream = self.engine.draw(job, cancel=entry.token, image_every=options.preview_every)
            else:
                stream = self.engine.run(
                    job,
                    cancel=entry.token,
                    image_every=options.preview_every,
                    image_interval=options.preview_interval_ms / 1000.0,
                )
            frame_index = 0
            for event in stream:
                if isinstance(event, EngineProgress):
                    entry.step, entry.steps = event.step, event.steps
                    self._send(
                        "progress",
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
                        ),
                    )
                    if event.image is not None:
                        small = downscaled(event.image, options.preview_max_size)
                        if options.mode == "draw":
                            kind, picture = "frame", ev.Frame(job_id, frame_index, small)
                            frame_index += 1
                        else:
                            kind, picture = "preview", ev.Preview(job_id, small)
                        # Encoded by the I/O thread as it sends, so the optimisation does
                        # not wait for it, and never if a newer preview replaces it first.
                        self._post(kind, entry.client, job_id, partial(encode, picture))
                else:
                    pixels = full_size_reply(event.image, request.content)
                    kind = "cancelled" if event.cancelled else "result"
                    self._send(kind, entry, ev.Result(job_id, pixels, event.cancelled, event.reason))
                    return
            raise RuntimeError("the engine ended without a result")
        except JobError as exc:
            self._send("error", entry, ev.Error(job_id, "invalid_job", str(exc)))
        except Exception as exc:  # the server must outlive any failing job
            log.error("job %s failed:\n%s", job_id, traceback.format_exc())
            self._send(
                "error",
                entry,
                ev.Error(job_id, "internal", f"the engine failed on this job: {type(exc).__name__}: {exc}"),
            )
