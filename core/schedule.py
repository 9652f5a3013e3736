"""The coarse-to-fine ladder: which sizes a job runs at, and for how many iterations.

Small stages are cheap and settle the large structures; each later stage starts from
the previous result upsampled, so the full-size stage only has to add detail.  The early
stages settle within about 50 iterations, and more there did not change where the
full-size stage started or ended (docs/engine.md, "Schedule").
"""

from __future__ import annotations

from collections.abc import Sequence

from .images import MIN_SIDE, fit_long_side
from .job import JobError

DEFAULT_MIN_SIZE = 128
# Iterations of the last stage and of every earlier one, when the job does not say.
DEFAULT_FINAL_ITERATIONS = 100
DEFAULT_EARLY_ITERATIONS = 50
MAX_ITERATIONS = 100_000


def ladder(
    height: int, width: int, min_size: int | None = None, stages: int | None = None
) -> list[tuple[int, int]]:
    """Sizes (height, width) from small to the output size, each twice the last."""
    if min(height, width) < MIN_SIDE:
        raise JobError(f"the picture is {width}x{height} px; both sides must be at least {MIN_SIDE} px")
    long_side = max(height, width)
    smallest = min(min_size or DEFAULT_MIN_SIZE, long_side)
    if smallest < 1:
        raise JobError(f"min_size must be positive, got {min_size}")
    sides = [long_side]
    while (
        sides[-1] / 2 >= smallest
        and min(fit_long_side(height, width, round(sides[-1] / 2))) >= MIN_SIDE
        and (stages is None or len(sides) < stages)
    ):
        sides.append(round(sides[-1] / 2))
    if stages is not None:
        if stages < 1:
            raise JobError(f"stages must be at least 1, got {stages}")
        sides = sides[:stages]
    return [fit_long_side(height, width, s) for s in reversed(sides)]


def iterations_per_stage(count: int, iterations: int | Sequence[int] | None) -> list[int]:
    if iterations is None:
        return [DEFAULT_EARLY_ITERATIONS] * (count - 1) + [DEFAULT_FINAL_ITERATIONS]
    if isinstance(iterations, int):
        per_stage = [iterations] * count
    else:
        per_stage = [int(i) for i in iterations]
        if len(per_stage) != count:
            raise JobError(f"{len(per_stage)} iteration counts given for {count} stages")
    for i in per_stage:
        if not 0 <= i <= MAX_ITERATIONS:
            raise JobError(f"iterations must be between 0 and {MAX_ITERATIONS}, got {i}")
    return per_stage
