"""How long a job will take on a server, before it starts.

A job's work is the pixels its iterations run through the network: an iteration at
1024 px is 16 of one at 256 px.  The server measures how much work it does per second
on its device and announces it (`capabilities` → `speed`), so an editor can say how
long each quality takes there before the artist presses Start.

The coarse-to-fine schedule is the engine's (core/schedule.py), written again here
because editors cannot import the engine; tests/client/test_estimate.py holds the two
to the same sizes and iterations.
"""

from __future__ import annotations

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


def job_work(width: int, height: int, size: int | None = None, iterations: int | None = None) -> float:
    """A stylize job's work, in pixels through the network, for a layer of this size."""
    if size is not None:
        height, width = fit_long_side(height, width, size)
    sizes = ladder(height, width)
    counts = iterations_per_stage(len(sizes), iterations)
    return float(sum(h * w * n for (h, w), n in zip(sizes, counts, strict=True)))


def seconds(work: float, speed: float | None) -> float | None:
    """Seconds for `work` at a server's `speed` (work per second); None when unknown."""
    if not speed or speed <= 0:
        return None
    return work / speed
