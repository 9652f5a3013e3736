"""Krita's pixel bytes <-> the wire's pixels, in pure Python (no Krita, no numpy).

Krita hands out raw bytes whose layout depends on the layer's colour depth: the integer
RGBA spaces store blue first (BGRA), the float spaces store RGBA, and F16 has no wire
sample type, so it travels as f32.  Everything here works on whole byte strings with
slice assignment, `bytes.translate` or one bulk `struct` call, so it stays at C speed
on large layers.
"""

from __future__ import annotations

import re
import struct

from restyle_client.request import Pixels

DEPTH_BYTES = {"U8": 1, "U16": 2, "F16": 2, "F32": 4}
WIRE_SAMPLE = {"U8": "u8", "U16": "u16", "F16": "f32", "F32": "f32"}
# Where each native channel goes on the wire (RGBA).  The map swaps blue and red, so it
# is its own inverse and also takes wire pixels back to Krita's order.
CHANNEL_MAP = {
    "U8": (2, 1, 0, 3),
    "U16": (2, 1, 0, 3),
    "F16": (0, 1, 2, 3),
    "F32": (0, 1, 2, 3),
}


class UnsupportedFormat(ValueError):
    """A layer Restyle cannot read; the message says what to do instead."""


def check_format(model: str, depth: str, what: str = "This layer") -> None:
    if model != "RGBA":
        raise UnsupportedFormat(
            f"{what} uses the {model} colour model. Restyle works on RGB layers: "
            "convert with Image \u25b8 Convert Image Color Space\u2026 (RGB/Alpha), "
            "or duplicate the layer and convert the copy."
        )
    if depth not in DEPTH_BYTES:
        raise UnsupportedFormat(
            f"{what} has {depth} channels. Restyle reads 8 and 16-bit integer and 16 and 32-bit float RGB layers."
        )


def swap_channels(data: bytes, depth: str) -> bytearray:
    """Reorder the four channels of every pixel between Krita's order and RGBA."""
    size = DEPTH_BYTES[depth]
    stride = 4 * size
    out = bytearray(len(data))
    for src, dst in enumerate(CHANNEL_MAP[depth]):
        for k in range(size):
            out[dst * size + k :: stride] = data[src * size + k :: stride]
    return out


# Samples converted at a time: `struct` makes a Python float of every sample, so a whole
# 8192 x 8192 RGBA layer at once (268 million of them) would take about 10 GB.
CHUNK_SAMPLES = 1 << 20


def half_to_float(data: bytes) -> bytes:
    out = bytearray()
    for start in range(0, len(data) // 2, CHUNK_SAMPLES):
        count = min(CHUNK_SAMPLES, len(data) // 2 - start)
        out += struct.pack(f"<{count}f", *struct.unpack_from(f"<{count}e", data, 2 * start))
    return bytes(out)


def float_to_half(data: bytes) -> bytes:
    out = bytearray()
    for start in range(0, len(data) // 4, CHUNK_SAMPLES):
        count = min(CHUNK_SAMPLES, len(data) // 4 - start)
        values = struct.unpack_from(f"<{count}f", data, 4 * start)
        try:
            out += struct.pack(f"<{count}e", *values)
        except OverflowError:
            # Only out-of-range values need the slow path; half floats top out at 65504.
            out += struct.pack(f"<{count}e", *(max(-65504.0, min(65504.0, v)) for v in values))
    return bytes(out)


def native_to_wire(data: bytes, width: int, height: int, depth: str) -> Pixels:
    """A layer's `pixelData()` as RGBA wire pixels, losslessly."""
    expected = width * height * 4 * DEPTH_BYTES[depth]
    if len(data) != expected:
        raise ValueError(f"{len(data)} bytes for {width}x{height} {depth} RGBA; expected {expected}")
    rgba = swap_channels(data, depth)
    if depth == "F16":
        return Pixels(width, height, 4, "f32", half_to_float(bytes(rgba)))
    return Pixels(width, height, 4, WIRE_SAMPLE[depth], bytes(rgba))


def wire_to_native(pixels: Pixels, depth: str) -> bytes:
    """Wire pixels (RGBA, in the sample type this depth travels as) as Krita bytes."""
    if pixels.channels != 4:
        raise ValueError(f"expected RGBA pixels, got {pixels.channels} channels")
    if pixels.sample != WIRE_SAMPLE[depth]:
        raise ValueError(f"a {depth} layer takes {WIRE_SAMPLE[depth]} pixels, not {pixels.sample}")
    data = bytes(pixels.data)
    if depth == "F16":
        data = float_to_half(data)
    return bytes(swap_channels(data, depth))


def _float_tables(fmt: str) -> list[bytes]:
    encoded = [struct.pack(fmt, v / 255.0) for v in range(256)]
    return [bytes(e[k] for e in encoded) for k in range(len(encoded[0]))]


_WIDEN_TABLES = {"F16": _float_tables("<e"), "F32": _float_tables("<f")}


def widen_u8(rgba8: bytes, depth: str) -> bytes:
    """8-bit RGBA as Krita bytes of `depth`: for previews, which always travel as u8.

    Each output byte of a sample is a function of the 8-bit value alone, so a 256-entry
    `translate` table per byte does the whole conversion in C.
    """
    if depth == "U8":
        return bytes(swap_channels(rgba8, "U8"))
    if depth == "U16":
        wide = bytearray(len(rgba8) * 2)
        wide[0::2] = rgba8  # v * 257 is the byte v twice
        wide[1::2] = rgba8
        return bytes(swap_channels(wide, "U16"))
    tables = _WIDEN_TABLES[depth]
    size = len(tables)
    wide = bytearray(len(rgba8) * size)
    for k, table in enumerate(tables):
        wide[k::size] = rgba8.translate(table)
    return bytes(wide)


def to_u8(pixels: Pixels) -> bytes:
    """Any wire pixels as 8-bit samples (same channels), for display only."""
    data = bytes(pixels.data)
    if pixels.sample == "u8":
        return data
    if pixels.sample == "u16":
        return data[1::2]  # the high byte of each little-endian sample
    count = len(data) // 4
    return bytes(0 if v != v else max(0, min(255, int(v * 255.0 + 0.5))) for v in struct.unpack(f"<{count}f", data))


def channel_u8(data: bytes, depth: str, channel: int) -> bytes:
    """One native channel (0..3 in Krita's order) as 8-bit values: alpha masks."""
    size = DEPTH_BYTES[depth]
    stride = 4 * size
    if depth == "U8":
        return bytes(data[channel::stride])
    if depth == "U16":
        return bytes(data[channel * 2 + 1 :: stride])
    plane = bytearray(len(data) // 4)
    for k in range(size):
        plane[k::size] = data[channel * size + k :: stride]
    fmt = "e" if depth == "F16" else "f"
    count = len(plane) // size
    return bytes(
        0 if v != v else max(0, min(255, int(v * 255.0 + 0.5))) for v in struct.unpack(f"<{count}{fmt}", plane)
    )


_RUNS = re.compile(rb"\x00+|\xff+|[^\x00\xff]+")


def blend_inside_mask(base: bytes, over: bytes, mask: bytes, depth: str) -> bytes:
    """`over` where the 8-bit mask is 255, `base` where it is 0, mixed in between.

    Both images are Krita bytes of the same depth and size; the channel order does not
    matter, because every channel is mixed the same way.  Masks are mostly solid runs,
    which are copied as slices; only soft edges are mixed pixel by pixel.
    """
    size = DEPTH_BYTES[depth]
    pixel = 4 * size
    if len(base) != len(over) or len(base) != len(mask) * pixel:
        raise ValueError("image and mask sizes differ")
    out = bytearray(base)
    fmt = {"U8": "B", "U16": "H", "F16": "e", "F32": "f"}[depth]
    for run in _RUNS.finditer(mask):
        start, end = run.span()
        first = mask[start]
        if first == 0:
            continue
        if first == 255:
            out[start * pixel : end * pixel] = over[start * pixel : end * pixel]
            continue
        for i in range(start, end):
            t = mask[i] / 255.0
            lo, hi = i * pixel, (i + 1) * pixel
            a = struct.unpack(f"<4{fmt}", base[lo:hi])
            b = struct.unpack(f"<4{fmt}", over[lo:hi])
            mixed = [u + (v - u) * t for u, v in zip(a, b, strict=True)]
            if fmt in "BH":
                mixed = [int(m + 0.5) for m in mixed]
            out[lo:hi] = struct.pack(f"<4{fmt}", *mixed)
    return bytes(out)
