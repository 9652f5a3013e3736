"""Pixel frames (`restyle_client.request.Pixels`) to float32 arrays and back.

The engine wants (H, W, C) float32 in [0, 1]; editors send u8, u16 or f32.  The CLI
reuses these for image files, so there is one place that knows the sample formats.
"""

from __future__ import annotations

import numpy as np
from restyle_client.request import Pixels

DTYPES = {"u8": np.dtype("<u1"), "u16": np.dtype("<u2"), "f32": np.dtype("<f4")}
SCALE = {"u8": 255.0, "u16": 65535.0, "f32": 1.0}


def to_array(pixels: Pixels) -> np.ndarray:
    """(H, W, C) float32; u8/u16 are scaled to [0, 1], f32 is taken as it is."""
    flat = np.frombuffer(pixels.data, dtype=DTYPES[pixels.sample])
    array = flat.reshape(pixels.height, pixels.width, pixels.channels).astype(np.float32)
    if pixels.sample != "f32":
        array /= SCALE[pixels.sample]
    return array


def to_mask(pixels: Pixels) -> np.ndarray:
    """(H, W) float32 in [0, 1] from a one-channel frame."""
    return np.clip(to_array(pixels)[:, :, 0], 0.0, 1.0)


def from_array(array: np.ndarray, sample: str) -> Pixels:
    """Pixels of `sample` type from an (H, W, C) or (H, W) float array in [0, 1]."""
    if array.ndim == 2:
        array = array[:, :, None]
    height, width, channels = array.shape
    if sample == "f32":
        data = np.ascontiguousarray(array, dtype=DTYPES["f32"])
    else:
        scaled = np.clip(array, 0.0, 1.0) * SCALE[sample] + 0.5
        data = np.ascontiguousarray(scaled.astype(DTYPES[sample]))
    return Pixels(width=width, height=height, channels=channels, sample=sample, data=data.tobytes())


def replace_alpha(result: Pixels, source: Pixels) -> Pixels:
    """`result` with the alpha channel copied byte for byte from `source`.

    Both must have 4 channels, the same size and sample type.  Copying the bytes, not
    the floats, keeps the user's transparency exactly as it was.
    """
    dtype = DTYPES[result.sample]
    out = np.frombuffer(result.data, dtype=dtype).reshape(result.height, result.width, 4).copy()
    src = np.frombuffer(source.data, dtype=dtype).reshape(source.height, source.width, 4)
    out[:, :, 3] = src[:, :, 3]
    return Pixels(result.width, result.height, 4, result.sample, out.tobytes())
