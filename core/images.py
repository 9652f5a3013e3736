"""Moving pictures between numpy arrays, tensors and sizes.

The engine works on (1, C, H, W) float tensors in [0, 1]; everything outside it uses
(H, W, C) float32 arrays, which is what image files and pixel frames map onto.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F

from .job import JobError

# Four poolings sit between the input and relu5_1, so a side under 16 px leaves the
# deepest style layer with no pixels at all.
MIN_SIDE = 16
MAX_SIDE = 65535  # the largest side an editor's layer or an image file can have


def check_image(array: np.ndarray, what: str) -> np.ndarray:
    if not isinstance(array, np.ndarray) or array.ndim != 3 or array.shape[2] not in (3, 4):
        shape = getattr(array, "shape", None)
        raise JobError(f"{what} must be an RGB or RGBA image, got an array of shape {shape}")
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise JobError(f"{what} is empty ({array.shape[1]}x{array.shape[0]} px)")
    array = array.astype(np.float32, copy=False)
    # The extremes answer both questions without a temporary as large as the picture
    # (NaN propagates through min and max); the picture is copied only when it needs
    # clipping, since the engine makes its own copy anyway.
    low, high = (float(array.min()), float(array.max())) if array.size else (0.0, 0.0)
    if not (math.isfinite(low) and math.isfinite(high)):
        raise JobError(f"{what} holds NaN or infinite values")
    return array if 0.0 <= low and high <= 1.0 else np.clip(array, 0.0, 1.0)


def to_tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1))).unsqueeze(0).to(device)


def to_array(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().squeeze(0).float().clamp(0, 1).permute(1, 2, 0).cpu().numpy().copy()


def output_size(height: int, width: int, long_side: int | None) -> tuple[int, int]:
    """The size a job works at, refused here with the size named when it is not usable."""
    if long_side is None:
        if min(height, width) < MIN_SIDE:
            raise JobError(f"the picture is {width}x{height} px; both sides must be at least {MIN_SIDE} px")
        return height, width
    if isinstance(long_side, bool) or not isinstance(long_side, int) or not MIN_SIDE <= long_side <= MAX_SIDE:
        raise JobError(f"size must be a whole number of px from {MIN_SIDE} to {MAX_SIDE}, got {long_side}")
    size = fit_long_side(height, width, long_side)
    if min(size) < MIN_SIDE:
        raise JobError(
            f"at size {long_side} the {width}x{height} px picture would be {size[1]}x{size[0]} px; "
            f"both sides must be at least {MIN_SIDE} px, so give a larger size"
        )
    return size


def fit_long_side(height: int, width: int, long_side: int) -> tuple[int, int]:
    scale = long_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize(image: torch.Tensor, size: tuple[int, int], up: str = "bicubic") -> torch.Tensor:
    """Area averaging going down (no aliasing); bicubic going up (no blocks), or
    bilinear for masks and alpha, whose soft edges must not ring."""
    size = (int(size[0]), int(size[1]))
    if tuple(image.shape[-2:]) == size:
        return image
    if size[0] <= image.shape[-2] and size[1] <= image.shape[-1]:
        return F.interpolate(image, size=size, mode="area")
    return F.interpolate(image, size=size, mode=up, align_corners=False).clamp_(0, 1)
