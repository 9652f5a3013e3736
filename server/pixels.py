"""Pixel frames (`restyle_client.request.Pixels`) to float32 arrays and back.

The engine wants (H, W, C) float32 in [0, 1]; editors send u8, u16 or f32.  The CLI
reuses these for image files, so there is one place that knows the sample formats.
"""

from __future__ import annotations

import numpy as np
from restyle_client.request import Pixels, RequestError

DTYPES = {"u8": np.dtype("<u1"), "u16": np.dtype("<u2"), "f32": np.dtype("<f4")}
SCALE = {"u8": 255.0, "u16": 65535.0, "f32": 1.0}
BAND_BYTES = 16 * 1024 * 1024


def to_array(pixels: Pixels) -> np.ndarray:
    """(H, W, C) float32; u8/u16 are scaled to [0, 1], f32 is taken as it is."""
    flat = np.frombuffer(pixels.data, dtype=DTYPES[pixels.sample])
    array = flat.reshape(pixels.height, pixels.width, pixels.channels).astype(np.float32)
    if pixels.sample != "f32":
        array /= SCALE[pixels.sample]
    return array


def check_values(pixels: Pixels, what: str) -> None:
    """Refuse f32 samples that no picture can hold, before a job is queued.

    Colour above 1 or below 0 may be legitimate (HDR documents); the engine clips it to
    0..1.  Alpha and masks are coverage, so outside 0..1 they mean nothing, and a NaN or
    infinity anywhere would poison the whole optimisation.
    """
    if pixels.sample != "f32":
        return
    array = np.frombuffer(pixels.data, dtype=DTYPES["f32"]).reshape(-1, pixels.channels)
    if not (np.isfinite(array.min()) and np.isfinite(array.max())):  # min and max carry any NaN
        raise RequestError(f"{what} holds NaN or infinite values; send finite numbers", code="bad_pixels")
    if pixels.channels in (1, 4):
        coverage = array[:, -1]
        low, high = float(coverage.min()), float(coverage.max())
        if low < 0.0 or high > 1.0:
            name = "mask" if pixels.channels == 1 else "alpha"
            raise RequestError(
                f"{what}: {name} values run from {low:g} to {high:g}; f32 {name} must lie in 0..1",
                code="bad_pixels",
            )


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
        # A band of rows at a time, so that scaling an 8192 px RGBA result holds a few MB
        # of float temporaries rather than three pictures' worth (3 GB).
        data = np.empty((height, width, channels), DTYPES[sample])
        rows = max(1, BAND_BYTES // max(1, width * channels * 4))
        for top in range(0, height, rows):
            band = np.clip(array[top:top + rows], 0.0, 1.0)
            band *= SCALE[sample]
            band += 0.5
            data[top:top + rows] = band
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
