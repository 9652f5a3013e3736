"""How long a job will take on a server, before it starts.

An iteration takes a fixed time plus a time per pixel: at 1024 px it runs 16 times
the pixels of one at 256 px, but not in 16 times the time.  The server measures both
parts on its device and announces them (`capabilities` → `speed`, docs/protocol.md
§3.1), so an editor can say how long each quality takes there before the artist
presses Start.

The coarse-to-fine schedule is the engine's (core/schedule.py), written again here
because editors cannot import the engine; tests/client/test_estimate.py holds the two
to the same sizes and iterations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MIN_SIDE = 16
DEFAULT_MIN_SIZE = 128
DEFAULT_EARLY_ITERATIONS = 50
DEFAULT_FINAL_ITERATIONS = 100


def fit_long_side(height: int, width: int, long_side: int) -> tuple[int, int]:
    scale = long_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def ladder(height: int, width: int, min_size: int | None = None) -> list[tuple[int, int]]:
    """The stages' sizes (height, width), small to large, as the engine runs them."""
    long_side = max(height, width)
    smallest = min(min_size or DEFAULT_MIN_SIZE, long_side)
    sides = [long_side]
    while sides[-1] / 2 >= smallest and min(fit_long_side(height, width, round(sides[-1] / 2))) >= MIN_SIDE:
        sides.append(round(sides[-1] / 2))
    return [fit_long_side(height, width, side) for side in reversed(sides)]


def iterations_per_stage(stages: int, iterations: int | None) -> list[int]:
    if iterations is None:
        return [DEFAULT_EARLY_ITERATIONS] * (stages - 1) + [DEFAULT_FINAL_ITERATIONS]
    return [iterations] * stages


@dataclass(frozen=True)
class Work:
    """A job's iterations, and its pixels summed over every iteration."""

    iterations: int
    pixels: float


@dataclass(frozen=True)
class Speed:
    """A server's measured pace: seconds per iteration, plus seconds per megapixel."""

    iteration_s: float
    megapixel_s: float

    @classmethod
    def parse(cls, value: Any) -> Speed | None:
        """The `speed` of a `capabilities` message; None when absent, not yet measured or
        not numbers (a server is trusted with nothing, its figures included)."""
        if not isinstance(value, dict):
            return None
        figures = [value.get("iteration_s"), value.get("megapixel_s")]
        if not all(isinstance(f, (int, float)) and not isinstance(f, bool) and 0 <= f < 1e6 for f in figures):
            return None
        if figures[0] == figures[1] == 0:
            return None
        return cls(float(figures[0]), float(figures[1]))


def job_work(width: int, height: int, size: int | None = None, iterations: int | None = None) -> Work:
    """A stylize job's work for a layer of this size, stage by stage as the engine runs it."""
    if size is not None:
        height, width = fit_long_side(height, width, size)
    sizes = ladder(height, width)
    counts = iterations_per_stage(len(sizes), iterations)
    return Work(sum(counts), float(sum(h * w * n for (h, w), n in zip(sizes, counts, strict=True))))


def seconds(work: Work, speed: Speed | None) -> float | None:
    """How long `work` takes at a server's `speed`; None when the speed is unknown."""
    if speed is None:
        return None
    return work.iterations * speed.iteration_s + work.pixels / 1e6 * speed.megapixel_s
