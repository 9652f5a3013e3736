"""The plugin's pixel conversions, outside Krita: Krita's byte layouts <-> the wire's RGBA.

The layouts asserted here are the ones real Krita 5 hands out (checked by the end-to-end
test): 8 and 16-bit integer layers store BGRA, float layers store RGBA.
"""

from __future__ import annotations

import struct

import pytest
from krita_restyle import pixels as px
from restyle_client.request import Pixels


def test_u8_layers_travel_as_rgba_with_red_and_blue_swapped():
    bgra = bytes([10, 20, 200, 255, 1, 2, 3, 4])
    wire = px.native_to_wire(bgra, 2, 1, "U8")
    assert (wire.sample, wire.channels) == ("u8", 4)
    assert wire.data == bytes([200, 20, 10, 255, 3, 2, 1, 4])
    assert px.wire_to_native(wire, "U8") == bgra


def test_u16_layers_swap_whole_samples_not_bytes():
    values = [0x0102, 0x0304, 0xA0B0, 0xFFFF]  # blue, green, red, alpha
    native = struct.pack("<4H", *values)
    wire = px.native_to_wire(native, 1, 1, "U16")
    assert wire.sample == "u16"
    assert struct.unpack("<4H", wire.data) == (0xA0B0, 0x0304, 0x0102, 0xFFFF)
    assert px.wire_to_native(wire, "U16") == native


def test_f32_layers_are_already_rgba():
    native = struct.pack("<8f", 0.25, 0.5, 0.75, 1.0, 2.0, -0.5, 0.0, 0.5)
    wire = px.native_to_wire(native, 2, 1, "F32")
    assert wire.sample == "f32" and wire.data == native
    assert px.wire_to_native(wire, "F32") == native


def test_f16_layers_travel_as_f32_and_come_back_exactly():
    values = (0.5, 0.25, 0.125, 1.0, 3.0, 0.0009765625, 65504.0, 0.0)
    native = struct.pack("<8e", *values)
    wire = px.native_to_wire(native, 2, 1, "F16")
    assert wire.sample == "f32"
    assert struct.unpack("<8f", wire.data) == values
    assert px.wire_to_native(wire, "F16") == native


def test_f16_results_out_of_half_range_are_clamped_not_refused():
    wire = Pixels(1, 1, 4, "f32", struct.pack("<4f", 1e9, 0.5, -1e9, 1.0))
    assert struct.unpack("<4e", px.wire_to_native(wire, "F16")) == (65504.0, 0.5, -65504.0, 1.0)


def test_f16_layers_convert_in_chunks_across_every_chunk_border(monkeypatch):
    """Large layers convert a chunk at a time (bounded memory); no sample is lost or
    moved at the chunk borders, including a last partial chunk and an overflow in it."""
    monkeypatch.setattr(px, "CHUNK_SAMPLES", 3)
    values = tuple(float(v) / 8 for v in range(14)) + (0.5, 0.25)  # 4 pixels, 16 samples
    native = struct.pack("<16e", *values)
    wire = px.native_to_wire(native, 2, 2, "F16")
    assert px.wire_to_native(wire, "F16") == native
    overflowing = Pixels(1, 1, 4, "f32", struct.pack("<4f", 0.5, 0.25, 0.125, 1e9))
    assert struct.unpack("<4e", px.wire_to_native(overflowing, "F16")) == (0.5, 0.25, 0.125, 65504.0)


@pytest.mark.parametrize("model,depth", [("CMYKA", "U8"), ("GRAYA", "U16"), ("LABA", "U16"), ("XYZA", "F32")])
def test_other_colour_models_get_a_message_saying_what_to_do(model, depth):
    with pytest.raises(px.UnsupportedFormat, match="Convert Image Color Space"):
        px.check_format(model, depth, "The layer “Sky”")


def test_unknown_depths_are_refused_by_name():
    with pytest.raises(px.UnsupportedFormat, match="U32"):
        px.check_format("RGBA", "U32")


def test_wrong_sample_type_for_a_depth_is_refused():
    with pytest.raises(ValueError, match="u16"):
        px.wire_to_native(Pixels(1, 1, 4, "u8", bytes(4)), "U16")


@pytest.mark.parametrize("depth", ["U8", "U16", "F16", "F32"])
def test_8_bit_previews_widen_to_every_depth(depth):
    rgba8 = bytes(range(0, 256, 1))  # 64 pixels covering every value
    native = px.widen_u8(rgba8, depth)
    wire = px.native_to_wire(native, 64, 1, depth)
    if depth == "U8":
        assert wire.data == rgba8
    elif depth == "U16":
        assert list(struct.unpack("<256H", wire.data)) == [v * 257 for v in rgba8]
    else:
        got = struct.unpack("<256f", wire.data)
        for v, g in zip(rgba8, got, strict=True):
            assert g == pytest.approx(v / 255, abs=1e-3)


def test_blend_keeps_base_outside_mask_and_takes_over_inside():
    base = bytes([10, 10, 10, 255]) * 4
    over = bytes([250, 50, 90, 255]) * 4
    mask = bytes([0, 255, 128, 0])
    out = px.blend_inside_mask(base, over, mask, "U8")
    assert out[0:4] == base[0:4] and out[12:16] == base[12:16]
    assert out[4:8] == over[4:8]
    assert list(out[8:12]) == [130, 30, 50, 255]


def test_blend_mixes_float_samples_too():
    base = struct.pack("<8f", 0, 0, 0, 1, 0, 0, 0, 1)
    over = struct.pack("<8f", 1, 0.5, 0.25, 1, 1, 1, 1, 1)
    out = struct.unpack("<8f", px.blend_inside_mask(base, over, bytes([51, 255]), "F32"))
    assert out[:4] == pytest.approx((0.2, 0.1, 0.05, 1.0))
    assert out[4:] == (1.0, 1.0, 1.0, 1.0)


def test_blend_refuses_mismatched_sizes():
    with pytest.raises(ValueError):
        px.blend_inside_mask(bytes(8), bytes(8), bytes(3), "U8")


@pytest.mark.parametrize(
    "depth,alpha",
    [
        ("U8", b"\x80"),
        ("U16", struct.pack("<H", 0x80FF)),
        ("F16", struct.pack("<e", 0.5)),
        ("F32", struct.pack("<f", 0.5)),
    ],
)
def test_alpha_planes_come_out_as_8_bit_masks(depth, alpha):
    size = px.DEPTH_BYTES[depth]
    pixel = bytes(3 * size) + alpha
    assert px.channel_u8(pixel * 3, depth, 3) in (b"\x80" * 3, b"\x80\x80\x80")


def test_float_previews_are_clamped_to_8_bits_for_display():
    pixels = Pixels(1, 1, 4, "f32", struct.pack("<4f", -1.0, 0.5, 2.0, float("nan")))
    assert px.to_u8(pixels) == bytes([0, 128, 255, 0])
