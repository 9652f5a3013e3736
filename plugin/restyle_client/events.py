"""What the server tells a client, as plain objects the editor plugin can act on.

`Result` and `Error` (with a job id) end a job; everything else is news about it.
A cancelled job still ends with a `Result` holding the picture as it was, so nothing
a user made is lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .request import Pixels


@dataclass
class Accepted:
    job_id: str
    position: int  # jobs ahead of this one, counting the one running; 0: running now


@dataclass
class Queued:
    job_id: str
    position: int


@dataclass
class Progress:
    job_id: str
    stage: int
    stages: int
    iteration: int
    iterations: int
    step: int
    steps: int
    losses: dict[str, float]
    elapsed: float
    eta: float | None
    blocks: int = 1  # the picture is run in this many blocks, each iteration: 1 when it fits whole
    # The share of the job's work done, 0..1: what a progress bar shows.  Work counts
    # pixels, so the last stage's iterations weigh more than the first's.
    fraction: float = 0.0
    size: tuple[int, int] | None = None  # (height, width) of this stage; None from older servers


@dataclass
class Preview:
    job_id: str
    pixels: Pixels


@dataclass
class Frame:
    job_id: str
    index: int
    pixels: Pixels


@dataclass
class Result:
    job_id: str
    pixels: Pixels
    cancelled: bool = False
    reason: str = ""


@dataclass
class Error:
    job_id: str | None
    code: str
    message: str


@dataclass
class Capabilities:
    """The server's answer to hello: who it is and what it accepts."""

    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Status:
    report: dict[str, Any] = field(default_factory=dict)


@dataclass
class Pong:
    token: int = 0


Event = Accepted | Queued | Progress | Preview | Frame | Result | Error | Capabilities | Status | Pong
EVENT_TYPES = (Accepted, Queued, Progress, Preview, Frame, Result, Error, Capabilities, Status, Pong)


def is_final(event: Event) -> bool:
    """True when the event ends its job: the client stops tracking that job."""
    if isinstance(event, Result):
        return True
    return isinstance(event, Error) and event.job_id is not None
