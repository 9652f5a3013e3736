"""Getting VGG19's weights into place from an editor or the installer, with no torch.

The real file is 548 MB and this machine is offline, so a small stand-in file is served
by a local http.server, and its own SHA-256 prefix stands in for torchvision's.
"""

from __future__ import annotations

import ast
import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from restyle_client import weights_setup as ws
from support.web import serving

STAND_IN = bytes(range(256)) * 12_000  # about 3 MB: several chunks, so progress is seen more than once
STAND_IN_PREFIX = hashlib.sha256(STAND_IN).hexdigest()[:8]


@pytest.fixture
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of the stand-in file on a local web server (its folder is not the test's tmp_path)."""
    folder = tmp_path_factory.mktemp("served")
    (folder / ws.FILE).write_bytes(STAND_IN)
    with serving(folder) as base:
        yield base + ws.FILE


def everything_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


# --- where the server looks -------------------------------------------------------------------


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"XDG_CACHE_HOME": "/xdg/cache"},
        {"TORCH_HOME": "/torch/home"},
        {"TORCH_HOME": "~/th", "XDG_CACHE_HOME": "/xdg/cache"},
    ],
    ids=["default", "xdg-cache", "torch-home", "torch-home-wins"],
)
def test_the_file_goes_where_the_server_looks_for_it(monkeypatch, environ):
    torch = pytest.importorskip("torch")
    from core.weights import hub_checkpoint_path

    for key in ("TORCH_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(key, raising=False)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    assert torch.hub._hub_dir is None
    assert ws.checkpoint_path() == hub_checkpoint_path()


def test_a_given_home_and_environment_are_used_instead_of_this_process_s():
    home = Path("/home/someone")
    assert ws.checkpoint_path({}, home) == home / ".cache" / "torch" / "hub" / "checkpoints" / ws.FILE
    assert ws.checkpoint_path({"TORCH_HOME": "/t"}, home) == Path("/t/hub/checkpoints") / ws.FILE


def test_the_engine_uses_these_very_names_for_the_file():
    pytest.importorskip("torch")
    from core import weights

    assert (weights.TORCHVISION_FILE, weights.TORCHVISION_URL, weights.TORCHVISION_HASH_PREFIX) == (
        ws.FILE,
        ws.URL,
        ws.HASH_PREFIX,
    )
    assert ws.URL.endswith("/" + ws.FILE) and ws.FILE.startswith(f"vgg19-{ws.HASH_PREFIX}")


@pytest.mark.parametrize(
    "command,needs",
    [
        (["restyle", "serve"], True),
        (["restyle", "serve", "--weights", "default"], True),
        (["restyle", "serve", "--weights", "random:0"], False),
        (["restyle", "serve", "--weights=/data/vgg19.pth"], False),
    ],
)
def test_only_a_server_on_torchvision_s_weights_needs_the_file(command, needs):
    assert ws.uses_default_weights(command) is needs


# --- downloading ------------------------------------------------------------------------------


def test_a_download_lands_in_place_with_progress_and_nothing_beside_it(tmp_path, served):
    target = tmp_path / "torch" / "hub" / "checkpoints" / ws.FILE
    seen: list[tuple[int, int | None]] = []
    assert not ws.is_present(target)
    assert ws.download(target, url=served, hash_prefix=STAND_IN_PREFIX, progress=lambda *p: seen.append(p)) == target
    assert target.read_bytes() == STAND_IN and ws.is_present(target)
    assert everything_under(target.parent) == [ws.FILE]
    assert len(seen) > 1 and seen[-1] == (len(STAND_IN), len(STAND_IN))
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_a_download_with_the_wrong_hash_is_refused_and_nothing_is_left(tmp_path, served):
    with pytest.raises(ws.SetupError, match="damaged"):
        ws.download(tmp_path / "torch" / "hub" / "checkpoints" / ws.FILE, url=served, hash_prefix=ws.HASH_PREFIX)
    assert everything_under(tmp_path) == []  # no file, no partial file, no folders made for them


def test_a_cancelled_download_leaves_nothing(tmp_path, served):
    target = tmp_path / "torch" / "hub" / "checkpoints" / ws.FILE
    seen: list[int] = []
    with pytest.raises(ws.Cancelled):
        ws.download(
            target,
            url=served,
            hash_prefix=STAND_IN_PREFIX,
            progress=lambda done, total: seen.append(done),
            cancelled=lambda: len(seen) >= 1,
        )
    assert seen and seen[-1] < len(STAND_IN)
    assert everything_under(tmp_path) == []


def test_offline_the_failure_says_what_to_do_instead(tmp_path):
    target = tmp_path / "checkpoints" / ws.FILE
    with pytest.raises(ws.SetupError) as info:
        ws.download(target, url="http://127.0.0.1:9/" + ws.FILE)  # nothing listens on port 9
    message = str(info.value)
    assert "could not be downloaded" in message and ws.URL in message and str(target) in message
    assert everything_under(tmp_path) == []


def test_a_folder_that_existed_before_stays_after_a_failure(tmp_path, served):
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    with pytest.raises(ws.SetupError):
        ws.download(checkpoints / ws.FILE, url=served, hash_prefix="00000000")
    assert checkpoints.is_dir() and everything_under(checkpoints) == []


# --- a file the user has ----------------------------------------------------------------------


def test_a_picked_copy_is_checked_and_copied_into_place(tmp_path):
    picked = tmp_path / "Downloads" / "vgg19 (1).pth"
    picked.parent.mkdir()
    picked.write_bytes(STAND_IN)
    target = tmp_path / "torch" / "hub" / "checkpoints" / ws.FILE
    seen: list[int] = []
    ws.install_copy(picked, target, hash_prefix=STAND_IN_PREFIX, progress=lambda done, total: seen.append(done))
    assert target.read_bytes() == STAND_IN and picked.read_bytes() == STAND_IN
    assert everything_under(target.parent) == [ws.FILE]
    assert seen[-1] == len(STAND_IN)


def test_a_picked_file_that_is_not_vgg19_is_refused_by_name_and_nothing_is_left(tmp_path):
    picked = tmp_path / "resnet50.pth"
    picked.write_bytes(b"some other network")
    target = tmp_path / "torch" / "hub" / "checkpoints" / ws.FILE
    with pytest.raises(ws.SetupError, match=r"resnet50\.pth is not torchvision's VGG19 file"):
        ws.install_copy(picked, target)
    assert everything_under(tmp_path) == ["resnet50.pth"]


def test_a_picked_file_that_cannot_be_read_is_named(tmp_path):
    with pytest.raises(ws.SetupError, match="absent.pth cannot be read"):
        ws.install_copy(tmp_path / "absent.pth", tmp_path / "target" / ws.FILE)
    assert everything_under(tmp_path) == []


def test_picking_the_file_already_in_place_only_checks_it(tmp_path):
    target = tmp_path / ws.FILE
    target.write_bytes(STAND_IN)
    assert ws.install_copy(target, target, hash_prefix=STAND_IN_PREFIX) == target
    assert target.read_bytes() == STAND_IN and everything_under(tmp_path) == [ws.FILE]


# --- what a person reads ------------------------------------------------------------------------


def test_the_texts_say_what_is_needed_why_and_how_big():
    target = Path("/home/a/.cache/torch/hub/checkpoints") / ws.FILE
    needed = ws.needed_text(target)
    assert "548 MB" in needed and "once" in needed and str(target) in needed
    assert ws.progress_text(123_000_000, 574_673_361) == "Downloading VGG19's weights: 123 of 575 MB\u2026"
    assert ws.progress_text(5_000_000, None, "Copying") == "Copying VGG19's weights: 5 MB\u2026"
    assert " | " not in needed + ws.offline_text(target)


def test_the_module_runs_in_any_editor_s_python_and_in_install_py():
    """Standard library only, and Python 3.9 syntax: install.py loads it by path."""
    tree = ast.parse(Path(ws.__file__).read_text(), feature_version=(3, 9))
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}


def test_a_server_that_would_stop_for_want_of_the_file_is_recognised_before_it_starts(tmp_path):
    target = tmp_path / ws.FILE
    program = tmp_path / "restyle"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    assert ws.missing_for([str(program), "serve"], target)
    assert not ws.missing_for([str(program), "serve", "--weights", "random:0"], target)
    assert not ws.missing_for([str(tmp_path / "gone" / "restyle"), "serve"], target)  # it cannot start anyway
    assert not ws.missing_for([str(program), "-c", "print('not a server')"], target)
    assert not ws.missing_for([], target)
    target.write_bytes(b"in place")
    assert not ws.missing_for([str(program), "serve"], target)
