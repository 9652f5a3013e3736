"""One job's conversation with the server, from submit to the final event.

The plug-in blocks in here while the server works: GIMP runs each plug-in call in its
own process and has no event loop for us to return to.  What the user should see is
pushed to a `Sink` (the plug-in's GIMP side), so the conversation itself needs no GIMP.
"""

from __future__ import annotations

import select
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from restyle_client import events as ev
from restyle_client import launcher, texts
from restyle_client.client import Client, ServerUnavailable
from restyle_client.request import Pixels, Request
from restyle_gimp_job import PluginError

HELLO_TIMEOUT = 3.0


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


def reach_server(client: Client, sink: Sink, *, with_keys: bool, config: launcher.ServerConfig | None = None) -> None:
    """Make sure a server answers `client`, starting the recorded one if nobody does.

    A server started with --keys is somebody's deliberate setup (often on another
    machine), so with key files nothing is started: the user is told instead.
    """
    try:
        client.hello(timeout=HELLO_TIMEOUT)
        return
    except ServerUnavailable:
        if with_keys:
            raise PluginError(
                f"No Restyle server answers at {client.endpoint} (or it does not accept your key "
                "files). Start one with `restyle serve --keys`, or correct the server in the Restyle dialog."
            ) from None
    try:
        launcher.start_and_wait(
            client.endpoint,
            config if config is not None else launcher.load(),
            launcher.hello_answers,
            report=lambda text: sink.status(text, None),
        )
    except launcher.LaunchError as exc:
        raise PluginError(str(exc)) from None
    try:
        client.hello(timeout=HELLO_TIMEOUT)
    except ServerUnavailable as exc:
        raise PluginError(f"The Restyle server started, then stopped answering: {exc}") from None


class Guard(Protocol):
    def finish(self) -> None: ...


Watch = Callable[[str], Guard]  # a job id to its watchdog


def run_job(client: Client, request: Request, sink: Sink, *, keep_frames: bool, watch: Watch | None = None) -> Outcome:
    """Submit and follow one job; raises PluginError when the job ends in an error.

    GIMP's Cancel kills this process, so nothing here can tell the server.  `watch`
    starts a watchdog process before the job is sent, which cancels it on the server
    the moment this process dies; however the job ends here, the watchdog is sent away.
    Polling at least once per heartbeat interval also keeps the heartbeat going.  The
    client itself reports a server gone silent as an error event.
    """
    guard = None
    if watch is not None:
        try:
            guard = watch(request.job_id)
        except OSError:
            pass  # no watchdog: the server's heartbeat timeout still stops an orphaned job
    try:
        return _follow(client, request, sink, keep_frames)
    finally:
        if guard is not None:
            guard.finish()


def _follow(client: Client, request: Request, sink: Sink, keep_frames: bool) -> Outcome:
    job_id = client.submit(request)
    sink.status(texts.SENT, 0.0)
    frames = 0
    while True:
        for event in next_events(client, min(1.0, client.heartbeat_interval)):
            if getattr(event, "job_id", None) not in (job_id, None):
                continue
            if isinstance(event, ev.Error):
                raise PluginError(texts.failed_text(event.message))
            if isinstance(event, ev.Result):
                return Outcome(event.pixels, event.cancelled, frames)
            news = texts.news(event)
            if news is not None:
                sink.status(news.text, news.fraction)
            elif isinstance(event, ev.Frame) and keep_frames:
                sink.frame(event.index, event.pixels)
                frames += 1
