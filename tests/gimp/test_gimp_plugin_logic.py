"""The GIMP plug-in's plain modules, on the host: geometry, arguments, requests, messages.

GIMP itself is exercised by test_gimp_plugin.py; these pin down the rules that glue
relies on, including the corners a real image rarely hits in one end-to-end run.
"""

from __future__ import annotations

import subprocess
import sys

import gimp_chroot
import pytest

sys.path.insert(0, str(gimp_chroot.PLUGIN_DIR))

from restyle_client import request as wire  # noqa: E402
from restyle_client import settings as shared  # noqa: E402
from restyle_client.geometry import Rect  # noqa: E402
from restyle_client.settings import JobError  # noqa: E402
from restyle_gimp_args import ARGUMENTS, DEFAULT_ENDPOINT, DIALOG_EXPANDERS, DIALOG_FRAMES  # noqa: E402
from restyle_gimp_job import PluginError, build_request, parse_settings  # noqa: E402
from restyle_gimp_pixels import (  # noqa: E402
    babl_format,
    color_pixels,
    gray_alpha_to_mask,
    place_mask,
    sample_for_precision,
)
from support.server import noise_pixels, running_server_thread  # noqa: E402

# --- pixels and masks -----------------------------------------------------------------


def test_a_selection_partly_outside_an_offset_layer_is_cropped_to_the_layer():
    layer = Rect(12, 8, 6, 4)  # image coordinates of the content layer
    selection_read = Rect(10, 9, 4, 2)  # read from the selection in image coordinates
    mask = place_mask(bytes([255] * 8), selection_read, layer)
    rows = [list(mask[r * 6 : (r + 1) * 6]) for r in range(4)]
    assert rows == [[0] * 6, [255, 255, 0, 0, 0, 0], [255, 255, 0, 0, 0, 0], [0] * 6]


def test_a_mask_keeps_its_values_where_it_overlaps_the_layer():
    read = Rect(0, 0, 3, 2)
    mask = place_mask(bytes(range(6)), read, Rect(1, 1, 2, 2))
    assert list(mask) == [4, 5, 0, 0]


def test_a_mask_that_misses_the_layer_selects_nothing():
    assert place_mask(b"\xff" * 4, Rect(0, 0, 2, 2), Rect(10, 10, 3, 3)) == bytes(9)


def test_rectangles_intersect_to_an_empty_rectangle_when_apart():
    assert Rect(0, 0, 2, 2).intersect(Rect(5, 5, 2, 2)).empty
    assert Rect(0, 0, 10, 10).intersect(Rect(5, -5, 10, 10)) == Rect(5, 0, 5, 5)


@pytest.mark.parametrize(
    "nick, sample",
    [
        ("u8-non-linear", "u8"),
        ("u8-linear", "u8"),
        ("u16-perceptual", "u16"),
        ("u32-linear", "f32"),
        ("half-non-linear", "f32"),
        ("float-linear", "f32"),
        ("double-perceptual", "f32"),
    ],
)
def test_each_image_precision_is_sent_without_loss(nick, sample):
    assert sample_for_precision(nick) == sample


def test_pixels_are_read_perceptual_with_or_without_alpha():
    assert babl_format(4, "u8") == "R'G'B'A u8"
    assert babl_format(3, "u16") == "R'G'B' u16"
    assert babl_format(4, "f32") == "R'G'B'A float"


def test_a_short_buffer_from_gimp_is_refused_not_sent():
    with pytest.raises(ValueError, match="expected 24"):
        color_pixels(2, 2, False, "u16", bytes(23))


def test_a_layer_used_as_mask_counts_its_grey_times_its_alpha():
    # white opaque, white transparent, black opaque, mid grey half transparent
    assert list(gray_alpha_to_mask(bytes([255, 255, 255, 0, 0, 255, 200, 128]))) == [255, 0, 0, 100]


# --- arguments ------------------------------------------------------------------------


def test_the_dialogs_choices_are_the_ones_the_server_takes():
    choices = {a.name: [c for c, _ in a.choices] for a in ARGUMENTS if a.kind == "choice"}
    assert choices["preserve-colors"] == list(wire.PRESERVE_COLORS)
    assert choices["mode"] == list(wire.MODES)


def test_the_dialogs_numbers_and_colour_choices_are_the_ones_krita_offers():
    by_name = {a.name: a for a in ARGUMENTS}
    for name, control in [
        ("strength", shared.STRENGTH),
        ("style-scale", shared.STYLE_SCALE),
        ("seed", shared.SEED),
        ("iterations", shared.ITERATIONS),
    ]:
        arg = by_name[name]
        assert (arg.minimum, arg.maximum, arg.default) == (control.minimum, control.maximum, control.default)
    assert by_name["preserve-colors"].choices == shared.PRESERVE_COLORS


def test_the_dialog_shows_every_argument_once():
    shown = [name for _id, _title, names in DIALOG_FRAMES + DIALOG_EXPANDERS for name in names]
    assert sorted(shown) == sorted(a.name for a in ARGUMENTS)


def test_no_two_dialog_fields_share_a_keyboard_mnemonic():
    # GIMP's own buttons take these: _OK, _Cancel, _Save Settings, _Load, _Help, _Reset
    taken = set("ocslhr")
    keys = [a.nick[a.nick.index("_") + 1].lower() for a in ARGUMENTS if "_" in a.nick]
    assert len(keys) == len(ARGUMENTS) and len(set(keys)) == len(keys) and not taken & set(keys)


def test_every_argument_a_script_leaves_out_has_a_working_default():
    defaults = {a.name: a.default for a in ARGUMENTS if a.kind not in ("layer", "drawable")}
    settings = parse_settings(defaults)
    assert settings.endpoint == DEFAULT_ENDPOINT and settings.size is None
    assert settings.iterations is None and settings.mask_source == "selection"


def test_misspelt_choices_and_endpoints_are_explained():
    with pytest.raises(PluginError, match="preserve-colors must be one of none, luminance"):
        parse_settings({"preserve-colors": "lumi"})
    with pytest.raises(PluginError, match="should look like tcp://"):
        parse_settings({"endpoint": "localhost:7865"})
    with pytest.raises(PluginError, match="needs both key files"):
        parse_settings({"server-key-file": "/keys/server.key"})


def test_key_files_from_restyle_keys_give_the_clients_curve_keys(tmp_path):
    from restyle_gimp_keys import load_keys

    from server.keys import load_client_keys, make_keys

    make_keys(tmp_path, ["gimp"])
    settings = parse_settings(
        {
            "server-key-file": str(tmp_path / "server.key"),
            "client-key-file": str(tmp_path / "clients" / "gimp.key_secret"),
        }
    )
    assert load_keys(settings) == load_client_keys(tmp_path, "gimp")
    assert load_keys(parse_settings({})) is None


def test_a_public_key_where_the_secret_one_belongs_is_named(tmp_path):
    from restyle_gimp_keys import load_keys

    from server.keys import make_keys

    make_keys(tmp_path, ["gimp"])
    public_only = str(tmp_path / "clients" / "gimp.key")
    settings = parse_settings({"server-key-file": str(tmp_path / "server.key"), "client-key-file": public_only})
    with pytest.raises(PluginError, match="holds only a public key"):
        load_keys(settings)
    missing = parse_settings({"server-key-file": str(tmp_path / "nope.key"), "client-key-file": public_only})
    with pytest.raises(PluginError, match="Cannot read the server's public key from .*nope.key"):
        load_keys(missing)


# --- requests -------------------------------------------------------------------------


def _region(mask: bytes | None = None, size=(8, 6)):
    pixels = wire.Pixels(size[0], size[1], 1, "u8", mask) if mask is not None else None
    return wire.Region([wire.Style(noise_pixels(8, 8), name="Stripes")], pixels)


def test_a_mask_that_covers_nothing_of_the_layer_is_refused():
    with pytest.raises(JobError, match="The mask of region 1 does not cover any of the content layer"):
        build_request(noise_pixels(8, 6), [_region(bytes(48))], parse_settings({}))


def test_draw_mode_asks_for_a_whole_layer_and_one_style():
    settings = parse_settings({"mode": "draw"})
    with pytest.raises(PluginError, match="Draw mode paints the whole layer"):
        build_request(noise_pixels(8, 6), [_region(b"\xff" * 48)], settings)


def test_kept_frames_are_asked_for_at_the_layers_size_only_in_draw_mode():
    content = noise_pixels(300, 200)
    drawn = build_request(content, [_region()], parse_settings({"mode": "draw", "keep-frames": True}))
    assert drawn.options.preview_every > 0 and drawn.options.preview_max_size == 300
    plain = build_request(content, [_region()], parse_settings({"keep-frames": True}))
    assert plain.options.preview_every == 0


def test_the_request_carries_the_users_settings():
    values = {
        "strength": 0.8,
        "style-scale": 2.0,
        "size": 256,
        "preserve-colors": "luminance",
        "seed": 42,
        "iterations": 7,
    }
    request = build_request(noise_pixels(8, 6), [_region()], parse_settings(values))
    o = request.options
    assert (o.strength, o.style_scale, o.size, o.preserve_colors, o.seed, o.iterations) == (
        0.8,
        2.0,
        256,
        "luminance",
        42,
        7,
    )


# --- the plug-in's Python --------------------------------------------------------------


def test_a_python_without_pyzmq_and_msgpack_gets_named_install_steps(tmp_path):
    """-I -S: a real interpreter without site-packages, like GIMP's bundled Python."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import restyle_gimp_deps as d; "
        "m = d.missing_packages(); print(m); print(d.install_hint(m, 'gimp-python'))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(gimp_chroot.PLUGIN_DIR)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.startswith("['pyzmq', 'msgpack']")
    assert "gimp-python -m pip install --user pyzmq msgpack" in out
    assert "python3-zmq python3-msgpack" in out


def test_a_python_with_both_packages_is_not_told_anything():
    from restyle_gimp_deps import missing_packages

    assert missing_packages() == []


# --- the conversation with a real server ----------------------------------------------


class RecordingSink:
    def __init__(self):
        self.fractions, self.frames, self.texts = [], [], []

    def status(self, text, fraction):
        self.texts.append(text)
        if fraction is not None:
            self.fractions.append(fraction)

    def frame(self, index, pixels):
        self.frames.append((index, pixels.width, pixels.height))


@pytest.mark.parametrize("keep_frames", [True, False])
def test_a_drawing_job_reports_progress_and_hands_over_frames_only_when_kept(keep_frames):
    from restyle_client.client import Client
    from restyle_gimp_session import run_job

    content = noise_pixels(40, 32)
    settings = parse_settings({"mode": "draw", "keep-frames": keep_frames, "iterations": 6})
    request = build_request(content, [_region()], settings)
    sink = RecordingSink()
    with running_server_thread() as server, Client(server.endpoint) as client:
        client.hello()
        outcome = run_job(client, request, sink, keep_frames=keep_frames)
    assert not outcome.cancelled
    assert (outcome.result.width, outcome.result.height) == (40, 32)
    assert sink.fractions and sink.fractions == sorted(sink.fractions)
    if keep_frames:
        assert sink.frames and all(f[1:] == (40, 32) for f in sink.frames)
        assert [f[0] for f in sink.frames] == list(range(len(sink.frames)))
    else:
        assert sink.frames == []


def test_with_key_files_no_server_is_started_in_their_place(tmp_path):
    """A server with --keys is a deliberate setup; starting a keyless one would not help."""
    import socket

    from restyle_client.client import Client
    from restyle_client.launcher import ServerConfig
    from restyle_gimp_session import reach_server

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        endpoint = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    started = tmp_path / "started"
    config = ServerConfig(endpoint, [sys.executable, "-c", f"open({str(started)!r}, 'w')"], str(tmp_path / "log"))
    sink = RecordingSink()
    with Client(endpoint) as client, pytest.raises(PluginError, match="does not accept your key files"):
        reach_server(client, sink, with_keys=True, config=config)
    assert not started.exists() and sink.texts == []


def test_a_running_server_is_used_as_it_is(tmp_path):
    from restyle_client.client import Client
    from restyle_client.launcher import ServerConfig
    from restyle_gimp_session import reach_server

    started = tmp_path / "started"
    sink = RecordingSink()
    with running_server_thread() as server, Client(server.endpoint) as client:
        config = ServerConfig(server.endpoint, [sys.executable, "-c", f"open({str(started)!r}, 'w')"])
        reach_server(client, sink, with_keys=False, config=config)
        assert client.capabilities is not None
    assert not started.exists() and sink.texts == []


# --- how long it will take, in the dialog ------------------------------------------------------


def test_the_dialog_offers_each_working_size_once_with_its_time_on_this_server():
    from restyle_gimp_estimate import note, offered_sizes

    offered = [("Draft (512 px)", 512), ("Standard (1024 px)", 1024), ("Full size (1200 px)", 0)]
    assert offered_sizes(1200, 800) == offered
    from restyle_client.estimate import Speed

    text = note(1200, 800, speed=Speed(0.05, 6.0), iterations=None)
    assert text.startswith("On this server (Size, then time): Draft (512 px): ") and "Full size (1200 px): " in text


def test_before_the_server_has_measured_itself_the_dialog_says_when_times_will_show():
    from restyle_gimp_estimate import note

    assert note(1200, 800, speed=None, iterations=None).startswith("Times show here once the server")


def test_a_slow_server_suggests_a_quick_size_but_keeps_a_size_the_artist_set():
    from restyle_client.estimate import Speed
    from restyle_gimp_estimate import suggested_size

    cpu, gpu = Speed(0.05, 6.0), Speed(0.01, 0.02)
    assert suggested_size(1200, 800, speed=cpu, iterations=None, size=0) == 512
    assert suggested_size(1200, 800, speed=gpu, iterations=None, size=0) == 0
    assert suggested_size(1200, 800, speed=cpu, iterations=None, size=1024) == 1024
    assert suggested_size(1200, 800, speed=None, iterations=None, size=0) == 0


def test_no_server_means_no_speed_and_the_dialog_opens_at_once():
    import time

    from restyle_gimp_estimate import server_speed

    started = time.monotonic()
    assert server_speed("tcp://127.0.0.1:9", timeout=0.3) is None
    assert time.monotonic() - started < 3
