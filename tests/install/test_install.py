"""install.py against temporary homes: real files, real kritarc edits, no downloads.

The server's virtual environment (torch alone is gigabytes) is only exercised through
--dry-run here; everything else runs for real.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import stat
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from support.web import serving

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "install.py"
KRITARC = "[General]\ntheme=Krita dark\n\n[python]\nenable_comics_project_management_tools=true\n"


def run(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    return subprocess.run(
        [sys.executable, str(INSTALL), "--home", str(home), *args], capture_output=True, text=True, env=env
    )


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else b"<dir>") for p in sorted(root.rglob("*"))}


def load_install() -> ModuleType:
    sys.path.insert(0, str(REPO))
    try:
        import install
    finally:
        sys.path.pop(0)
    return install


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def server_wrote_its_log(home: Path) -> None:
    """What a server that an editor started leaves: its log, where server.json says."""
    config = json.loads((home / ".config" / "restyle" / "server.json").read_text())
    write(Path(config["log"]), b"INFO listening on tcp://127.0.0.1:7865\n")


WEIGHTS = Path(".cache") / "torch" / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A user who has used Krita and GIMP 3.0 and 2.10, with a plugin of their own."""
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    (home / ".config" / "kritarc").write_text(KRITARC)
    own = home / ".local" / "share" / "krita" / "pykrita" / "my_tool"
    own.mkdir(parents=True)
    (own / "__init__.py").write_text("# mine\n")
    for version in ("3.0", "2.10"):
        (home / ".config" / "GIMP" / version).mkdir(parents=True)
    return home


def test_installs_the_krita_plugin_enabled_with_its_client(home):
    result = run(home, "--plugins-only")
    assert result.returncode == 0, result.stderr
    pykrita = home / ".local" / "share" / "krita" / "pykrita"
    assert (pykrita / "restyle.desktop").read_bytes() == (REPO / "plugin/krita/restyle.desktop").read_bytes()
    assert (pykrita / "restyle" / "docker.py").exists()
    assert (pykrita / "restyle_client" / "client.py").exists()
    assert not list(pykrita.rglob("__pycache__"))
    kritarc = (home / ".config" / "kritarc").read_text()
    assert "enable_restyle=true" in kritarc.split("[python]")[1]
    assert kritarc.startswith(KRITARC.rstrip("\n"))
    assert "Tools > Scripts > Restyle Layer" in result.stdout


def test_records_where_the_server_is_and_how_to_start_it(home):
    assert run(home, "--plugins-only", "--endpoint", "tcp://127.0.0.1:7999").returncode == 0
    config = json.loads((home / ".config" / "restyle" / "server.json").read_text())
    assert config["endpoint"] == "tcp://127.0.0.1:7999"
    assert config["command"] == [str(home / ".local/share/restyle/venv/bin/restyle"), "serve"]


def test_installs_the_gimp_plug_in_into_every_gimp_3_profile_only(home):
    (home / ".config" / "GIMP" / "3.1").mkdir()
    assert run(home, "--plugins-only").returncode == 0
    for version in ("3.0", "3.1"):
        target = home / ".config" / "GIMP" / version / "plug-ins" / "restyle"
        script = target / "restyle.py"
        assert script.read_bytes() == (REPO / "plugin/gimp/restyle/restyle.py").read_bytes()
        assert script.stat().st_mode & stat.S_IXUSR
        assert (target / "restyle_client" / "request.py").exists()
    assert not (home / ".config" / "GIMP" / "2.10" / "plug-ins").exists()


def test_running_it_again_changes_nothing_more(home):
    assert run(home, "--plugins-only").returncode == 0
    first = snapshot(home)
    again = run(home, "--plugins-only")
    assert again.returncode == 0, again.stderr
    assert snapshot(home) == first
    assert (home / ".config" / "kritarc").read_text().count("enable_restyle=") == 1


def test_uninstall_removes_exactly_what_was_added(home):
    (home / ".config" / "kritarc").write_text(KRITARC + "enable_restyle=false\n")
    before = snapshot(home)
    assert run(home, "--plugins-only").returncode == 0
    assert (home / ".config" / "kritarc").read_text().count("enable_restyle=true") == 1
    result = run(home, "--uninstall")
    assert result.returncode == 0, result.stderr
    assert snapshot(home) == before  # the user's own plugin, kritarc and folders included


def test_uninstall_leaves_a_bare_home_bare(tmp_path):
    (tmp_path / ".config").mkdir()
    (tmp_path / ".config" / "kritarc").write_text("[General]\ntheme=Krita dark\n")
    before = snapshot(tmp_path)
    assert run(tmp_path, "--plugins-only").returncode == 0
    assert (tmp_path / ".local" / "share" / "krita" / "pykrita" / "restyle").is_dir()
    assert run(tmp_path, "--uninstall").returncode == 0
    assert snapshot(tmp_path) == before


def test_uninstall_gives_a_used_home_back_byte_for_byte(tmp_path):
    """A kritarc with Windows line ends, no final newline and a [python] section of its own; a GIMP 3
    profile with a plug-in of its own; VGG19 already in torch's cache. Installed twice, as people do."""
    home = tmp_path / "home"
    write(home / ".config" / "kritarc", b"[General]\r\ntheme=Krita dark\r\n\r\n[python]\r\nenable_restyle=false\r\nx=1")
    write(home / ".config" / "GIMP" / "3.0" / "plug-ins" / "mine" / "mine.py", b"# mine\n")
    write(home / ".config" / "GIMP" / "3.0" / "pluginrc", b"(plug-in-def)\n")
    write(home / WEIGHTS, b"weights the user had\n")
    before = snapshot(home)
    for _ in range(2):
        assert run(home, "--plugins-only").returncode == 0
    assert (home / ".config" / "GIMP" / "3.0" / "plug-ins" / "restyle" / "restyle.py").exists()
    server_wrote_its_log(home)
    result = run(home, "--uninstall")
    assert result.returncode == 0, result.stderr
    assert snapshot(home) == before


def test_uninstall_removes_the_kritarc_it_made_but_keeps_what_krita_wrote_there(tmp_path):
    assert run(tmp_path, "--plugins-only", "--krita", "--no-gimp").returncode == 0
    kritarc = tmp_path / ".config" / "kritarc"
    assert run(tmp_path, "--uninstall").returncode == 0
    assert not kritarc.exists() and not (tmp_path / ".config").exists()
    assert run(tmp_path, "--plugins-only", "--krita", "--no-gimp").returncode == 0
    kritarc.write_text(kritarc.read_text() + "\n[MainWindow]\nState=AAAA\n")  # Krita ran and quit
    assert run(tmp_path, "--uninstall").returncode == 0
    assert kritarc.read_text() == "[MainWindow]\nState=AAAA\n"


def test_uninstall_removes_the_weights_the_server_downloaded(tmp_path):
    assert run(tmp_path, "--plugins-only").returncode == 0
    write(tmp_path / WEIGHTS, b"downloaded by the server\n")
    server_wrote_its_log(tmp_path)
    dry = run(tmp_path, "--uninstall", "--dry-run")
    assert f"would remove {tmp_path / WEIGHTS} (made by the server)" in dry.stdout
    assert (tmp_path / WEIGHTS).exists()
    assert run(tmp_path, "--uninstall").returncode == 0
    assert snapshot(tmp_path) == {}


def test_a_server_json_it_did_not_write_is_left_alone(home):
    mine = home / ".config" / "restyle" / "server.json"
    write(mine, b'{"endpoint": "tcp://gpu-box:7865"}\n')
    result = run(home, "--plugins-only")
    assert result.returncode == 1
    assert "was not written by Restyle" in result.stderr
    assert mine.read_bytes() == b'{"endpoint": "tcp://gpu-box:7865"}\n'


def test_wheels_for_a_krita_with_its_own_python_never_replace_a_package_already_there(tmp_path, monkeypatch):
    install = load_install()
    installer = install.Installer(install.Places(tmp_path, "linux", environ={}), dry_run=False, log=lambda text: None)
    pykrita = tmp_path / "pykrita"
    write(pykrita / "msgpack" / "__init__.py", b"# mine\n")

    def pip_download(command: list[str], step: str) -> None:
        dest = Path(command[command.index("--dest") + 1])
        with zipfile.ZipFile(dest / "msgpack-1.1.0-py3-none-any.whl", "w") as wheel:
            wheel.writestr("msgpack/__init__.py", "# from the wheel\n")

    monkeypatch.setattr(installer, "run", pip_download)
    with pytest.raises(install.InstallError, match="not installed by Restyle"):
        installer.place_wheels(pykrita, "3.10", ("manylinux2014_x86_64",))
    assert (pykrita / "msgpack" / "__init__.py").read_bytes() == b"# mine\n"


def test_uninstall_without_an_install_says_so(home):
    result = run(home, "--uninstall")
    assert result.returncode == 0 and "Nothing to remove" in result.stdout


def test_dry_run_shows_every_step_and_changes_nothing(home):
    before = snapshot(home)
    result = run(home, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert snapshot(home) == before
    out = result.stdout
    venv = home / ".local" / "share" / "restyle" / "venv"
    assert f"would run: {sys.executable} -m venv {venv}" in out
    assert "torch==2.13.0" in out and "--no-cache-dir" in out
    assert f"install {REPO}" in out
    assert "would copy" in out and "would set [python] enable_restyle=true" in out
    assert "nothing was changed" in out


def test_krita_builds_with_their_own_python_get_client_wheels_for_it(home):
    result = run(home, "--plugins-only", "--dry-run", "--bundled-python", "--no-gimp")
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if "pip download" in line)
    for part in ("--only-binary=:all:", "--python-version 3.10", "--platform manylinux2014_x86_64", "pyzmq msgpack"):
        assert part in line
    assert "unpack the wheels into" in result.stdout


def test_a_plugin_folder_it_did_not_make_is_left_alone(home):
    foreign = home / ".local" / "share" / "krita" / "pykrita" / "restyle"
    foreign.mkdir()
    (foreign / "__init__.py").write_text("# someone else's\n")
    result = run(home, "--plugins-only", "--no-gimp")
    assert result.returncode == 1
    assert "was not installed by Restyle" in result.stderr
    assert (foreign / "__init__.py").read_text() == "# someone else's\n"


def test_a_home_without_krita_or_gimp_gets_told_so(tmp_path):
    result = run(tmp_path, "--plugins-only")
    assert result.returncode == 0
    assert "No Krita found" in result.stdout and "No GIMP 3 profile found" in result.stdout
    assert not (tmp_path / ".local" / "share" / "krita").exists()


def test_old_pythons_are_refused_for_the_server_with_advice(home, tmp_path):
    old = tmp_path / "python3.8"
    old.write_text("#!/bin/sh\necho 3.8\n")
    old.chmod(0o755)
    result = run(home, "--python", str(old))
    assert result.returncode == 1
    assert "needs Python 3.10 or newer" in result.stderr and "--python" in result.stderr


@pytest.mark.parametrize(
    "platform,pykrita,kritarc",
    [
        ("win32", "AppData/Roaming/krita/pykrita", "AppData/Local/kritarc"),
        ("darwin", "Library/Application Support/krita/pykrita", "Library/Preferences/kritarc"),
        ("linux", ".local/share/krita/pykrita", ".config/kritarc"),
    ],
)
def test_krita_folders_on_each_platform(tmp_path, platform, pykrita, kritarc):
    install = load_install()
    places = install.Places(tmp_path, platform, environ={})
    (target,) = install.find_kritas(places, force=True, bundled_linux=False)
    assert target.pykrita == tmp_path / pykrita and target.kritarc == tmp_path / kritarc
    assert target.bundled_python == (platform != "linux")


def test_install_py_needs_only_the_standard_library_of_python_3_9():
    tree = ast.parse(INSTALL.read_text(), feature_version=(3, 9))
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported - set(sys.stdlib_module_names)


# --- one line per step, the rest in a log ---------------------------------------------------------


def fake_python(path: Path, noise_lines: int, venv_exit: int = 0) -> Path:
    """A Python as far as install.py can tell: it reports 3.11, and its `-m venv DIR` makes DIR with a
    python of the same kind; every command prints a pip-sized screenful and exits with `venv_exit`."""
    path.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "-c" ]; then echo 3.11; exit 0; fi\n'
        f'i=0; while [ $i -lt {noise_lines} ]; do echo "Collecting something-$i (from pip noise)"; i=$((i+1)); done\n'
        f'if [ "$2" = "venv" ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python"; exit {venv_exit}; fi\n'
        "exit 0\n"
    )
    path.chmod(0o755)
    return path


def test_each_step_is_one_line_and_what_pip_prints_goes_to_the_log(home, tmp_path):
    result = run(home, "--python", str(fake_python(tmp_path / "python3", noise_lines=150)), "--no-python-check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pip noise" not in result.stdout + result.stderr
    steps = [line for line in result.stdout.splitlines() if line.endswith(("s)", "min)")) and "\u2026 done (" in line]
    assert [step.split("\u2026")[0] for step in steps] == [
        f"Making the server's virtual environment {home / '.local/share/restyle/venv'}",
        "Updating its pip",
        "Installing torch 2.13.0 into it (the largest download: minutes)",
        "Installing the Restyle server into it",
    ]
    log = (home / ".local" / "share" / "restyle" / "install.log").read_text()
    assert log.count("pip noise") == 4 * 150 and "torch==2.13.0" in log
    assert len(result.stdout.splitlines()) < 40
    assert f"What venv and pip printed is in {home / '.local/share/restyle/install.log'}" in result.stdout


def test_a_failed_step_names_the_full_log_and_quotes_its_end(home, tmp_path):
    result = run(home, "--python", str(fake_python(tmp_path / "python3", noise_lines=150, venv_exit=3)))
    assert result.returncode == 1
    log = home / ".local" / "share" / "restyle" / "install.log"
    assert "Making the server's virtual environment" in result.stdout and "failed" in result.stdout
    assert f"failed (exit code 3). The full log is {log}" in result.stderr
    assert "something-149" in result.stderr and "something-100" not in result.stderr  # its end only
    assert log.read_text().count("pip noise") == 150


def test_uninstall_removes_the_install_log_and_the_environment_too(home, tmp_path):
    before = snapshot(home)
    assert run(home, "--python", str(fake_python(tmp_path / "python3", noise_lines=5))).returncode == 0
    assert (home / ".local" / "share" / "restyle" / "install.log").is_file()
    assert run(home, "--uninstall").returncode == 0
    assert snapshot(home) == before


def test_the_closing_hint_is_a_command_to_paste_and_the_weights_are_mentioned(home):
    def closing(cwd: Path) -> str:
        command = [sys.executable, str(INSTALL), "--home", str(home), "--plugins-only"]
        return subprocess.run(command, capture_output=True, text=True, cwd=cwd).stdout

    assert f"To remove everything again: python3 install.py --uninstall --home {home}" in closing(REPO)
    elsewhere = closing(home)
    assert f"To remove everything again: python3 {INSTALL} --uninstall --home {home}" in elsewhere
    assert f"VGG19's weights (548 MB, downloaded once to {home / WEIGHTS})" in elsewhere
    assert f"python3 {INSTALL} --download-weights --home {home}" in elsewhere


# --- VGG19's weights ---------------------------------------------------------------------------------

STAND_IN = b"a stand-in for VGG19's weights\n" * 50_000


@pytest.fixture
def served(tmp_path_factory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("served")
    (folder / WEIGHTS.name).write_bytes(STAND_IN)
    with serving(folder) as base:
        yield base + WEIGHTS.name


def stand_in_hash() -> str:
    return hashlib.sha256(STAND_IN).hexdigest()[:8]


def test_download_weights_puts_them_where_the_server_looks_and_uninstall_takes_them_away(home, served):
    before = snapshot(home)
    result = run(
        home, "--plugins-only", "--download-weights", "--weights-url", served, "--weights-hash-prefix", stand_in_hash()
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (home / WEIGHTS).read_bytes() == STAND_IN
    assert "VGG19's weights are in place" in result.stdout and "--download-weights" not in result.stdout
    assert not list((home / WEIGHTS).parent.glob("*.partial"))
    assert run(home, "--uninstall").returncode == 0
    assert snapshot(home) == before


def test_download_weights_keeps_a_copy_already_there(tmp_path, served):
    write(tmp_path / WEIGHTS, b"weights the user had\n")
    result = run(tmp_path, "--plugins-only", "--download-weights", "--weights-url", served)
    assert result.returncode == 0 and "already in place" in result.stdout
    assert run(tmp_path, "--uninstall").returncode == 0
    assert (tmp_path / WEIGHTS).read_bytes() == b"weights the user had\n"


def test_a_failed_download_is_a_to_do_with_advice_and_leaves_nothing(home, served):
    wrong = run(home, "--plugins-only", "--download-weights", "--weights-url", served)  # torchvision's hash
    assert wrong.returncode == 1
    assert "TO DO: VGG19's weights were not downloaded. The downloaded file is damaged" in wrong.stdout
    offline = run(home, "--plugins-only", "--download-weights", "--weights-url", f"http://127.0.0.1:9/{WEIGHTS.name}")
    assert offline.returncode == 1
    assert "could not be downloaded" in offline.stdout and "https://download.pytorch.org/models/" in offline.stdout
    assert "Restyle is installed." in offline.stdout
    assert not (home / ".cache").exists()


def test_dry_run_says_it_would_download_the_weights(home):
    result = run(home, "--plugins-only", "--dry-run", "--download-weights")
    assert result.returncode == 0
    assert (
        f"would download https://download.pytorch.org/models/{WEIGHTS.name} (548 MB) to {home / WEIGHTS}"
        in result.stdout
    )
    assert not (home / ".cache").exists()


def test_the_installer_and_the_engine_agree_on_where_the_weights_go(tmp_path):
    install = load_install()
    for environ in ({}, {"XDG_CACHE_HOME": str(tmp_path / "xdg")}, {"TORCH_HOME": str(tmp_path / "th")}):
        places = install.Places(tmp_path, "linux", environ=environ)
        torch_home = environ.get("TORCH_HOME") or str(
            Path(environ.get("XDG_CACHE_HOME", tmp_path / ".cache")) / "torch"
        )
        assert places.weights == Path(torch_home) / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth"
