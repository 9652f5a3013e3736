"""The wire format: a request survives the trip, and every kind of bad message is named."""

from __future__ import annotations

import msgpack
import pytest
from restyle_client import events as ev
from restyle_client.protocol import (
    CLIENT_TYPES,
    PROTOCOL_VERSION,
    SERVER_TYPES,
    Ping,
    ProtocolError,
    Submit,
    decode,
    encode,
)
from restyle_client.request import Options, Pixels, Region, Request, Style
from support.server import noise_pixels


def masked_request() -> Request:
    content = noise_pixels(20, 10, 4, "u16", seed=1)
    return Request(
        content=content,
        regions=[
            Region(
                [Style(noise_pixels(8, 8, 3, "f32", seed=2), 0.25, "sky")], mask=noise_pixels(20, 10, 1, "u8", seed=3)
            ),
            Region([Style(noise_pixels(6, 9, 3, "u8", seed=4), 1.0, "ink")]),
        ],
        options=Options(size=16, strength=0.8, preserve_colors="luminance", mode="stylize", iterations=7),
        job_id="job-1",
    )


def test_a_request_with_masks_and_every_sample_type_arrives_unchanged():
    request = masked_request()
    message = decode(encode(Submit(request)))
    assert isinstance(message, Submit)
    assert message.request.options == request.options
    got = message.request
    assert [bytes(p.data) for _, p in got.layers()] == [bytes(p.data) for _, p in request.layers()]
    assert [(p.width, p.height, p.channels, p.sample) for _, p in got.layers()] == [
        (p.width, p.height, p.channels, p.sample) for _, p in request.layers()
    ]
    assert [s.name for r in got.regions for s in r.styles] == ["sky", "ink"]
    assert got.regions[1].mask is None


def header_of(frames) -> dict:
    return msgpack.unpackb(frames[0], raw=False)


def with_header(frames, **changes) -> list:
    header = header_of(frames)
    header.update(changes)
    return [msgpack.packb(header, use_bin_type=True), *frames[1:]]


def error_of(frames, expect=None) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        decode(frames, expect)
    return caught.value


def test_a_frame_that_is_not_msgpack_is_a_bad_message():
    assert error_of([b"\xc1\xc1 definitely not msgpack"]).code == "bad_message"


def test_a_header_that_is_not_a_map_is_a_bad_message():
    assert error_of([msgpack.packb([1, 2, 3])]).code == "bad_message"


def test_another_major_version_is_refused_by_name():
    frames = with_header(encode(ev.Pong(1)), version=[PROTOCOL_VERSION[0] + 1, 0])
    error = error_of(frames)
    assert error.code == "version_mismatch"
    assert f"{PROTOCOL_VERSION[0] + 1}.0" in str(error)


def test_a_newer_minor_version_with_unknown_fields_is_understood():
    frames = with_header(encode(ev.Pong(5)), version=[PROTOCOL_VERSION[0], 99], shiny_new_field=[1, 2])
    assert decode(frames) == ev.Pong(5)


def test_an_unknown_type_is_named():
    error = error_of(with_header(encode(ev.Pong(1)), type="teleport"))
    assert error.code == "unknown_type" and "teleport" in str(error)


def test_an_error_quotes_at_most_64_characters_of_what_the_peer_sent():
    error = error_of(with_header(encode(ev.Pong(1)), type="t" * 100_000))
    assert error.code == "unknown_type" and len(str(error)) < 200 and "99936 more characters" in str(error)


def test_a_missing_field_is_named():
    header = header_of(encode(Submit(masked_request())))
    del header["regions"]
    frames = [msgpack.packb(header), *encode(Submit(masked_request()))[1:]]
    error = error_of(frames)
    assert error.code == "bad_field" and "regions" in str(error)
    assert error.job_id == "job-1"


def test_a_field_of_the_wrong_type_is_named():
    frames = encode(Submit(masked_request()))
    header = header_of(frames)
    header["options"]["strength"] = "very"
    error = error_of([msgpack.packb(header), *frames[1:]])
    assert error.code == "bad_field" and "strength" in str(error)


def test_a_pixel_frame_shorter_than_its_header_says_is_refused():
    frames = encode(Submit(masked_request()))
    frames[2] = bytes(frames[2])[:-1]
    error = error_of(frames)
    assert error.code == "bad_pixels" and "frame 1" in str(error)


def test_a_missing_pixel_frame_is_refused():
    frames = encode(Submit(masked_request()))[:-1]
    assert error_of(frames).code == "bad_pixels"


def test_absurd_sizes_are_refused_before_any_arithmetic_on_them():
    frames = encode(Submit(masked_request()))
    header = header_of(frames)
    header["frames"][0]["width"] = 10**12
    assert error_of([msgpack.packb(header), *frames[1:]]).code == "bad_pixels"


def test_a_mask_that_is_not_the_contents_size_is_refused():
    request = masked_request()
    request.regions[0].mask = noise_pixels(19, 10, 1, "u8")
    with pytest.raises(ProtocolError) as caught:
        decode(encode(Submit(request)))
    assert caught.value.code == "bad_pixels" and "mask" in str(caught.value)


def test_msgpack_extension_types_are_never_accepted_as_values():
    frames = encode(Submit(masked_request()))
    header = header_of(frames)
    header["job_id"] = msgpack.ExtType(42, b"payload")
    assert error_of([msgpack.packb(header), *frames[1:]]).code == "bad_field"


def test_an_error_message_round_trips_without_a_job():
    error = ev.Error(None, "bad_message", "header frame is not msgpack")
    assert decode(encode(error)) == error


def test_a_result_keeps_its_pixels_and_sample_type():
    pixels = Pixels(3, 2, 4, "u16", bytes(range(48)))
    result = decode(encode(ev.Result("j", pixels)))
    assert isinstance(result, ev.Result) and not result.cancelled
    assert bytes(result.pixels.data) == bytes(range(48)) and result.pixels.sample == "u16"


def test_everything_about_pixel_frames_is_bad_pixels_and_every_other_field_bad_field():
    frames = encode(Submit(masked_request()))
    header = header_of(frames)
    header["frames"][1]["channels"] = "three"
    assert error_of([msgpack.packb(header), *frames[1:]]).code == "bad_pixels"
    for field, value in (("content", "0"), ("content", None), ("frames", "all of them")):
        header = header_of(frames)
        header[field] = value
        assert error_of([msgpack.packb(header), *frames[1:]]).code == "bad_pixels", field
    assert error_of(with_header(frames, regions="everywhere")).code == "bad_field"


@pytest.mark.parametrize("job_id, echoed", [("job-1", "job-1"), ("job 1", None), ("job-1\n", None), ("j" * 65, None)])
def test_an_error_carries_the_job_id_only_when_it_is_a_valid_one(job_id, echoed):
    frames = with_header(encode(Submit(masked_request())), job_id=job_id)
    frames[1] = bytes(3)
    assert error_of(frames).job_id == echoed


@pytest.mark.parametrize("kind", ["result", "cancelled", "progress", "preview", "accepted", "pong"])
def test_a_server_type_sent_to_a_server_is_an_unknown_type_whatever_its_fields(kind):
    error = error_of([msgpack.packb({"version": [1, 0], "type": kind, "frames": "nonsense"}), b"x"], CLIENT_TYPES)
    assert error.code == "unknown_type" and f"{kind} is sent by servers" in str(error)


def test_a_client_type_sent_to_a_client_is_an_unknown_type():
    error = error_of(encode(Submit(masked_request())), SERVER_TYPES)
    assert error.code == "unknown_type" and "submit is sent by clients" in str(error)


@pytest.mark.parametrize("token", [0, -1, 2**63 - 1, 2**64 - 1])
def test_a_ping_token_is_any_msgpack_integer(token):
    assert decode(encode(Ping(token))) == Ping(token)
    assert error_of(with_header(encode(Ping(1)), token=1.5)).code == "bad_field"
