"""How a job fits its memory budget: whole, or in blocks, and with which optimiser state.

A job's peak memory is a fixed part, a part that grows with the picture (the picture
itself, its gradient, the content's features, the optimiser's state) and the network's
activations, which grow with the pixels it runs over at once.  Run whole, a picture
costs all three at full size; run in blocks (core/blocked.py), the activations follow
the largest block instead.  So the engine runs a picture whole when that fits the
budget, as fast as ever, and otherwise in the largest blocks that fit.  On the CPU, where
even the full-size part does not fit (or would leave only small blocks), it goes to
files mapped a part at a time (core/spill.py), and only the job's own pictures grow with
its size.

The figures are peaks measured on the CPU in fp32 (bench/engine_bench.py, `--memory`):
the whole-picture fit 1.41 GB at 512 px, 4.33 GB at 1024 px and 13.98 GB at 2048 px for
two iterations, and the blocked fit in bench/README.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch

from .blocks import GRID, largest_crop, total_crop
from .job import JobError
from .optimize import LBFGS_HISTORY
from .spill import BAND_BYTES
from .vgg import channels, stride

FIXED_BYTES = 1.0e9
BYTES_PER_PIXEL = 3200.0  # everything, for a picture run whole
# Beyond its history, L-BFGS's peak held 44 more RGB vectors' worth: torch's working
# vectors, the stage's best picture, and heap that glibc keeps.  Measured: a 2048 px job
# with the full history of 50 pairs peaked at 21.66 GB, against 13.88 GB at two iterations.
LBFGS_WORKING_VECTORS = 44

# Run in blocks: the network's activations per pixel of the block's crop, and what is
# kept at the picture's full size beside the optimiser's state, in RGB vectors: the
# picture, its gradient, the stage's best picture, the content (the job's array and the
# engine's copy), the upsampled picture at a stage's start, and heap that glibc keeps
# between blocks of different sizes.  Fitted to blocked jobs measured in fresh processes
# (bench/blocks_bench.py, two iterations).  A block's forward and backward pass costs
# about what a whole picture's does per pixel: 3050 B per crop pixel, from 3072 px with
# the full-size state in files (trimmed heap, so nothing else grows): 9 blocks of
# 1184 px crops peaked at 4.77 GB; 4096 px in 28 blocks of 752 x 1264 px crops peaked
# at 3.87 to 4.01 GB in three runs, up to 3130 B per crop pixel (the heap's layout
# varies from run to run), so the plan counts 3200.  4096 px with Adam in 96 blocks of 368 x 512 px in
# memory peaked at 3.63 GB, which leaves about 75 B per pixel of the picture besides
# Adam's state, the content's features included; the plan's 140 keeps room for L-BFGS's
# heap, which fragments more.
BLOCKED_FIXED_BYTES = 0.5e9
BLOCK_BYTES_PER_PIXEL = 3200.0
FULL_SIZE_VECTORS = 9
STYLE_VECTORS = 1  # a style resized to the stage: made in place, hashed in place
# torch's L-BFGS keeps vectors besides its pairs (the flat gradient, the previous one,
# the direction, their temporaries), and glibc keeps some of what it frees as pairs come
# and go.  An A4 page (8.7 Mpx) in 10 blocks with 11 pairs peaked at 8.66 GB where 12
# such vectors gave an estimate of 8.00 GB: 6.3 more.
LBFGS_BLOCKED_VECTORS = 19
ADAM_VECTORS = 2
VECTOR_BYTES_PER_PIXEL = 3 * 4  # one RGB float32 picture
# Fewer pairs than this and Adam's two vectors are the better use of the memory.  At
# 256 px L-BFGS with 10 pairs ended 2.5% above 50 pairs after 150 iterations (Adam 2.0%),
# but after 20 iterations every L-BFGS history was 14% below Adam, and large pictures
# run few iterations at full size (bench/README.md), so the history gives way first.
MIN_LBFGS_HISTORY = 10
# A stage whose full-size state is in files holds in memory the job's input pictures,
# the bands a full-size step walks through (core/spill.py), and at any time either a
# block's activations or one full-size picture being made: the upsampled start of the
# stage (RGB, with the previous stage's picture beside it) or the result (RGBA).
SPILL_BAND_BYTES = 2 * BAND_BYTES  # a band of each buffer, and a step's temporaries
SPILL_PICTURE_BYTES_PER_PIXEL = 18.0
# Adam's state in files costs writing it out and reading it back once an iteration; a
# stage keeps it in memory unless files let its blocks run this much fewer pixels.
SPILL_GAIN = 1.25
GB = 1e9


@dataclass(frozen=True)
class Plan:
    """How one stage runs: whole (tile None) or in tiles, with which optimiser."""

    tile: tuple[int, int] | None
    blocks: int
    optimizer: str
    history: int
    need: float  # estimated peak bytes
    margin: int = 0  # each block's halo, in pixels
    spilled: bool = False  # the full-size state is kept in files (core/spill.py)
    compact: bool = False  # L-BFGS's pairs in float16 (optimize.CompactLBFGS)

    @property
    def blocked(self) -> bool:
        return self.tile is not None


def estimate_bytes(height: int, width: int, optimizer: str | None = None) -> float:
    """The whole picture run at once: the network's activations, plus what the optimiser
    keeps per pixel: L-BFGS two RGB vectors per history entry and its working copies
    (7.3 GB at 2048 px), Adam two moments, and nothing for a picture that is only looked
    at (a style)."""
    return FIXED_BYTES + (BYTES_PER_PIXEL + _state_vectors(optimizer, LBFGS_HISTORY, whole=True) * VECTOR_BYTES_PER_PIXEL) * height * width


def _state_vectors(optimizer: str | None, history: int, whole: bool = False, compact: bool = False) -> int:
    if optimizer is None:
        return 0
    if optimizer == "adam":
        return ADAM_VECTORS
    pair = 1 if compact else 2  # a pair in float16 holds what one float32 vector does
    return pair * history + (LBFGS_WORKING_VECTORS if whole else LBFGS_BLOCKED_VECTORS)


def _full_size_bytes(pixels: int, optimizer: str | None, content_layers: Iterable[str]) -> float:
    """What a blocked stage keeps at the picture's full size, besides the optimiser's
    state; a picture only looked at (a style) is kept once, at the stage's size."""
    if optimizer is None:
        return STYLE_VECTORS * VECTOR_BYTES_PER_PIXEL * pixels
    features = sum(channels(layer) * 4 / stride(layer) ** 2 for layer in content_layers)
    return (FULL_SIZE_VECTORS * VECTOR_BYTES_PER_PIXEL + features) * pixels


def blocked_bytes(
    height: int, width: int, tile: tuple[int, int], margin: int, optimizer: str | None,
    history: int = LBFGS_HISTORY, content_layers: Iterable[str] = ("relu4_2",), compact: bool = False,
) -> float:
    """Peak bytes of a stage run in tiles of tile = (height, width) owned pixels."""
    pixels = height * width
    return (BLOCKED_FIXED_BYTES + _full_size_bytes(pixels, optimizer, content_layers)
            + _state_vectors(optimizer, history, compact=compact) * VECTOR_BYTES_PER_PIXEL * pixels
            + BLOCK_BYTES_PER_PIXEL * largest_crop(height, width, *tile, margin))


def _best_tile(height: int, width: int, margin: int, crop_pixels: float) -> tuple[int, int] | None:
    """The tile whose grid costs the least network work (halos included) while its
    largest crop holds at most `crop_pixels`: large, and near square."""
    best: tuple[int, tuple[int, int]] | None = None
    for tile_height in range(GRID, _ceil_grid(height) + GRID, GRID):
        crop_height = min(height, tile_height + 2 * margin)
        widest = math.floor(crop_pixels / crop_height)
        if widest >= width:
            tile_width = _ceil_grid(width)
        else:
            tile_width = (widest - 2 * margin) // GRID * GRID
        if tile_width < GRID:
            break  # taller tiles only leave less width
        work = total_crop(height, width, tile_height, tile_width, margin)
        if best is None or work < best[0]:
            best = (work, (tile_height, tile_width))
    return None if best is None else best[1]


def _ceil_grid(length: int) -> int:
    return math.ceil(length / GRID) * GRID


def count_blocks(height: int, width: int, tile: tuple[int, int]) -> int:
    return math.ceil(height / tile[0]) * math.ceil(width / tile[1])


def spilled_bytes(height: int, width: int, tile: tuple[int, int], margin: int, inputs: float) -> float:
    """Peak bytes of a stage run in tiles with its full-size state in files."""
    running = SPILL_BAND_BYTES + BLOCK_BYTES_PER_PIXEL * largest_crop(height, width, *tile, margin)
    return BLOCKED_FIXED_BYTES + inputs + max(SPILL_PICTURE_BYTES_PER_PIXEL * height * width, running)


def plan(
    height: int, width: int, budget: float | None, optimizer: str | None, margin: int,
    content_layers: Iterable[str] = ("relu4_2",), inputs: float | None = None,
) -> Plan:
    """Whole when it fits; else the largest blocks that fit, after the optimiser's state.

    L-BFGS's history is sized to the budget: half of what is left beside the smallest
    blocks, at most LBFGS_HISTORY pairs, kept in float16 (twice as many in the same
    bytes) where fewer float32 pairs would fit.  Below MIN_LBFGS_HISTORY pairs the stage runs
    Adam, whose state is two vectors.  When even that does not fit and the engine can
    keep the full-size state in files (`inputs`: the bytes of the job's pictures it holds
    in memory meanwhile), the stage runs so, with Adam.  A job is refused only when no
    way fits, and the refusal says what budget would do.
    """
    whole = estimate_bytes(height, width, optimizer)
    if budget is None or whole <= budget:
        return Plan(None, 1, optimizer or "", LBFGS_HISTORY, whole, margin)
    content_layers = tuple(content_layers)
    smallest = (GRID, GRID)
    history, compact = LBFGS_HISTORY, False
    if optimizer == "lbfgs":
        spare = budget - blocked_bytes(height, width, smallest, margin, optimizer, 0, content_layers)
        vector = VECTOR_BYTES_PER_PIXEL * height * width
        history = min(LBFGS_HISTORY, int(spare / 2 / (2 * vector)))
        if history < LBFGS_HISTORY:  # squeezed: float16 pairs, twice as many in the same bytes
            history, compact = min(LBFGS_HISTORY, int(spare / 2 / vector)), True
        if history < MIN_LBFGS_HISTORY:
            optimizer, history, compact = "adam", 0, False
    floor = blocked_bytes(height, width, smallest, margin, optimizer, history, content_layers, compact)
    smallest_crop = BLOCK_BYTES_PER_PIXEL * largest_crop(height, width, *smallest, margin)
    in_memory = None
    if floor <= budget:
        tile = _best_tile(height, width, margin, (budget - floor + smallest_crop) / BLOCK_BYTES_PER_PIXEL)
        assert tile is not None  # the smallest tile fits, as checked above
        need = blocked_bytes(height, width, tile, margin, optimizer, history, content_layers, compact)
        in_memory = Plan(tile, count_blocks(height, width, tile), optimizer or "", history, need, margin,
                         compact=compact)
        if optimizer == "lbfgs":
            return in_memory  # its history is worth more than larger blocks
    spilled = None
    if inputs is not None and optimizer is not None and spilled_bytes(height, width, smallest, margin, inputs) <= budget:
        room = budget - BLOCKED_FIXED_BYTES - inputs - SPILL_BAND_BYTES
        tile = _best_tile(height, width, margin, room / BLOCK_BYTES_PER_PIXEL)
        assert tile is not None
        need = spilled_bytes(height, width, tile, margin, inputs)
        spilled = Plan(tile, count_blocks(height, width, tile), "adam", 0, need, margin, spilled=True)
    if in_memory is not None and (spilled is None or _work(in_memory, height, width) <= SPILL_GAIN * _work(spilled, height, width)):
        return in_memory
    if spilled is not None:
        return spilled
    need = smallest_budget(height, width, optimizer, margin, content_layers, inputs)
    raise JobError(
        f"{width}x{height} px needs at least {need / GB:.2f} GB even in the smallest blocks, but the memory "
        f"budget is {budget / GB:.2f} GB; give a budget of {math.ceil(need / GB * 10) / 10:.1f} GB or more, "
        "or choose a smaller size"
    )


def _work(plan: Plan, height: int, width: int) -> int:
    assert plan.tile is not None
    return total_crop(height, width, *plan.tile, plan.margin)


def smallest_budget(
    height: int, width: int, optimizer: str | None, margin: int, content_layers: Iterable[str] = ("relu4_2",),
    inputs: float | None = None,
) -> float:
    """The least memory a picture can run in: the smallest blocks, beside Adam's state,
    or beside the job's pictures alone where the state can go to files."""
    fallback = "adam" if optimizer else None
    in_memory = blocked_bytes(height, width, (GRID, GRID), margin, fallback, 0, content_layers)
    if inputs is None or optimizer is None:
        return in_memory
    return min(in_memory, spilled_bytes(height, width, (GRID, GRID), margin, inputs))


def available_bytes(device: torch.device) -> float | None:
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return float(free)
    if device.type == "cpu":
        try:
            with open("/proc/meminfo") as f:
                for line in f:
                    if line.startswith("MemAvailable:"):
                        return float(line.split()[1]) * 1024
        except OSError:
            return None
    return None


def budget_bytes(device: torch.device, *limits_gb: float | None) -> float | None:
    """The memory a job may use: the smallest budget given, and never more than the
    device has free; None where neither is known (Apple's MPS reports no free memory)."""
    given = [g * GB for g in limits_gb if g is not None]
    free = available_bytes(device)
    known = given + ([free] if free is not None else [])
    return min(known) if known else None


def check_budget(memory_gb: float | None) -> None:
    if memory_gb is not None and not (isinstance(memory_gb, (int, float)) and math.isfinite(memory_gb) and memory_gb > 0):
        raise JobError(f"the memory budget must be a positive number of GB, got {memory_gb}")
