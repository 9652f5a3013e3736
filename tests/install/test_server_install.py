"""install.py's server install for real, offline, from a copy of this checkout.

A real virtual environment and a real pip build of the project; pip may reach no index,
only stand-in wheels of the dependencies (metadata alone: an empty torch installs in a
second) and a wheel of the setuptools installed here. The server's own side effects, its
log and the weights' cache folder, are made by the server's real code.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Build outputs and environments of the checkout under test, which a clean checkout lacks.
CHECKOUT_IGNORE = shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__", ".pytest_cache")


def listing(root: Path) -> dict[str, bytes]:
    """Every folder and file under `root`, hidden and ignored ones included, with its bytes."""
    found: dict[str, bytes] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            found[os.path.relpath(os.path.join(folder, name), root)] = b"<dir>"
        for name in files:
            path = Path(folder, name)
            found[str(path.relative_to(root))] = path.read_bytes()
    return found


def stand_in_wheel(folder: Path, requirement: str) -> None:
    """A wheel of metadata only, whose version meets `requirement` (name==X or name>=X)."""
    match = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*[=>]=\s*([0-9.]+)", requirement)
    assert match, f"no stand-in for the requirement {requirement!r}"
    name, version = match.group(1).replace("-", "_"), match.group(2)
    info = f"{name}-{version}.dist-info"
    files = {
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: restyle-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{path},,\n" for path in [*files, f"{info}/RECORD"])
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)


def wheel_of_installed(folder: Path, name: str) -> None:
    """A wheel of a distribution installed here, so that pip builds the project offline."""
    dist = importlib.metadata.distribution(name)
    with zipfile.ZipFile(folder / f"{name}-{dist.version}-py3-none-any.whl", "w") as archive:
        for file in dist.files or []:
            if file.parts[0] != ".." and "__pycache__" not in file.parts:
                archive.write(Path(str(dist.locate_file(file))), str(file))


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheels")
    for requirement in importlib.metadata.requires("restyle") or []:
        if "extra ==" not in requirement:
            stand_in_wheel(folder, requirement)
    try:
        wheel_of_installed(folder, "setuptools")  # torch requires it, so the test environment has it
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("building the project offline needs setuptools installed in the test environment")
    return folder


def offline(home: Path, wheels: Path) -> dict[str, str]:
    """The user's environment with `home` as their home and pip cut off from every index."""
    own = ("XDG_", "PIP_", "TORCH_HOME", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    # pip runs `rustc --version` for its user agent; rustup's rustc keeps to the real home.
    env.setdefault("RUSTUP_HOME", str(Path.home() / ".rustup"))
    return {**env, "HOME": str(home), "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels), "PIP_CONFIG_FILE": os.devnull}


def install_py(checkout: Path, home: Path, wheels: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(checkout / "install.py"), "--home", str(home), *args]
    return subprocess.run(command, env=offline(home, wheels), capture_output=True, text=True, timeout=300)


class Installed:
    def __init__(self, checkout: Path, before: dict[str, bytes], home: Path, result: subprocess.CompletedProcess):
        self.checkout, self.before, self.home, self.result = checkout, before, home, result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, wheels: Path) -> Installed:
    """A clean copy of this checkout, installed from into a home that held nothing (Krita forced)."""
    checkout = tmp_path_factory.mktemp("checkout") / "restyle"
    shutil.copytree(REPO, checkout, ignore=CHECKOUT_IGNORE)
    before = listing(checkout)
    home = tmp_path_factory.mktemp("home")
    result = install_py(checkout, home, wheels, "--krita", "--no-python-check")
    return Installed(checkout, before, home, result)


def test_installing_the_server_leaves_the_checkout_as_it_was(installed):
    assert installed.result.returncode == 0, installed.result.stdout + installed.result.stderr
    assert (installed.home / ".local/share/restyle/venv/bin/restyle").exists()
    assert listing(installed.checkout) == installed.before


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_the_server_as_an_editor_would(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The launcher starts the recorded server (here it fails: its torch is a stand-in), and the
    weights' download fails, as on a machine without internet access."""
    from restyle_client import launcher

    from core import weights

    for key in [k for k in os.environ if k.startswith("XDG_") or k == "TORCH_HOME"]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(home))
    config = launcher.load(home / ".config" / "restyle" / "server.json")
    process = launcher.ServerProcess(config.start_command(config.endpoint), config.log_path())
    process.start()
    assert process.wait(120) != 0
    assert config.log_path().is_file()
    monkeypatch.setattr(weights, "TORCHVISION_URL", f"http://127.0.0.1:{unused_port()}/vgg19.pth")
    with pytest.raises(weights.WeightsError):
        weights.load_features("default")


def test_uninstall_after_the_server_ran_leaves_a_fresh_home_empty(installed, wheels, monkeypatch):
    assert installed.result.returncode == 0, installed.result.stderr
    run_the_server_as_an_editor_would(installed.home, monkeypatch)
    result = install_py(installed.checkout, installed.home, wheels, "--uninstall")
    assert result.returncode == 0, result.stderr
    assert listing(installed.home) == {}
