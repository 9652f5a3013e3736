"""Region masks: checked, brought to each layer's size, and used to composite.

Following Gatys et al. 2017 ("Controlling Perceptual Factors"), a mask guides the Gram
matrices of every style layer; it is resized to each layer's feature map rather than
applied to the image only, so the style statistics really come from inside the region.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .job import JobError


def check_mask(mask: np.ndarray, content_shape: tuple[int, ...], index: int) -> np.ndarray:
    if not isinstance(mask, np.ndarray) or mask.ndim != 2:
        raise JobError(f"mask {index + 1} must be a single-channel image, got shape {getattr(mask, 'shape', None)}")
    if mask.shape != tuple(content_shape[:2]):
        raise JobError(
            f"mask {index + 1} is {mask.shape[1]}x{mask.shape[0]} px but the content is "
            f"{content_shape[1]}x{content_shape[0]} px; masks must match the content's size"
        )
    if not np.isfinite(mask).all():
        raise JobError(f"mask {index + 1} holds NaN or infinite values")
    return np.clip(mask.astype(np.float32, copy=False), 0.0, 1.0)


def coverage(masks: Sequence[torch.Tensor | None]) -> torch.Tensor | None:
    """How much each pixel is styled, 0 to 1; None when some region covers everything."""
    if not masks or any(m is None for m in masks):
        return None
    total = torch.zeros_like(masks[0])
    for m in masks:
        total = total + m  # type: ignore[operator]
    return total.clamp(0, 1)


def composite(styled: torch.Tensor, content: torch.Tensor, cover: torch.Tensor | None) -> torch.Tensor:
    """Feathered mask edges blend the styled picture into the untouched content."""
    if cover is None:
        return styled
    return styled * cover + content * (1 - cover)
