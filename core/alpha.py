"""Transparency: keep the content's alpha, and keep hidden colour out of the picture.

Editors keep arbitrary colour under fully transparent pixels (often black, or what was
erased).  The network sees that colour, and its receptive fields carry it into the
visible pixels nearby.  We therefore replace the colour under transparency with colour
pulled in from the visible neighbourhood before the engine sees it.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def fill_transparent(rgb: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Pull-push fill: hidden pixels take the alpha-weighted colour around them.

    Works on premultiplied colour, so the colour under alpha = 0 has no influence at
    all on the result; opaque pixels come back unchanged.
    """
    levels = [(rgb * alpha, alpha)]
    while min(levels[-1][1].shape[-2:]) > 1:
        c, a = levels[-1]
        levels.append((F.avg_pool2d(c, 2, ceil_mode=True), F.avg_pool2d(a, 2, ceil_mode=True)))
    c, a = levels[-1]
    filled = c / a.clamp_min(1e-8)
    for c, a in reversed(levels[:-1]):
        up = F.interpolate(filled, size=c.shape[-2:], mode="bilinear", align_corners=False)
        filled = c + (1 - a) * up
    return filled.clamp(0, 1)


def split(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """RGB the engine can use, and the alpha to carry through (None when opaque)."""
    if image.shape[1] == 3:
        return image, None
    rgb, alpha = image[:, :3], image[:, 3:4]
    if bool((alpha >= 1).all()):
        return rgb, alpha
    return fill_transparent(rgb, alpha), alpha
