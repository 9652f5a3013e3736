"""How long each quality preset takes on the connected server, and which one to offer first.

The server measures its own pace on its device and tells it in its capabilities
(`estimate.Speed`); `estimate` turns a layer's size into work and work into seconds.  The first choice is the
largest preset that finishes within a few minutes there, so a CPU-only server starts
at a draft and a GPU server at full quality, and nobody waits an hour by accident.
"""

from __future__ import annotations

from . import estimate
from .settings import DEFAULT_QUALITY, QUALITIES, quality_size

PATIENCE = 300.0  # seconds an artist waits for a first result without thinking twice


def preset_seconds(
    width: int, height: int, speed: estimate.Speed | None, iterations: int | None = None
) -> list[float | None]:
    """Each preset's time for a layer of this size, in QUALITIES' order; None while the speed is unknown."""
    out: list[float | None] = []
    for index in range(len(QUALITIES)):
        size = quality_size(index, width, height)
        out.append(estimate.seconds(estimate.job_work(width, height, size, iterations), speed))
    return out


def default_preset(seconds: list[float | None], patience: float = PATIENCE) -> int:
    """The largest preset done within `patience`; the smallest when none is; the usual
    default while the server's speed is unknown."""
    if any(s is None for s in seconds):
        return DEFAULT_QUALITY
    fitting = [index for index, s in enumerate(seconds) if s is not None and s <= patience]
    return max(fitting) if fitting else 0
