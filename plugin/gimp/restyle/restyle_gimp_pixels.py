"""Pixel bookkeeping between GIMP's buffers and the wire's `Pixels`.

GIMP hands out raw bytes in a babl format we name, so everything here is geometry and
byte shuffling that needs no GIMP: which format keeps an image's precision, and how a
mask that lives in image coordinates (the selection) or in another drawable's
coordinates lines up with the content layer, which may be offset or stick out of the
canvas.
"""

from __future__ import annotations

from restyle_client.geometry import Rect
from restyle_client.request import Pixels

_BABL_SAMPLE = {"u8": "u8", "u16": "u16", "f32": "float"}
MASK_FORMAT = "Y u8"
LAYER_AS_MASK_FORMAT = "Y'A u8"


def sample_for_precision(precision_nick: str) -> str:
    """The wire sample type that holds an image of this GIMP precision without loss.

    `precision_nick` is `Gimp.Precision`'s value nick, e.g. "u8-non-linear",
    "u16-perceptual", "half-linear".  32-bit integer images go as float: f32 keeps more
    of them than u16 would.
    """
    nick = precision_nick.lower().replace("_", "-")
    if nick.startswith("u8"):
        return "u8"
    if nick.startswith("u16"):
        return "u16"
    return "f32"


def babl_format(channels: int, sample: str) -> str:
    """The perceptual (primed) babl format for RGB/RGBA pixels of a wire sample type.

    Perceptual, because that is what painters see and what the style transfer was
    trained on; the unprimed "RGBA u8" would hand over linear light.
    """
    if channels not in (3, 4):
        raise ValueError(f"colour pixels have 3 or 4 channels, not {channels}")
    if sample not in _BABL_SAMPLE:
        raise ValueError(f"unknown sample type {sample!r}")
    components = "R'G'B'A" if channels == 4 else "R'G'B'"
    return f"{components} {_BABL_SAMPLE[sample]}"


def color_pixels(width: int, height: int, has_alpha: bool, sample: str, data: bytes) -> Pixels:
    """Wrap bytes read with `babl_format(...)` as wire pixels, checking their length."""
    pixels = Pixels(width, height, 4 if has_alpha else 3, sample, bytes(data))
    if len(data) != pixels.expected_bytes:
        raise ValueError(
            f"GIMP returned {len(data)} bytes for a {width}x{height} "
            f"{pixels.channels}-channel {sample} buffer; expected {pixels.expected_bytes}"
        )
    return pixels


def place_mask(data: bytes, read: Rect, target: Rect) -> bytes:
    """Put a one-byte-per-pixel mask read over `read` into a zeroed `target`-sized mask.

    Both rectangles are in the same coordinates (image coordinates, say).  Pixels of
    `target` that `read` does not cover stay 0 - outside the selection or outside the
    mask layer means "not restyled".  The part of `read` outside `target` is dropped.
    """
    if len(data) != read.width * read.height:
        raise ValueError(f"mask data has {len(data)} bytes for a {read.width}x{read.height} area")
    out = bytearray(target.width * target.height)
    overlap = read.intersect(target)
    if overlap.empty:
        return bytes(out)
    for row in range(overlap.height):
        src_y = overlap.y - read.y + row
        dst_y = overlap.y - target.y + row
        src = src_y * read.width + (overlap.x - read.x)
        dst = dst_y * target.width + (overlap.x - target.x)
        out[dst : dst + overlap.width] = data[src : src + overlap.width]
    return bytes(out)


def gray_alpha_to_mask(data: bytes) -> bytes:
    """A layer used as a mask: its grey value, faded by its alpha.

    Painting white on a transparent layer marks where to restyle; transparent areas
    are left alone whatever their hidden colour.
    """
    if len(data) % 2:
        raise ValueError("grey+alpha data must have an even number of bytes")
    grey, alpha = data[0::2], data[1::2]
    return bytes((g * a + 127) // 255 for g, a in zip(grey, alpha, strict=True))


def mask_pixels(data: bytes, target: Rect) -> Pixels:
    return Pixels(target.width, target.height, 1, "u8", data)
