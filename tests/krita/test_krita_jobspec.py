"""From the docker's settings to a request, and from a job's news to words (outside Krita)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from krita_restyle import config, jobspec, launcher
from restyle_client import DEFAULT_ENDPOINT
from restyle_client.request import Pixels, RequestError, Style


def rgba(width, height):
    return Pixels(width, height, 4, "u8", bytes(width * height * 4))


def mask(width, height, value=255):
    return Pixels(width, height, 1, "u8", bytes([value]) * (width * height))


def test_presets_never_upscale_a_small_layer():
    standard = 1
    assert jobspec.working_size(standard, 3000, 2000) == 1024
    assert jobspec.working_size(standard, 800, 600) is None
    assert jobspec.working_size(len(jobspec.PRESETS) - 1, 5000, 5000) is None  # full size


def test_request_has_a_whole_picture_region_and_one_per_masked_region():
    settings = jobspec.Settings(strength=0.8, style_scale=2.0, preserve_colors="luminance", seed=7, iterations=30)
    request = jobspec.build_request(
        rgba(40, 30), [Style(rgba(8, 8), name="Sky")], [(mask(40, 30), [Style(rgba(8, 8), name="Bricks")])], settings
    )
    assert [r.mask is None for r in request.regions] == [True, False]
    assert [s.name for r in request.regions for s in r.styles] == ["Sky", "Bricks"]
    o = request.options
    assert (o.strength, o.style_scale, o.preserve_colors, o.seed, o.iterations) == (0.8, 2.0, "luminance", 7, 30)


def test_regions_alone_are_enough():
    request = jobspec.build_request(rgba(10, 10), [], [(mask(10, 10), [Style(rgba(8, 8))])], jobspec.Settings())
    assert len(request.regions) == 1 and request.regions[0].mask is not None


def test_a_mask_of_the_wrong_size_is_refused_before_sending():
    with pytest.raises(RequestError, match="masks must match the content"):
        jobspec.build_request(rgba(10, 10), [], [(mask(9, 10), [Style(rgba(8, 8))])], jobspec.Settings())


def test_no_style_at_all_is_refused():
    with pytest.raises(RequestError, match="at least one region"):
        jobspec.build_request(rgba(10, 10), [], [], jobspec.Settings())


def test_result_layers_are_named_after_their_styles():
    assert jobspec.result_name(["Van Gogh"]) == "Van Gogh (restyled)"
    assert jobspec.result_name(["A", "B", "A"]) == "A + B (restyled)"
    assert jobspec.result_name(["A"], cancelled=True) == "A (restyled, cancelled)"
    assert jobspec.unique_name("A (restyled)", ["A (restyled)", "A (restyled) 2"]) == "A (restyled) 3"


def test_progress_reads_like_a_sentence():
    assert jobspec.progress_text(2, 3, 40, 100, 75) == "stage 2/3, iteration 40/100, about 1 min 15 s left"
    assert jobspec.progress_text(1, 1, 5, 25, None) == "iteration 5/25, about ? left"
    assert jobspec.queue_text(0) == "Running…"
    assert jobspec.queue_text(2) == "Waiting: 2 jobs ahead in the server's queue"
    assert jobspec.percent(3, 4) == 75 and jobspec.percent(0, 0) == 0
    assert jobspec.format_seconds(7300) == "2 h 01 min"


@pytest.mark.parametrize(
    "platform,expected",
    [
        ("linux", ".config/restyle"),
        ("darwin", "Library/Application Support/restyle"),
        ("win32", "AppData/Roaming/restyle"),
    ],
)
def test_config_folder_matches_what_install_py_writes(tmp_path, platform, expected):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    try:
        import install
    finally:
        sys.path.pop(0)
    places = install.Places(tmp_path, platform, environ={})
    assert config.config_dir(tmp_path, platform, environ={}) == tmp_path / expected == places.restyle_config


def test_config_without_a_file_says_to_run_the_installer(tmp_path):
    loaded = config.load(tmp_path / "server.json")
    assert loaded.endpoint == DEFAULT_ENDPOINT and loaded.command == []
    assert "install.py" in loaded.problem


def test_config_gives_the_start_command_for_an_endpoint(tmp_path):
    path = tmp_path / "server.json"
    path.write_text(json.dumps({"endpoint": "tcp://127.0.0.1:9999", "command": ["/v/bin/restyle", "serve"]}))
    loaded = config.load(path)
    assert loaded.endpoint == "tcp://127.0.0.1:9999"
    assert loaded.start_command("tcp://127.0.0.1:5") == ["/v/bin/restyle", "serve", "--bind", "tcp://127.0.0.1:5"]


def test_a_broken_config_file_is_reported(tmp_path):
    path = tmp_path / "server.json"
    path.write_text("{not json")
    assert "cannot be read" in config.load(path).problem


def test_launching_a_missing_program_says_which(tmp_path):
    process = launcher.ServerProcess(["/nowhere/restyle", "serve"], tmp_path / "server.log")
    with pytest.raises(launcher.LaunchError, match="/nowhere/restyle does not exist"):
        process.start()


def test_a_server_that_dies_at_start_is_explained_by_its_log(tmp_path):
    command = [sys.executable, "-c", "import sys; print('loading weights'); print('boom: no GPU'); sys.exit(3)"]
    process = launcher.ServerProcess(command, tmp_path / "logs" / "server.log")
    process.start()
    assert process.wait(30) == 3
    assert process.failure() == "the server stopped (exit code 3): loading weights | boom: no GPU"
