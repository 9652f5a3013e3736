#!/usr/bin/env python3
"""Install Restyle for this user: the server, the Krita plugin and the GIMP plug-in.

    python3 install.py              # everything
    python3 install.py --dry-run    # show what would happen
    python3 install.py --uninstall  # remove exactly what an earlier run added
    python3 install.py --download-weights  # also fetch VGG19's weights now (548 MB, once)

Only the standard library is used, so any Python 3.9 or newer can run this before
anything else is installed.  Every change is recorded in a manifest, which is what
makes re-running safe and `--uninstall` exact; so is which of the files the server may
make later (its log, VGG19's weights) were not there yet.  The checkout is only read.
What venv and pip print goes to a log file, named when a step fails; the terminal gets
one line per step.
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent
TORCH_VERSION = "2.13.0"
DEFAULT_ENDPOINT = "tcp://127.0.0.1:7865"
PLUGIN_NAME = "restyle"
CLIENT_DEPS = ("pyzmq", "msgpack")
# Python of the Krita builds that bundle their own (Windows, macOS, AppImage, Flatpak).
BUNDLED_KRITA_PYTHON = "3.10"
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")
# What a checkout holds besides the source: none of it belongs in the server's package.
SOURCE_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", ".pytest_cache", "__pycache__", "*.pyc", "*.pyo"
)
# The options of every pip run: pip's cache would keep a second copy of torch (gigabytes)
# in the user's cache, where --uninstall cannot tell it from anything else's.
PIP_OPTIONS = ("--no-cache-dir", "--disable-pip-version-check")
SERVER_LOG = "server.log"  # plugin/restyle_client/launcher.py: the log of a server an editor starts
INSTALL_LOG = "install.log"


def load_weights_setup():
    """plugin/restyle_client/weights_setup.py, by path: it is stdlib-only, and nothing of the project
    is installed yet.  It names VGG19's file, where the server looks for it, and fetches it."""
    path = REPO / "plugin" / "restyle_client" / "weights_setup.py"
    spec = importlib.util.spec_from_file_location("restyle_weights_setup", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


WEIGHTS = load_weights_setup()


class InstallError(RuntimeError):
    """Something the user has to fix; the message says what."""


# --- where things go ------------------------------------------------------------------


class Places:
    """Per-platform folders, all derived from one home so tests can use a fake one."""

    def __init__(self, home: Path, platform: str = sys.platform, environ: dict | None = None) -> None:
        self.home = home
        self.platform = platform
        env = dict(os.environ if environ is None else environ)
        self.custom_home = environ is None and home != Path.home()
        # With --home, the user's own XDG/APPDATA variables would point outside it.
        get = (lambda key: None) if self.custom_home else env.get
        self._environ = {} if self.custom_home else env
        if platform.startswith("win"):
            self.config = Path(get("APPDATA") or home / "AppData" / "Roaming")
            self.data = Path(get("LOCALAPPDATA") or home / "AppData" / "Local")
        elif platform == "darwin":
            self.config = self.data = home / "Library" / "Application Support"
        else:
            self.config = Path(get("XDG_CONFIG_HOME") or home / ".config")
            self.data = Path(get("XDG_DATA_HOME") or home / ".local" / "share")

    @property
    def restyle_data(self) -> Path:
        return self.data / "restyle"

    @property
    def restyle_config(self) -> Path:
        return self.config / "restyle"

    @property
    def venv(self) -> Path:
        return self.restyle_data / "venv"

    @property
    def manifest(self) -> Path:
        return self.restyle_data / "install-manifest.json"

    @property
    def server_log(self) -> Path:
        return self.restyle_data / SERVER_LOG

    @property
    def install_log(self) -> Path:
        return self.restyle_data / INSTALL_LOG

    @property
    def weights(self) -> Path:
        """Where the server looks for VGG19's weights: torch's hub cache (the XDG cache on every
        platform), as weights_setup works it out."""
        return WEIGHTS.checkpoint_path(self._environ, self.home)

    def server_files(self) -> list[Path]:
        """The files a server started from this install may write: its log (where server.json says,
        and where the launcher puts it when server.json says nothing) and VGG19's weights, with
        their partial download (which the editors and --download-weights make the same way)."""
        weights = self.weights
        return [self.server_log, self.restyle_config / SERVER_LOG, weights, WEIGHTS.partial_path(weights)]

    def venv_program(self, name: str) -> Path:
        if self.platform.startswith("win"):
            return self.venv / "Scripts" / f"{name}.exe"
        return self.venv / "bin" / name


class KritaTarget:
    def __init__(
        self, label: str, pykrita: Path, kritarc: Path, bundled_python: bool, wheel_platforms: tuple[str, ...] = ()
    ) -> None:
        self.label, self.pykrita, self.kritarc = label, pykrita, kritarc
        self.bundled_python, self.wheel_platforms = bundled_python, wheel_platforms


def find_kritas(places: Places, force: bool, bundled_linux: bool) -> list[KritaTarget]:
    """Every Krita this user has (or has had): an existing settings or resource folder counts."""
    home, found = places.home, []
    if places.platform.startswith("win"):
        target = KritaTarget(
            "Krita (Windows)", places.config / "krita" / "pykrita", places.data / "kritarc", True, ("win_amd64",)
        )
        if force or (places.config / "krita").exists() or target.kritarc.exists():
            found.append(target)
        return found
    if places.platform == "darwin":
        target = KritaTarget(
            "Krita (macOS)",
            places.data / "krita" / "pykrita",
            home / "Library" / "Preferences" / "kritarc",
            True,
            ("macosx_10_15_universal2", "macosx_11_0_arm64", "macosx_10_15_x86_64"),
        )
        if force or (places.data / "krita").exists() or target.kritarc.exists():
            found.append(target)
        return found
    linux_wheels = ("manylinux_2_28_x86_64", "manylinux2014_x86_64", "manylinux_2_17_x86_64")
    native = KritaTarget(
        "Krita",
        places.data / "krita" / "pykrita",
        places.config / "kritarc",
        bundled_linux,
        linux_wheels if bundled_linux else (),
    )
    on_path = shutil.which("krita") is not None and not places.custom_home
    if force or on_path or (places.data / "krita").exists() or native.kritarc.exists():
        found.append(native)
    flatpak = home / ".var" / "app" / "org.kde.krita"
    if flatpak.exists():
        found.append(
            KritaTarget(
                "Krita (Flatpak)",
                flatpak / "data" / "krita" / "pykrita",
                flatpak / "config" / "kritarc",
                True,
                linux_wheels,
            )
        )
    return found


def find_gimps(places: Places) -> list[Path]:
    """The plug-ins folder of every GIMP 3.x profile of this user."""
    roots = [places.config / "GIMP"]
    if not places.platform.startswith("win") and places.platform != "darwin":
        roots.append(places.home / ".var" / "app" / "org.gimp.GIMP" / "config" / "GIMP")
    found = []
    for root in roots:
        for profile in sorted(glob.glob(str(root / "3.*"))):
            if Path(profile).is_dir():
                found.append(Path(profile) / "plug-ins")
    return found


# --- the manifest: what this installer added ---------------------------------------------


class Manifest:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.paths: list[str] = []  # files and folders this installer created
        self.folders: list[str] = []  # parent folders it had to make; removed again when empty
        # {"file", "key", "previous", "existed", "original", "written"}: the file's text before the
        # first install (None once something else changed it) and the text this installer left.
        self.kritarc: list[dict] = []
        self.server: list[str] = []  # the server's files and folders that were absent at install
        self.venv: str | None = None
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            self.paths = list(data.get("paths", []))
            self.folders = list(data.get("folders", []))
            self.kritarc = list(data.get("kritarc", []))
            self.server = list(data.get("server", []))
            self.venv = data.get("venv")

    def add_path(self, path: Path) -> None:
        if str(path) not in self.paths:
            self.paths.append(str(path))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "version": 2,
            "paths": self.paths,
            "folders": self.folders,
            "kritarc": self.kritarc,
            "server": self.server,
            "venv": self.venv,
        }
        self.path.write_text(json.dumps(data, indent=1), encoding="utf-8")


# --- actions ------------------------------------------------------------------------------


class Installer:
    def __init__(self, places: Places, dry_run: bool, log=print) -> None:
        self.places, self.dry_run, self.log = places, dry_run, log
        self.manifest = Manifest(places.manifest)
        self.notes: list[str] = []  # what the user still has to do
        self.krita_python = BUNDLED_KRITA_PYTHON
        self._log_file = None  # the install log, opened by the first command run

    def close(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def say(self, message: str) -> None:
        self.log(("would " if self.dry_run else "") + message)

    def run(self, command: list[str], step: str) -> None:
        """One line on the terminal for the step; what the command prints goes to the install log."""
        if self.dry_run:
            self.say("run: " + " ".join(command))
            return
        log = self.open_log()
        log.write(f"\n$ {' '.join(command)}\n")
        log.flush()
        self.progress(f"{step}\u2026 ")
        started = time.monotonic()
        try:
            code = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT).returncode
        except OSError as exc:
            log.write(f"{exc}\n")
            code = -1
        log.flush()
        if code != 0:
            self.log("failed")
            raise InstallError(
                f"{step} failed (exit code {code}). The full log is {self.places.install_log}; it ends:\n"
                + log_tail(self.places.install_log)
            )
        self.log(f"done ({seconds_text(time.monotonic() - started)})")

    def progress(self, text: str) -> None:
        """The start of a step's line; its end ("done", "failed") comes through `log`."""
        if self.log is print:
            print(text, end="", flush=True)
        else:
            self.log(text)

    @property
    def logged(self) -> bool:
        """Whether this run wrote the install log."""
        return self._log_file is not None

    def open_log(self):
        if self._log_file is None:
            path = self.places.install_log
            self.make_parents(path)
            self.manifest.add_path(path)
            self._log_file = open(path, "w", encoding="utf-8")  # kept open across the steps
        return self._log_file

    def save_manifest(self) -> None:
        self.make_parents(self.manifest.path)
        self.manifest.save()

    def make_parents(self, path: Path) -> None:
        for folder in reversed(missing_parents(path)):
            folder.mkdir()
            if str(folder) not in self.manifest.folders:
                self.manifest.folders.append(str(folder))

    def note_server_files(self) -> None:
        """Remember which of the server's files and folders do not exist yet: the ones the server
        makes later are Restyle's to remove, and ones that were already there are not."""
        for path in self.places.server_files():
            for candidate in [path, *missing_parents(path)]:
                if not candidate.exists() and str(candidate) not in self.manifest.server:
                    self.manifest.server.append(str(candidate))

    def copy_tree(self, source: Path, target: Path) -> None:
        self.say(f"copy {source} -> {target}")
        if self.dry_run:
            return
        if target.exists() and str(target) not in self.manifest.paths:
            raise InstallError(f"{target} exists and was not installed by Restyle; move it away and run again")
        if target.exists():
            shutil.rmtree(target)
        self.make_parents(target)
        shutil.copytree(source, target, ignore=IGNORE)
        self.manifest.add_path(target)

    def copy_file(self, source: Path, target: Path) -> None:
        self.say(f"copy {source} -> {target}")
        if self.dry_run:
            return
        if target.exists() and str(target) not in self.manifest.paths:
            raise InstallError(f"{target} exists and was not installed by Restyle; move it away and run again")
        self.make_parents(target)
        shutil.copy2(source, target)
        self.manifest.add_path(target)

    def write_file(self, target: Path, text: str) -> None:
        self.say(f"write {target}")
        if self.dry_run:
            return
        if target.exists() and str(target) not in self.manifest.paths:
            raise InstallError(f"{target} exists and was not written by Restyle; move it away and run again")
        self.make_parents(target)
        target.write_text(text, encoding="utf-8")
        self.manifest.add_path(target)

    # --- the server ---

    def install_venv(self, python: str, torch_index: str | None) -> None:
        venv = self.places.venv
        pip = [str(self.places.venv_program("python")), "-m", "pip", "install", *PIP_OPTIONS]
        if not venv.exists():
            if not self.dry_run:
                self.make_parents(venv)  # recorded, so that --uninstall removes them too
            self.run([python, "-m", "venv", str(venv)], f"Making the server's virtual environment {venv}")
            if not self.dry_run:
                self.manifest.venv = str(venv)
                self.save_manifest()
        else:
            self.say(f"reuse the virtual environment {venv}")
        self.run(pip + ["--upgrade", "pip"], "Updating its pip")
        torch = pip + [f"torch=={TORCH_VERSION}"]
        if torch_index:
            torch += ["--index-url", torch_index]
        self.run(torch, f"Installing torch {TORCH_VERSION} into it (the largest download: minutes)")
        self.install_from_copy(pip)

    def install_from_copy(self, pip: list[str]) -> None:
        """pip builds a setuptools project inside the folder it is given (build/, *.egg-info), so it
        gets a temporary copy: an install leaves the checkout as it was."""
        self.say(f"install {REPO} from a temporary copy (pip builds in the folder it is given)")
        with tempfile.TemporaryDirectory(prefix="restyle-source-") as tmp:
            copy = Path(tmp) / "restyle"
            if not self.dry_run:
                shutil.copytree(REPO, copy, symlinks=True, ignore=SOURCE_IGNORE)
            self.run(pip + [str(copy)], "Installing the Restyle server into it")

    def write_server_config(self, endpoint: str) -> None:
        config = {
            "endpoint": endpoint,
            "command": [str(self.places.venv_program("restyle")), "serve"],
            "log": str(self.places.server_log),
            "installed_from": str(REPO),
        }
        self.write_file(self.places.restyle_config / "server.json", json.dumps(config, indent=1) + "\n")

    # --- VGG19's weights ---

    def download_weights(self, url: str | None, hash_prefix: str | None) -> bool:
        """Fetch the weights to where the server looks, as the editors would on their first run;
        a failure is a note for the user (everything else is installed by then), and False."""
        target = self.places.weights
        if target.is_file():
            self.log(f"VGG19's weights are already in place: {target}")
            return True
        source = url or WEIGHTS.URL
        self.say(f"download {source} ({WEIGHTS.SIZE_TEXT}) to {target}")
        if self.dry_run:
            return True
        shown = [-1]

        def progress(done: int, total: int | None) -> None:
            percent = int(100 * done / total) if total else -1
            if sys.stdout.isatty() and percent != shown[0]:
                shown[0] = percent
                print("\r" + WEIGHTS.progress_text(done, total), end="", flush=True)

        started = time.monotonic()
        try:
            WEIGHTS.download(target, url=source, hash_prefix=hash_prefix, progress=progress)
        except WEIGHTS.SetupError as exc:
            self.notes.append(f"VGG19's weights were not downloaded. {exc}")
            return False
        finally:
            if shown[0] != -1:
                print()  # ends the line the progress was rewriting
        self.log(f"VGG19's weights are in place ({seconds_text(time.monotonic() - started)}): {target}")
        return True

    # --- Krita ---

    def install_krita(self, target: KritaTarget, check_python: bool) -> None:
        self.log(f"{target.label}: plugin folder {target.pykrita}")
        self.copy_file(REPO / "plugin" / "krita" / f"{PLUGIN_NAME}.desktop", target.pykrita / f"{PLUGIN_NAME}.desktop")
        self.copy_tree(REPO / "plugin" / "krita" / PLUGIN_NAME, target.pykrita / PLUGIN_NAME)
        self.copy_tree(REPO / "plugin" / "restyle_client", target.pykrita / "restyle_client")
        self.enable_in_kritarc(target.kritarc, f"enable_{PLUGIN_NAME}")
        if target.bundled_python:
            self.place_wheels(target.pykrita, self.krita_python, target.wheel_platforms)
        elif check_python:
            self.check_system_python("Krita")

    def enable_in_kritarc(self, kritarc: Path, key: str) -> None:
        self.say(f"set [python] {key}=true in {kritarc}")
        if self.dry_run:
            return
        original = read_exactly(kritarc)
        lines, previous = set_ini_key((original or "").splitlines(), "python", key, "true")
        text = "\n".join(lines) + "\n"
        entry = next((e for e in self.manifest.kritarc if e["file"] == str(kritarc) and e["key"] == key), None)
        if entry is None:
            self.manifest.kritarc.append(
                {
                    "file": str(kritarc),
                    "key": key,
                    "previous": previous,
                    "existed": original is not None,
                    "original": original or "",
                    "written": text,
                }
            )
        else:
            if original != entry.get("written"):
                entry["original"] = None  # Krita or the user changed it since: only our key can be undone
            entry["written"] = text
        self.make_parents(kritarc)
        write_exactly(kritarc, text)

    def place_wheels(self, folder: Path, python_version: str, platforms: tuple[str, ...]) -> None:
        """Unpack pyzmq and msgpack wheels for the editor's own Python beside the plugin."""
        with tempfile.TemporaryDirectory() as tmp:
            command = [
                sys.executable,
                "-m",
                "pip",
                "download",
                *PIP_OPTIONS,
                "--only-binary=:all:",
                "--no-deps",
                "--python-version",
                python_version,
                "--dest",
                tmp,
            ]
            for platform in platforms:
                command += ["--platform", platform]
            self.run(command + list(CLIENT_DEPS), f"Downloading {' and '.join(CLIENT_DEPS)} for Krita's own Python")
            if self.dry_run:
                self.say(f"unpack the wheels into {folder}")
                return
            for wheel in sorted(Path(tmp).glob("*.whl")):
                with zipfile.ZipFile(wheel) as archive:
                    tops = {name.split("/")[0] for name in archive.namelist()}
                    for top in sorted(tops):
                        if (folder / top).exists() and str(folder / top) not in self.manifest.paths:
                            raise InstallError(
                                f"{folder / top} exists and was not installed by Restyle; move it away and run again"
                            )
                    archive.extractall(folder)
                for top in sorted(tops):
                    self.manifest.add_path(folder / top)
                self.log(f"unpacked {wheel.name} into {folder}")

    def check_system_python(self, editor: str) -> None:
        python = "/usr/bin/python3"
        if not Path(python).exists():
            python = shutil.which("python3") or python
        try:
            ok = subprocess.run([python, "-c", "import zmq, msgpack"], capture_output=True).returncode == 0
        except OSError:
            ok = False
        if ok:
            self.log(f"{editor} uses {python}, which has pyzmq and msgpack: good")
        else:
            self.notes.append(
                f"{editor} uses the system Python ({python}), which lacks pyzmq or msgpack. Install them with "
                "your package manager: Debian/Ubuntu `sudo apt install python3-zmq python3-msgpack`, "
                "Fedora `sudo dnf install python3-zmq python3-msgpack`, Arch `sudo pacman -S python-pyzmq "
                "python-msgpack`."
            )

    # --- GIMP ---

    def install_gimp(self, plug_ins: Path, check_python: bool) -> None:
        source = REPO / "plugin" / "gimp" / PLUGIN_NAME
        if not (source / f"{PLUGIN_NAME}.py").exists():
            self.log(f"GIMP: {source} is not in this checkout; skipped {plug_ins}")
            return
        self.log(f"GIMP: plug-ins folder {plug_ins}")
        target = plug_ins / PLUGIN_NAME
        self.copy_tree(source, target)
        self.copy_tree(REPO / "plugin" / "restyle_client", target / "restyle_client")
        script = target / f"{PLUGIN_NAME}.py"
        self.say(f"make {script} executable")
        if not self.dry_run:
            script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        if check_python and not self.places.platform.startswith("win") and self.places.platform != "darwin":
            self.check_system_python("GIMP")

    # --- undoing ---

    def uninstall(self) -> None:
        manifest = self.manifest
        if not manifest.path.exists():
            self.log(f"Nothing to remove: no manifest at {manifest.path}.")
            return
        for entry in manifest.kritarc:
            self.restore_kritarc(entry)
        for raw in sorted(manifest.paths, key=len, reverse=True):
            self.remove(Path(raw))
        if manifest.venv and Path(manifest.venv).exists():
            self.say(f"remove the virtual environment {manifest.venv}")
            if not self.dry_run:
                shutil.rmtree(manifest.venv)
        for raw in manifest.server:
            if Path(raw).is_file():
                self.remove(Path(raw), "made by the server")
        self.remove(manifest.path)
        folders = {Path(raw) for raw in [*manifest.folders, *manifest.server]}
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            if folder.is_dir() and not folder.is_symlink() and not any(folder.iterdir()):
                self.say(f"remove the empty folder {folder}")
                if not self.dry_run:
                    folder.rmdir()

    def remove(self, path: Path, why: str = "") -> None:
        if not path.exists() and not path.is_symlink():
            return
        self.say(f"remove {path}" + (f" ({why})" if why else ""))
        if self.dry_run:
            return
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()

    def restore_kritarc(self, entry: dict) -> None:
        """Put back the text from before the install when nothing else has changed the file since;
        otherwise undo only Restyle's key, keeping what Krita and the user wrote meanwhile."""
        kritarc = Path(entry["file"])
        self.say(f"restore [python] {entry['key']} in {kritarc}")
        current = read_exactly(kritarc)
        if self.dry_run or current is None:
            return
        if current == entry.get("written") and entry.get("original") is not None:
            text = entry["original"]
        else:
            lines, _ = set_ini_key(current.splitlines(), "python", entry["key"], entry.get("previous"))
            text = "\n".join(lines) + "\n" if lines else ""
        if not entry.get("existed", True) and not text.strip():
            kritarc.unlink()
        else:
            write_exactly(kritarc, text)


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join("  " + line for line in text.rstrip().splitlines()[-lines:])


def seconds_text(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def this_script() -> str:
    """How to name install.py to the user: relative to where they are, when it is below."""
    here = Path(__file__).resolve()
    try:
        return str(here.relative_to(Path.cwd()))
    except ValueError:
        return str(here)


def missing_parents(path: Path) -> list[Path]:
    """The folders above `path` that do not exist, deepest first."""
    missing = []
    for parent in path.parents:
        if parent.exists():
            break
        missing.append(parent)
    return missing


def read_exactly(path: Path) -> str | None:
    """The file's text byte for byte (line ends and undecodable bytes kept), or None when it is absent."""
    try:
        return path.read_bytes().decode("utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return None


def write_exactly(path: Path, text: str) -> None:
    path.write_bytes(text.encode("utf-8", errors="surrogateescape"))


def set_ini_key(lines: list[str], section: str, key: str, value: str | None) -> tuple[list[str], str | None]:
    """Set (or with value None, remove) `key` in `[section]`; returns the new lines and the old value."""
    out = list(lines)
    header = f"[{section}]"
    start = next((i for i, line in enumerate(out) if line.strip() == header), None)
    if start is None:
        if value is None:
            return out, None
        if out and out[-1].strip():
            out.append("")
        return out + [header, f"{key}={value}"], None
    end = next((i for i in range(start + 1, len(out)) if out[i].strip().startswith("[")), len(out))
    for i in range(start + 1, end):
        name, sep, old = out[i].partition("=")
        if sep and name.strip() == key:
            if value is None:
                del out[i]
                if not any(line.strip() for line in out[start + 1 : end - 1]):
                    del out[start : end - 1]  # the section held only this key: it was ours
                    while out and not out[-1].strip():
                        out.pop()
            else:
                out[i] = f"{key}={value}"
            return out, old.strip()
    if value is not None:
        insert = end
        while insert > start + 1 and not out[insert - 1].strip():
            insert -= 1
        out.insert(insert, f"{key}={value}")
    return out, None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Install Restyle: the server, the Krita plugin and the GIMP plug-in.")
    parser.add_argument("--home", type=Path, default=None, help="install into this home folder instead of yours")
    parser.add_argument("--dry-run", action="store_true", help="show what would be done, change nothing")
    parser.add_argument("--uninstall", action="store_true", help="remove exactly what earlier runs added")
    parser.add_argument(
        "--plugins-only",
        "--no-venv",
        dest="plugins_only",
        action="store_true",
        help="skip the server's virtual environment (plugins and settings only)",
    )
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="the Python (3.10 or newer) that the server's virtual environment is made from",
    )
    parser.add_argument(
        "--torch-index-url", default=None, help="where pip gets torch, e.g. https://download.pytorch.org/whl/cpu"
    )
    parser.add_argument("--endpoint", default=DEFAULT_ENDPOINT, help=f"where the server listens ({DEFAULT_ENDPOINT})")
    parser.add_argument("--krita", action="store_true", help="install the Krita plugin even where no Krita was seen")
    parser.add_argument("--no-krita", action="store_true", help="leave Krita alone")
    parser.add_argument("--no-gimp", action="store_true", help="leave GIMP alone")
    parser.add_argument(
        "--bundled-python",
        action="store_true",
        help="Linux: Krita is an AppImage with its own Python; place pyzmq/msgpack wheels beside the plugin",
    )
    parser.add_argument(
        "--krita-python",
        default=BUNDLED_KRITA_PYTHON,
        metavar="X.Y",
        help=f"the Python version of a Krita with its own Python (default {BUNDLED_KRITA_PYTHON}, Krita 5.2)",
    )
    parser.add_argument(
        "--download-weights",
        action="store_true",
        help=f"also download VGG19's weights ({WEIGHTS.SIZE_TEXT}, once) to where the server looks for them; "
        "otherwise the editors offer it on their first run",
    )
    parser.add_argument(
        "--weights-url", default=None, metavar="URL", help=f"with --download-weights: a mirror of {WEIGHTS.URL}"
    )
    parser.add_argument("--weights-hash-prefix", default=None, help=argparse.SUPPRESS)  # tests' stand-in files
    parser.add_argument("--no-python-check", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    home = args.home.resolve() if args.home else Path.home()
    places = Places(home) if args.home else Places(home, environ=dict(os.environ))
    installer = Installer(places, args.dry_run)
    installer.krita_python = args.krita_python
    try:
        if args.uninstall:
            installer.uninstall()
            if not args.dry_run:
                print("Restyle is uninstalled. Restart Krita and GIMP if they are open.")
            return 0
        return install(installer, places, args)
    except InstallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        installer.close()
        made = installer.manifest.paths or installer.manifest.folders or installer.manifest.venv
        if not args.dry_run and not args.uninstall and made:
            installer.save_manifest()


def install(installer: Installer, places: Places, args: argparse.Namespace) -> int:
    check = not args.no_python_check
    if args.plugins_only:
        installer.log("Skipping the server's virtual environment (--plugins-only).")
    else:
        version = subprocess.run(
            [args.python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True
        ).stdout.strip()
        if tuple(int(p) for p in (version or "0.0").split(".")) < (3, 10):
            raise InstallError(
                f"the server needs Python 3.10 or newer; {args.python} is {version or 'unusable'}. "
                "Pass --python /path/to/python3.11"
            )
        installer.install_venv(args.python, args.torch_index_url)
    installer.write_server_config(args.endpoint)
    if not args.dry_run:
        installer.note_server_files()
    kritas = [] if args.no_krita else find_kritas(places, args.krita, args.bundled_python)
    for target in kritas:
        installer.install_krita(target, check)
    if not kritas and not args.no_krita:
        installer.log("No Krita found for this user (install Krita 5 and run this again, or pass --krita).")
    gimps = [] if args.no_gimp else find_gimps(places)
    for plug_ins in gimps:
        installer.install_gimp(plug_ins, check)
    if not gimps and not args.no_gimp:
        installer.log("No GIMP 3 profile found for this user (start GIMP 3 once, then run this again).")
    if not args.dry_run:
        installer.save_manifest()
    weights_ok = not args.download_weights or installer.download_weights(args.weights_url, args.weights_hash_prefix)
    print()
    print("Dry run: nothing was changed." if args.dry_run else "Restyle is installed.")
    for note in installer.notes:
        print("TO DO: " + note)
    print("Next:")
    if kritas:
        print("  Krita: restart it, then open Tools > Scripts > Restyle Layer... (the Restyle docker).")
    if gimps:
        print("  GIMP: restart it, then open Filters > Artistic > Restyle...")
    server = places.venv_program("restyle")
    if args.plugins_only and not server.exists():
        print(
            f"  No server was installed here (--plugins-only). Start `restyle serve --bind {args.endpoint}` "
            "where it is installed, or set the server's address in the editor."
        )
    else:
        print(
            f"  Both editors use the server at {args.endpoint} and start it when nothing answers there "
            f"(the first start takes a while); to start it yourself: {server} serve"
        )
    weights = places.weights
    home = f" --home {places.home}" if args.home else ""
    if weights.is_file():
        print(f"  VGG19's weights are in place: {weights}")
    else:
        print(
            f"  The first job needs VGG19's weights ({WEIGHTS.SIZE_TEXT}, downloaded once to {weights}): "
            f"the editors offer to download them, or run python3 {this_script()} --download-weights{home} now."
        )
    if installer.logged:
        print(f"  What venv and pip printed is in {places.install_log}")
    print(f"  To remove everything again: python3 {this_script()} --uninstall{home}")
    return 0 if weights_ok else 1


if __name__ == "__main__":
    sys.exit(main())
