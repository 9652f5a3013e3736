"""The GIMP plug-in's weights step, on the host: when it asks, and what each answer does.

The questions are callables here (GIMP's dialogs in the plug-in); the download comes from
a local web server with a small stand-in file, whose own hash stands in for torchvision's.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path

import gimp_chroot
import pytest
from support.web import serving

sys.path.insert(0, str(gimp_chroot.PLUGIN_DIR))

from restyle_client import launcher  # noqa: E402
from restyle_client import weights_setup as ws  # noqa: E402
from restyle_gimp_job import PluginError  # noqa: E402
from restyle_gimp_weights import Choice, get_weights, missing, script_text  # noqa: E402

STAND_IN = b"VGG19, or what passes for it here\n" * 100_000


@pytest.fixture
def stand_in(monkeypatch, tmp_path_factory) -> Iterator[Path]:
    """weights_setup pointed at a local web server serving the stand-in; yields the folder it serves."""
    folder = tmp_path_factory.mktemp("served")
    (folder / ws.FILE).write_bytes(STAND_IN)
    with serving(folder) as base:
        monkeypatch.setattr(ws, "URL", base + ws.FILE)
        monkeypatch.setattr(ws, "HASH_PREFIX", hashlib.sha256(STAND_IN).hexdigest()[:8])
        yield folder


def server_config(tmp_path: Path, *args: str) -> launcher.ServerConfig:
    program = tmp_path / "venv" / "bin" / "restyle"
    program.parent.mkdir(parents=True, exist_ok=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    return launcher.ServerConfig(command=[str(program), "serve", *args])


class Person:
    """Answers the plug-in's questions in turn, and notes what it was shown."""

    def __init__(self, *answers: Choice, picks: tuple[Path | None, ...] = ()) -> None:
        self.answers, self.picks = list(answers), list(picks)
        self.questions: list[str] = []
        self.progress: list[tuple[str, float | None]] = []

    def ask(self, text: str) -> Choice:
        self.questions.append(text)
        return self.answers.pop(0)

    def pick(self) -> Path | None:
        return self.picks.pop(0)

    def status(self, text: str, fraction: float | None) -> None:
        self.progress.append((text, fraction))


def test_it_asks_only_when_the_server_it_would_start_lacks_the_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    target = tmp_path / "torch" / "hub" / "checkpoints" / ws.FILE
    local = "tcp://127.0.0.1:7865"
    assert missing(local, server_config(tmp_path), with_keys=False) == target
    assert missing(local, server_config(tmp_path, "--weights", "random:0"), with_keys=False) is None
    assert missing(local, server_config(tmp_path), with_keys=True) is None  # never started with keys
    assert missing("tcp://gpu-box:7865", server_config(tmp_path), with_keys=False) is None
    target.parent.mkdir(parents=True)
    target.write_bytes(b"in place")
    assert missing(local, server_config(tmp_path), with_keys=False) is None


def test_download_fills_gimp_s_progress_bar_and_puts_the_file_in_place(tmp_path, stand_in):
    target = tmp_path / "checkpoints" / ws.FILE
    person = Person(Choice.DOWNLOAD)
    get_weights(target, person.ask, person.pick, person.status)
    assert target.read_bytes() == STAND_IN
    assert "548 MB" in person.questions[0] and str(target) in person.questions[0]
    texts = [text for text, _ in person.progress]
    assert texts[-1] == f"Downloading VGG19's weights: {len(STAND_IN) / 1e6:.0f} of {len(STAND_IN) / 1e6:.0f} MB\u2026"
    assert person.progress[-1][1] == 1.0


def test_a_wrong_file_is_refused_and_asked_again_then_a_right_one_is_used(tmp_path, stand_in):
    wrong = tmp_path / "resnet50.pth"
    wrong.write_bytes(b"another network")
    target = tmp_path / "checkpoints" / ws.FILE
    person = Person(Choice.PICK, Choice.PICK, Choice.PICK, picks=(wrong, None, stand_in / ws.FILE))
    get_weights(target, person.ask, person.pick, person.status)
    assert target.read_bytes() == STAND_IN
    assert len(person.questions) == 3
    assert "resnet50.pth is not torchvision's VGG19 file" in person.questions[1]


def test_offline_the_question_comes_back_with_what_to_do_and_cancel_says_it_once_more(tmp_path, monkeypatch):
    monkeypatch.setattr(ws, "URL", f"http://127.0.0.1:9/{ws.FILE}")
    target = tmp_path / "checkpoints" / ws.FILE
    person = Person(Choice.DOWNLOAD, Choice.CANCEL)
    with pytest.raises(PluginError) as info:
        get_weights(target, person.ask, person.pick, person.status)
    assert "could not be downloaded" in person.questions[1] and "on another machine" in person.questions[1]
    assert str(info.value) == script_text(target)
    assert not (tmp_path / "checkpoints").exists()


def test_a_script_is_told_what_is_needed_and_every_way_to_get_it():
    target = Path("/home/a/.cache/torch/hub/checkpoints") / ws.FILE
    text = script_text(target)
    assert "548 MB" in text and str(target) in text and ws.URL in text
    assert "Filters \u25b8 Artistic \u25b8 Restyle\u2026" in text and "install.py --download-weights" in text
    assert " | " not in text
