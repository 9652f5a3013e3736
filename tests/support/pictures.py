"""Small synthetic pictures with known structure, for tests of every area."""

from __future__ import annotations

import numpy as np


def gradient(height: int = 48, width: int = 64, alpha: bool = False) -> np.ndarray:
    """A smooth color ramp: no texture of its own, so any texture came from a style."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack([x / max(width - 1, 1), y / max(height - 1, 1), np.full_like(x, 0.5)], -1)
    if alpha:
        return np.concatenate([rgb, np.ones_like(rgb[..., :1])], -1)
    return rgb


def stripes(size: int = 48, period: int = 6, color=(1.0, 1.0, 1.0), vertical: bool = False) -> np.ndarray:
    """Hard stripes of one color on black: a strong, measurable texture."""
    image = np.zeros((size, size, 3), np.float32)
    on = (np.arange(size) % period) < period // 2
    if vertical:
        image[:, on] = color
    else:
        image[on] = color
    return image


def dots(size: int = 48, period: int = 8, color=(1.0, 0.2, 0.1)) -> np.ndarray:
    image = np.zeros((size, size, 3), np.float32)
    image[period // 2 :: period, period // 2 :: period] = color
    image[period // 2 + 1 :: period, period // 2 :: period] = color
    return image


def save(path, array: np.ndarray):
    """An image in [0, 1] written as an 8-bit file (its type from the name); returns the path."""
    from PIL import Image

    Image.fromarray((array * 255).round().astype(np.uint8)).save(path)
    return path
