"""Every number a user types is checked before the work starts: one clear line, exit
status 2, no file.  `stylize` and `draw` hold a picture to the same limits."""

from __future__ import annotations

import numpy as np
import pytest
from support.pictures import gradient, stripes
from test_cli import in_process, restyle, save


@pytest.fixture
def files(tmp_path):
    return {
        "content": save(tmp_path / "content.png", gradient()),
        "tiny": save(tmp_path / "tiny.png", np.full((1, 1, 3), 0.5, np.float32)),
        "style": save(tmp_path / "style.png", stripes()),
        "dir": tmp_path,
    }


def refused(done, *words: str) -> None:
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr
    for word in words:
        assert word in done.stderr, done.stderr


def command(name: str, files: dict, content: str = "content") -> list[str]:
    return [name, str(files[content]), str(files["style"]), "-o", str(files["dir"] / "out.png"), "--weights",
            "random:0", "-q"]



@pytest.mark.parametrize("name", ["stylize", "draw"])
@pytest.mark.parametrize("size", ["8", "-5", "0", "70000"])
def test_a_size_the_engine_cannot_use_names_the_size(files, name, size):
    done = restyle(*command(name, files), "--size", size)
    refused(done, "size")
    assert "1x1" not in done.stderr
    assert not (files["dir"] / "out.png").exists()


@pytest.mark.parametrize("name", ["stylize", "draw"])
def test_a_picture_too_small_for_the_network_is_refused_by_both_commands(files, name):
    done = restyle(*command(name, files, "tiny"))
    refused(done, "1x1 px", "at least 16 px")


@pytest.mark.parametrize("name", ["stylize", "draw"])
def test_both_commands_refuse_the_same_number_of_iterations(files, name):
    refused(restyle(*command(name, files), "--iterations", "1000000000"), "iterations", "100000")


FLAGS = {
    "stylize": ["--size", "--strength", "--style-scale", "--seed", "--iterations", "--stages", "--min-size",
                "--content-weight", "--style-weight", "--tv-weight", "--learning-rate", "--save-every",
                "--style-weights", "--memory-gb"],
    "draw": ["--size", "--strength", "--style-scale", "--iterations", "--frame-every", "--memory-gb"],
}
WHOLE = {"--size", "--seed", "--iterations", "--stages", "--min-size", "--save-every", "--frame-every"}
# Free of scale: any positive amount is a request the engine can honour, however large.
SCALE_FREE = {"--content-weight", "--style-weight", "--tv-weight", "--learning-rate", "--style-weights", "--memory-gb"}


@pytest.mark.parametrize("name, flag, value", [
    (name, flag, value)
    for name, flags in FLAGS.items() for flag in flags
    for value in (["-5", "abc"] + ([] if flag in SCALE_FREE else ["1e30"])
                  + (["2.5"] if flag in WHOLE else ["nan", "inf", "-inf"]))
])
def test_every_number_flag_refuses_what_makes_no_sense(files, name, flag, value, capsys):
    """Negative, absurdly large, not a number: refused before any work, naming the flag or its field."""
    status, err = in_process([*command(name, files), flag, value], capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    field = flag.lstrip("-").split("-")[0].removesuffix("s")
    assert flag in err or field in err, err
    assert not (files["dir"] / "out.png").exists()


@pytest.mark.parametrize("flag", ["--frame-every", "--stages"])
def test_zero_is_refused_where_it_would_mean_nothing(files, flag):
    name = "draw" if flag == "--frame-every" else "stylize"
    refused(restyle(*command(name, files), flag, "0"), flag.lstrip("-").split("-")[0])


def test_a_mistyped_flag_is_one_line_that_points_to_help(files):
    refused(restyle(*command("stylize", files), "--strenght", "0.3"), "--strenght", "restyle stylize --help")


def test_draw_has_no_seed_because_it_starts_from_white_paper(files):
    refused(restyle(*command("draw", files), "--seed", "3"), "--seed")


def test_defaults_shown_in_help_are_the_engines(files):
    from core.job import DrawJob, Job

    stylize = restyle("stylize", "--help", env={"COLUMNS": "300"}).stdout
    draw = restyle("draw", "--help", env={"COLUMNS": "300"}).stdout
    assert f"(default {Job.strength})" in stylize and f"(default {Job.style_scale})" in stylize
    assert f"(default {DrawJob.iterations})" in draw and f"(default {DrawJob.frame_every})" in draw


@pytest.mark.parametrize(
    "flag, value, words",
    [
        ("--max-message-mb", "inf", "--max-message-mb: expected a number"),
        ("--max-message-mb", "nan", "--max-message-mb: expected a number"),
        ("--max-message-mb", "1e300", "max_message_bytes must be from 1 to"),
        ("--max-unread-mb", "-1", "max_unread_bytes must be from 1 to"),
        ("--cache-mb", "inf", "--cache-mb: expected a number"),
        ("--heartbeat-interval", "nan", "--heartbeat-interval: expected a number"),
        ("--ray-object-store-mb", "inf", "--ray-object-store-mb: expected a number"),
    ],
)
def test_a_server_limit_that_is_not_a_number_is_one_line_before_anything_starts(flag, value, words, capsys):
    status, err = in_process(["serve", "--weights", "random:0", "--bind", "tcp://127.0.0.1:0", flag, value], capsys)
    assert status == 2 and words in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
