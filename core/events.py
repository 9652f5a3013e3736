"""What the engine tells its caller while it works, and how the caller stops it.

The engine is a generator of these events; the CLI draws a progress bar from them and
the server turns them into protocol messages.  Nothing here knows about either.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import torch


class CancelToken:
    """Set from any thread; the engine checks it between iterations."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def cancel(self, reason: str = "cancelled") -> None:
        self.reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


@dataclass
class Progress:
    stage: int  # 1-based
    stages: int
    size: tuple[int, int]  # (height, width) of this stage
    iteration: int  # 1-based, within the stage
    iterations: int  # of this stage
    step: int  # 1-based, over the whole job
    steps: int
    losses: dict[str, float]  # per term ("content", "style", "tv") and "total"
    elapsed: float  # seconds since the job started
    # The current picture, composited like the result, when the caller asked for it at
    # this step: a (channels, height, width) float tensor in [0, 1] left on the engine's
    # device, so that a caller can downscale it there before copying it off.
    image: torch.Tensor | None = None
    blocks: int = 1  # how many blocks each iteration runs in: 1 when the picture fits whole
    # The job's work, done and in all, each iteration weighed by what one of its size
    # takes on this device (core/pace.py): at 1024 px several of one at 256 px.
    work: float = 0.0
    total_work: float = 0.0

    @property
    def fraction(self) -> float:
        """How much of the job is done, 0..1, by work rather than by iterations."""
        if self.total_work > 0:
            return min(1.0, self.work / self.total_work)
        return min(1.0, self.step / self.steps) if self.steps > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left, assuming the work left goes at the speed the work so far went.

        Counting work, not iterations, keeps this right across the stages: the last
        stage's iterations cost many times the first's.
        """
        done = self.fraction
        if done <= 0:
            return None
        return self.elapsed / done * (1.0 - done)


@dataclass
class Result:
    image: np.ndarray  # (height, width, channels) float32 in [0, 1], channels as the content
    cancelled: bool
    losses: dict[str, float] = field(default_factory=dict)
    elapsed: float = 0.0
    steps: int = 0
    reason: str = ""


Event = Progress | Result
