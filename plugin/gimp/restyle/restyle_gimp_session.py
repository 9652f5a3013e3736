"""One job's conversation with the server, from submit to the final event.

The plug-in blocks in here while the server works: GIMP runs each plug-in call in its
own process and has no event loop for us to return to.  What the user should see is
pushed to a `Sink` (the plug-in's GIMP side), so the conversation itself needs no GIMP.
"""

from __future__ import annotations

import select
from dataclasses import dataclass
from typing import Protocol

from restyle_client import events as ev
from restyle_client.client import Client
from restyle_client.request import Pixels, Request
from restyle_gimp_job import PluginError, progress_fraction, progress_text, queue_text


class Sink(Protocol):
    def status(self, text: str, fraction: float | None) -> None: ...

    def frame(self, index: int, pixels: Pixels) -> None: ...


@dataclass
class Outcome:
    result: Pixels
    cancelled: bool
    frames: int


def next_events(client: Client, timeout: float) -> list:
    """Everything pending, waiting up to `timeout` seconds for something to arrive.

    The client's descriptor is edge-triggered, so drain first and only then sleep on it.
    """
    pending = client.poll()
    if pending:
        return pending
    select.select([client.fileno()], [], [], timeout)
    return client.poll()


def run_job(client: Client, request: Request, sink: Sink, *, keep_frames: bool) -> Outcome:
    """Submit and follow one job; raises PluginError when the job ends in an error.

    Polling at least once per heartbeat interval keeps the client's heartbeat going, so
    the server knows we are alive - and notices when GIMP has killed us (its Cancel), and
    cancels the job.  The client itself reports a server gone silent as an error event.
    """
    job_id = client.submit(request)
    sink.status("Restyle: sending the job", 0.0)
    frames = 0
    while True:
        for event in next_events(client, min(1.0, client.heartbeat_interval)):
            if getattr(event, "job_id", None) not in (job_id, None):
                continue
            if isinstance(event, ev.Error):
                raise PluginError(f"Restyle did not finish: {event.message} ({event.code})")
            if isinstance(event, ev.Result):
                return Outcome(event.pixels, event.cancelled, frames)
            if isinstance(event, (ev.Accepted, ev.Queued)):
                sink.status(queue_text(event.position), None)
            elif isinstance(event, ev.Progress):
                sink.status(
                    progress_text(event.stage, event.stages, event.iteration, event.iterations, event.eta),
                    progress_fraction(event.step, event.steps),
                )
            elif isinstance(event, ev.Frame) and keep_frames:
                sink.frame(event.index, event.pixels)
                frames += 1
