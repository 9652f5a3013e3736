"""Refusing sizes that cannot fit, before the machine starts swapping or the GPU fails.

The estimate is linear in pixels, fitted to the peak memory of jobs measured on the CPU
in fp32 (bench/engine_bench.py, two iterations, VGG19 to relu5_1): 1.41 GB at 512 px,
4.33 GB at 1024 px and 13.98 GB at 2048 px; the optimiser's own state is added on top.
"""

from __future__ import annotations

import torch

from .job import JobError
from .optimize import LBFGS_HISTORY

FIXED_BYTES = 1.0e9
BYTES_PER_PIXEL = 3200.0


# Beyond its history, L-BFGS's peak held 44 more RGB vectors' worth: torch's working
# vectors, the stage's best picture, and heap that glibc keeps.  Measured: a 2048 px job
# with the full history of 50 pairs peaked at 21.66 GB, against 13.88 GB at two iterations.
LBFGS_WORKING_VECTORS = 44


def estimate_bytes(height: int, width: int, optimizer: str | None = None) -> float:
    """The network's activations, plus what the optimiser keeps per pixel: L-BFGS two
    RGB vectors per history entry and its working copies (7.3 GB at 2048 px), Adam two
    moments, and nothing for a picture that is only looked at (a style)."""
    lbfgs = 2 * LBFGS_HISTORY + LBFGS_WORKING_VECTORS
    vectors = {"lbfgs": lbfgs, "adam": 2, None: 0}.get(optimizer, lbfgs)
    return FIXED_BYTES + (BYTES_PER_PIXEL + vectors * 3 * 4) * height * width


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


def check_fits(height: int, width: int, device: torch.device, optimizer: str | None = None) -> None:
    need = estimate_bytes(height, width, optimizer)
    have = available_bytes(device)
    if have is not None and need > have:
        raise JobError(
            f"{width}x{height} px needs about {need / 1e9:.1f} GB on {device.type}, but only "
            f"{have / 1e9:.1f} GB is free; choose a smaller size"
        )
