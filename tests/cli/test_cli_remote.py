"""`restyle stylize --server`: the same job as in-process, or a clear refusal before
connecting; Ctrl-C still writes the picture so far; keys that cannot work are one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_cli import in_process, restyle

NOWHERE = "tcp://127.0.0.1:9"


@pytest.fixture(scope="module")
def endpoint():
    from support.server import running_server

    with running_server() as endpoint:
        yield endpoint


def stylize(files: dict, *extra: str) -> list[str]:
    return ["stylize", str(files["content"]), str(files["style"]), "-o", str(files["dir"] / "out.png"), "-q", *extra]


@pytest.mark.parametrize("flags, reason", [
    (["--stages", "2"], "no place for it"),
    (["--min-size", "32"], "no place for it"),
    (["--pooling", "avg"], "no place for it"),
    (["--content-weight", "1"], "no place for it"),
    (["--style-weight", "1", "--tv-weight", "0"], "no place for them"),
    (["--content-layers", "relu3_1"], "no place for it"),
    (["--style-layers", "relu1_1"], "no place for it"),
    (["--learning-rate", "0.1"], "no place for it"),
    (["--save-every", "2"], "no place for it"),
    (["--init", "IMAGE"], "starts from the content, noise or blank"),
    (["--iterations", "3,5"], "one count for every stage"),
    (["--device", "cpu"], "server's operator sets it"),
    (["--weights", "random:0"], "server's operator sets it"),
    (["--precision", "fp32"], "server's operator sets it"),
    (["--memory-gb", "4"], "restyle serve --memory-gb"),
])
def test_a_flag_a_server_cannot_honour_is_refused_before_connecting(files, flags, reason, capsys):
    flags = [str(files["content"]) if f == "IMAGE" else f for f in flags]
    status, err = in_process(stylize(files, "--server", NOWHERE, *flags), capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert flags[0] in err and "--server" in err and reason in err, err
    assert "127.0.0.1:9" not in err  # refused before trying to connect


SENT = {"--size", "--strength", "--style-scale", "--seed", "--iterations", "--init", "--optimizer",
        "--preserve-colors", "--style-weights", "--region"}
REFUSED = {"--stages", "--min-size", "--pooling", "--content-weight", "--style-weight", "--tv-weight",
           "--content-layers", "--style-layers", "--learning-rate", "--save-every", "--device", "--weights",
           "--precision", "--memory-gb"}
OF_THE_COMMAND = {"--help", "--output", "--quiet", "--server", "--server-keys", "--client-name"}


def test_every_stylize_flag_either_reaches_the_server_or_is_refused():
    """A new flag has to be sent or refused with --server: none may be dropped unseen."""
    from server.cli import _parser

    stylize = _parser()._subparsers._group_actions[0].choices["stylize"]
    flags = {s for action in stylize._actions for s in action.option_strings if s.startswith("--")}
    assert flags == SENT | REFUSED | OF_THE_COMMAND


def test_the_server_runs_the_job_the_flags_describe(files, endpoint):
    """Size, seed, init, optimiser, iterations: the server's result matches the one made here."""
    job = ["--size", "32", "--iterations", "3", "--seed", "7", "--init", "noise", "--optimizer", "adam",
           "--strength", "0.8", "--style-scale", "1.5", "--preserve-colors", "stats"]
    here, there = files["dir"] / "here.png", files["dir"] / "there.png"
    local = restyle("stylize", str(files["content"]), str(files["style"]), "-o", str(here), "-q", *job,
                    "--weights", "random:0")
    remote = restyle("stylize", str(files["content"]), str(files["style"]), "-o", str(there), "-q", *job,
                     "--server", endpoint)
    assert local.returncode == 0, local.stderr
    assert remote.returncode == 0, remote.stderr
    a, b = (np.asarray(Image.open(p)).astype(int) for p in (here, there))
    assert a.shape == b.shape == (24, 32, 3)
    noise = np.asarray(Image.open(files["content"]).resize((32, 24))).astype(int)
    assert np.abs(a - b).mean() < np.abs(a - noise).mean() / 4  # the same job, not merely the same size


@pytest.mark.parametrize("where", ["here", "on a server"])
def test_ctrl_c_writes_the_picture_so_far_with_status_130(files, endpoint, where):
    out = files["dir"] / "out.png"
    place = ["--server", endpoint] if where == "on a server" else ["--weights", "random:0"]
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "stylize", str(files["content"]), str(files["style"]), "-o", str(out),
         "--iterations", "100000", *place],
        stderr=subprocess.PIPE, cwd=Path(__file__).resolve().parents[2],
    )
    seen = b""
    deadline = time.monotonic() + 60
    while b"stage" not in seen and time.monotonic() < deadline:  # the bar shows once the job runs
        seen += os.read(process.stderr.fileno(), 4096)
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=60)
    err = (seen + rest).decode(errors="replace")
    assert process.returncode == 130, err
    assert "Traceback" not in err and "as it was" in err
    assert np.asarray(Image.open(out)).shape == (48, 64, 3)


def test_a_16_bit_greyscale_picture_keeps_its_depth_through_a_server(files, endpoint):
    from test_cli_files import levels_16, png_16

    levels = levels_16(1)
    content = png_16(files["dir"] / "deep.png", levels)
    out = files["dir"] / "out.png"
    done = restyle("stylize", str(content), str(files["style"]), "-o", str(out), "--strength", "0",
                   "--iterations", "1", "-q", "--server", endpoint)
    assert done.returncode == 0, done.stderr
    back = Image.open(out)
    assert back.mode == "I;16"
    assert np.abs(np.asarray(back).astype(int) - levels[..., 0].astype(int)).max() <= 1


# -- keys ----------------------------------------------------------------------------


@pytest.fixture
def keys(tmp_path):
    from server.keys import make_keys

    make_keys(tmp_path / "keys", ["laptop"])
    return tmp_path / "keys"


def test_stylize_reaches_a_server_with_keys_as_its_client(files, keys):
    from support.server import running_server

    from server.keys import load_client_keys

    with running_server(keys=keys, client_keys=load_client_keys(keys, "laptop")) as endpoint:
        done = restyle(*stylize(files, "--iterations", "1", "--server", endpoint, "--server-keys", str(keys),
                                "--client-name", "laptop"))
    assert done.returncode == 0, done.stderr
    assert (files["dir"] / "out.png").exists()


@pytest.mark.parametrize("case", ["missing folder", "unknown client", "refused name", "broken key", "no --server"])
def test_client_keys_that_cannot_work_are_one_line_before_connecting(files, keys, case, capsys):
    (keys / "clients" / "broken.key_secret").write_text("not a key\n")
    folder, name, message = {
        "missing folder": (keys.parent / "nokeys", "laptop", "does not exist"),
        "unknown client": (keys, "desktop", "no key for client 'desktop'"),
        "refused name": (keys, "../evil", "client name '../evil'"),
        "broken key": (keys, "broken", "not a CurveZMQ key file"),
        "no --server": (keys, "laptop", "are for --server"),
    }[case]
    server = [] if case == "no --server" else ["--server", NOWHERE]
    status, err = in_process(stylize(files, *server, "--server-keys", str(folder), "--client-name", name), capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert message in err and "Traceback" not in err
    assert not (files["dir"] / "out.png").exists()


@pytest.mark.parametrize("case", ["missing folder", "broken server key", "broken client key"])
def test_a_server_key_folder_that_cannot_work_is_one_line(keys, case):
    if case == "broken server key":
        (keys / "server.key_secret").write_text("garbage")
    if case == "broken client key":
        (keys / "authorized" / "x.key").write_text("garbage")
    folder = keys.parent / "nokeys" if case == "missing folder" else keys
    done = subprocess.run([sys.executable, "-m", "server.cli", "serve", "--keys", str(folder), "--weights", "random:0",
                           "--bind", "tcp://127.0.0.1:0"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if "restyle serve" in line]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr


def test_secret_keys_are_private_from_the_moment_they_exist(tmp_path, monkeypatch):
    """With every chmod made a no-op, a secret made readable first and narrowed later would show."""
    from server.keys import make_keys

    monkeypatch.setattr(os, "chmod", lambda *a, **k: None)
    monkeypatch.setattr(Path, "chmod", lambda *a, **k: None)
    old = os.umask(0)
    try:
        made = make_keys(tmp_path / "keys", ["laptop"])
    finally:
        os.umask(old)
    secrets = [p for p in made if p.name.endswith(".key_secret")]
    assert len(secrets) == 2
    for path in secrets:
        assert path.stat().st_mode & 0o077 == 0, oct(path.stat().st_mode)


def test_restyle_keys_gives_public_keys_the_mode_the_umask_gives(tmp_path):
    done = restyle("keys", str(tmp_path / "keys"), "--client", "laptop", umask=0o022)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "keys" / "server.key").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "keys" / "clients" / "laptop.key_secret").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("name", ["../evil", "", "x" * 65, "a/b"])
def test_a_refused_client_name_writes_nothing(tmp_path, name):
    done = restyle("keys", str(tmp_path / "keys"), "--client", "laptop", "--client", name)
    assert done.returncode == 2 and "client name" in done.stderr, done.stderr
    assert not (tmp_path / "keys").exists()


def test_through_a_server_the_bar_shows_the_stage_size_and_loss_and_the_server_names_its_weights(files, endpoint):
    """The same bar as in-process, and the "for tests only" warning reaches the artist."""
    done = restyle("stylize", str(files["content"]), str(files["style"]), "-o", str(files["dir"] / "out.png"),
                   "--iterations", "3", "--server", endpoint)
    assert done.returncode == 0, done.stderr
    assert f"server {endpoint}: device" in done.stderr and "for tests only" in done.stderr
    assert "stage 1/1 64x48, iteration 3/3: 100%" in done.stderr and "loss=" in done.stderr and "100%" in done.stderr
