"""`restyle stylize` and `restyle draw` at the shell: results are written whole, and
bad input ends with one clear line, exit status 2, and no file."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from support.pictures import save

FAST = ["--weights", "random:0", "--iterations", "4", "--min-size", "24", "-q"]


def restyle(*args: str, env: dict | None = None, umask: int | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server.cli", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})}, preexec_fn=None if umask is None else lambda: os.umask(umask))


def in_process(args: list[str], capsys) -> tuple[int, str]:
    """The command line's own entry point, for tables too long to start a process per row."""
    from server.cli import main

    try:
        status = main(args)
    except SystemExit as e:
        status = e.code
    return status, capsys.readouterr().err


def test_stylize_writes_the_result_and_intermediate_frames(files):
    out = files["dir"] / "out.png"
    done = restyle("stylize", str(files["content"]), str(files["style"]), "-o", str(out), "--save-every", "4", *FAST)
    assert done.returncode == 0, done.stderr
    result = np.asarray(Image.open(out))
    assert result.shape == (48, 64, 3)
    assert sorted(p.name for p in files["dir"].glob("out-step*.png")) == ["out-step00004.png", "out-step00008.png"]


def test_regions_pair_masks_with_styles(files):
    out = files["dir"] / "regions.png"
    done = restyle("stylize", str(files["content"]), "--region", str(files["mask"]), str(files["style"]),
                   "-o", str(out), "--strength", "0.8", *FAST)
    assert done.returncode == 0, done.stderr
    result = np.asarray(Image.open(out)).astype(int)
    content = np.asarray(Image.open(files["content"])).astype(int)
    unmasked = np.asarray(Image.open(files["mask"])) == 0
    assert np.array_equal(result[unmasked], content[unmasked])


def test_draw_writes_the_frames_and_an_animation(files):
    out = files["dir"] / "drawing.png"
    done = restyle("draw", str(files["content"]), "-o", str(out), "--weights", "random:0", "--iterations", "4",
                   "--frame-every", "4", "-q")
    assert done.returncode == 0, done.stderr
    assert len(list((files["dir"] / "drawing-frames").glob("frame-*.png"))) == 5
    animation = Image.open(files["dir"] / "drawing.webp")
    assert animation.is_animated and animation.n_frames >= 5


def bad_input_cases(files):
    d = files["dir"]
    (d / "notes.txt").write_text("not a picture")
    (d / "empty.png").write_bytes(b"")
    save(d / "small_mask.png", np.ones((10, 10), np.float32))
    c, s = str(files["content"]), str(files["style"])
    return {
        "missing file": (["stylize", c, str(d / "absent.png")], "absent.png: no such file"),
        "not an image": (["stylize", c, str(d / "notes.txt")], "not an image"),
        "zero-sized image": (["stylize", str(d / "empty.png"), s], "empty.png"),
        "mask of the wrong size": (["stylize", c, "--region", str(d / "small_mask.png"), s], "10x10 px but the content is 64x48 px"),
        "unknown layer": (["stylize", c, s, "--style-layers", "relu1_1,relu7_1"], "relu7_1"),
        "size too large for memory": (["stylize", c, s, "--size", "60000"], "GB"),
        "strength out of range": (["stylize", c, s, "--strength", "3"], "strength"),
        "no style": (["stylize", c], "at least one STYLE"),
    }


@pytest.mark.parametrize("case", ["missing file", "not an image", "zero-sized image", "mask of the wrong size",
                                  "unknown layer", "size too large for memory", "strength out of range", "no style"])
def test_bad_input_gets_one_clear_line_and_status_2(files, case):
    args, message = bad_input_cases(files)[case]
    out = files["dir"] / "never.png"
    done = restyle(*args, "-o", str(out), "--weights", "random:0", "-q")
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists() and not list(files["dir"].glob(".never.png*"))


def test_missing_weights_offline_print_where_to_put_the_file(files, tmp_path):
    """With the real download address, as a user on a machine without the model hub sees it."""
    try:
        socket.getaddrinfo("download.pytorch.org", 443)
        pytest.skip("this machine can reach the model hub; the offline path is covered in tests/core")
    except OSError:
        pass
    out = files["dir"] / "never.png"
    done = restyle("stylize", str(files["content"]), str(files["style"]), "-o", str(out), "-q",
                   env={"TORCH_HOME": str(tmp_path / "torch")})
    assert done.returncode == 2
    assert str(tmp_path / "torch" / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth") in done.stderr
    assert "Traceback" not in done.stderr and not out.exists()


def test_stylize_can_run_on_a_running_server(files):
    from support.server import running_server

    out = files["dir"] / "remote.png"
    with running_server() as endpoint:
        done = restyle("stylize", str(files["content"]), str(files["style"]), "-o", str(out), "--server", endpoint,
                       "--iterations", "4", "-q")
    assert done.returncode == 0, done.stderr
    result = np.asarray(Image.open(out))
    assert result.shape == (48, 64, 3)
    assert np.abs(result.astype(int) - np.asarray(Image.open(files["content"])).astype(int)).mean() > 2


def test_stylize_reports_a_server_that_does_not_answer(files):
    out = files["dir"] / "never.png"
    done = restyle("stylize", str(files["content"]), str(files["style"]), "-o", str(out),
                   "--server", "tcp://127.0.0.1:9", "-q")
    assert done.returncode == 2
    assert "127.0.0.1:9" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()


@pytest.mark.parametrize("budget", ["0", "-2", "nan", "lots"])
def test_a_memory_budget_must_be_a_positive_number(files, budget):
    out = files["dir"] / "out.png"
    done = restyle("stylize", str(files["content"]), str(files["style"]), "-o", str(out), "--memory-gb", budget, *FAST)
    assert done.returncode == 2 and "--memory-gb: expected a positive number of GB" in done.stderr
    assert not out.exists()


@pytest.mark.parametrize("command", ["stylize", "draw"])
def test_a_budget_too_small_for_one_block_is_refused_before_the_work(files, command):
    out = files["dir"] / "out.png"
    styles = [str(files["style"])]
    done = restyle(command, str(files["content"]), *styles, "-o", str(out), "--memory-gb", "0.1",
                   "--weights", "random:0", "-q")
    assert done.returncode == 2, done.stderr
    assert "even in the smallest blocks" in done.stderr and "memory budget is 0.10 GB" in done.stderr
    assert "Traceback" not in done.stderr and not out.exists()


def test_a_budget_for_a_remote_job_belongs_to_the_server(files):
    out = files["dir"] / "out.png"
    done = restyle("stylize", str(files["content"]), str(files["style"]), "-o", str(out), "--memory-gb", "4",
                   "--server", "tcp://127.0.0.1:1", "-q")
    assert done.returncode == 2 and "restyle serve --memory-gb" in done.stderr


def test_help_explains_every_option_and_the_default_iterations():
    text = restyle("stylize", "--help").stdout
    for flag in ("--seed", "--precision", "--optimizer", "--pooling"):
        line = text[text.index(flag):].split("\n  -", 1)[0]
        assert len(line.split()) > 4, f"{flag} has no explanation"
    assert "50 for each early stage, 100 for the last" in " ".join(text.split())
    assert "the VGG19 network's trained weights" in " ".join(text.split())
