"""Moving pictures between numpy arrays, tensors and sizes.

The engine works on (1, C, H, W) float tensors in [0, 1]; everything outside it uses
(H, W, C) float32 arrays, which is what image files and pixel frames map onto.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from .job import JobError


def check_image(array: np.ndarray, what: str) -> np.ndarray:
    if not isinstance(array, np.ndarray) or array.ndim != 3 or array.shape[2] not in (3, 4):
        shape = getattr(array, "shape", None)
        raise JobError(f"{what} must be an RGB or RGBA image, got an array of shape {shape}")
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise JobError(f"{what} is empty ({array.shape[1]}x{array.shape[0]} px)")
    if not np.isfinite(array).all():
        raise JobError(f"{what} holds NaN or infinite values")
    return np.clip(array.astype(np.float32, copy=False), 0.0, 1.0)


def to_tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1))).unsqueeze(0).to(device)


def to_array(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().squeeze(0).float().clamp(0, 1).permute(1, 2, 0).cpu().numpy().copy()


def fit_long_side(height: int, width: int, long_side: int) -> tuple[int, int]:
    scale = long_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Area averaging going down (no aliasing), bicubic going up (no blocks)."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    if size[0] <= image.shape[-2] and size[1] <= image.shape[-1]:
        return F.interpolate(image, size=size, mode="area")
    return F.interpolate(image, size=size, mode="bicubic", align_corners=False).clamp(0, 1)
