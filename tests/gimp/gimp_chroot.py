"""Runs real GIMP 3 headless in the Debian trixie chroot that `setup.sh` builds.

Each run gets its own private mount namespace (`unshare --mount`), in which /proc is
mounted for GIMP and, for the missing-package test, empty folders hide Python packages.
The kernel drops those mounts when the run's last process exits, however it exits, so
a crashed or timed-out GIMP cannot leave a mount behind in the shared cache folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PLUGIN_DIR = REPO / "plugin" / "gimp" / "restyle"
DRIVERS = Path(__file__).resolve().parent / "drivers"
DEFAULT_ROOT = "/var/cache/restyle/gimp-trixie"
READY_STAMP = ".restyle-ready"
GIMP_TIMEOUT = 150  # seconds, for one whole GIMP session
PYTHON_PACKAGES = "usr/lib/python3/dist-packages"
# A GIMP profile made by one bare start, copied into each run's HOME: a fresh profile
# makes GIMP query every plug-in it has, which triples the start-up time.
PROFILE_TEMPLATE = "var/cache/restyle-gimp-profile"
HOST_ROOT = "/restyle-host"  # where a run with host_root sees the host's root


def chroot_root() -> Path:
    return Path(os.environ.get("RESTYLE_GIMP_CHROOT", DEFAULT_ROOT))


def unavailable_reason() -> str | None:
    """Why GIMP cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "running GIMP in its chroot needs root"
    root = chroot_root()
    if not (root / READY_STAMP).is_file():
        return f"no GIMP 3 chroot at {root} (run tests/gimp/setup.sh as root)"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is missing"
    return None


def gimp_console(root: Path) -> str:
    """The newest gimp-console-3.x in the chroot (3.0 in trixie, 3.2 later)."""
    found = sorted(
        (root / "usr" / "bin").glob("gimp-console-3.*"), key=lambda p: [int(n) for n in re.findall(r"\d+", p.name)]
    )
    if not found:
        raise RuntimeError(f"no gimp-console-3.x in {root}/usr/bin")
    return found[-1].name


def gimp_series(console: str) -> str:
    """ "3.0" for gimp-console-3.0: the user folder is named after major.minor."""
    return console.rsplit("-", 1)[1]


@dataclass
class GimpRun:
    returncode: int
    output: str
    work: Path  # the run's folder on the host; the driver's files are there

    def report(self) -> dict:
        path = self.work / "report.json"
        if not path.is_file():
            raise AssertionError(f"the GIMP driver wrote no report; GIMP said:\n{self.output}")
        return json.loads(path.read_text())


@contextmanager
def gimp_workdir() -> Iterator[tuple[Path, str]]:
    """A fresh folder inside the chroot: (host path, the same path seen from inside)."""
    root = chroot_root()
    inside = f"/tmp/restyle-e2e-{uuid.uuid4().hex[:12]}"
    host = root / inside.lstrip("/")
    host.mkdir(parents=True)
    try:
        yield host, inside
    finally:
        shutil.rmtree(host, ignore_errors=True)


def install_plugin(home: Path, series: str) -> Path:
    """Install the plug-in into `home`'s GIMP profile with install.py, as a user would."""
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "install.py"),
            "--home",
            str(home),
            "--plugins-only",
            "--no-krita",
            "--no-python-check",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    target = home / ".config" / "GIMP" / series / "plug-ins" / "restyle"
    if done.returncode != 0 or not (target / "restyle.py").is_file():
        raise RuntimeError(f"install.py did not install the GIMP plug-in into {target}:\n{done.stdout}")
    return target


def _gimp_command(
    root: Path, home_inside: str, batch: str, timeout: int, extra_env: str = "", gui: bool = False
) -> str:
    """GIMP without its interface, or (`gui`) with it, for what only its windows do."""
    console = gimp_console(root)
    program = f"{console.replace('gimp-console-', 'gimp-')} --no-splash" if gui else f"{console} -i"
    return (
        f"chroot {q(root)} env -i HOME={q(home_inside)} PATH=/usr/bin:/bin LANG=C.UTF-8 "
        f"{extra_env} timeout -k 5 {timeout} {program} --batch-interpreter python-fu-eval "
        f"-b {q(batch)} --quit"
    )


def _in_private_mounts(root: Path, mounts: Sequence[str], command: str, timeout: int):
    script = " && ".join([f"mount -t proc proc {q(root / 'proc')}", *mounts, command])
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )


def profile_template() -> Path:
    """The warm profile (made once per chroot; built aside and renamed into place)."""
    root = chroot_root()
    template = root / PROFILE_TEMPLATE
    if template.is_dir():
        return template
    building = template.with_name(f"{template.name}.{uuid.uuid4().hex[:8]}")
    building.mkdir(parents=True)
    inside = "/" + str(building.relative_to(root))
    done = _in_private_mounts(root, [], _gimp_command(root, inside, "pass", 120), 180)
    if done.returncode != 0 or not (building / ".config" / "GIMP").is_dir():
        shutil.rmtree(building, ignore_errors=True)
        raise RuntimeError(f"a bare GIMP start failed ({done.returncode}):\n{done.stdout}")
    try:
        building.rename(template)
    except OSError:  # another session was faster; theirs is as good
        shutil.rmtree(building, ignore_errors=True)
    return template


def run_driver(
    host: Path,
    inside: str,
    driver: str,
    params: dict,
    *,
    hide_packages: Sequence[str] = (),
    display: str | None = None,
    server_json: dict | None = None,
    host_root: bool = False,
    timeout: int = GIMP_TIMEOUT,
    gui: bool = False,
) -> GimpRun:
    """Run `drivers/<driver>` inside GIMP with `params` (as params.json beside it).

    GIMP's HOME is the work folder, with the plug-in installed in it.  The driver
    writes report.json and any exported files into the work folder.  With `display`
    (an X display of the host, e.g. Xvfb's ":99"), GIMP's plug-ins can open windows.
    `server_json` replaces the server.json that install.py recorded (whose command is
    a host path, absent inside the chroot).  With `host_root`, the host's own root is
    seen at HOST_ROOT inside the chroot, so that a recorded command can start this
    checkout's real `restyle serve` there (`chroot HOST_ROOT .../restyle serve`).
    """
    root = chroot_root()
    shutil.copytree(profile_template(), host / "home", symlinks=True)
    install_plugin(host / "home", gimp_series(gimp_console(root)))
    if server_json is not None:
        (host / "home" / ".config" / "restyle" / "server.json").write_text(json.dumps(server_json))
    shutil.copy(DRIVERS / "gimp_driver_common.py", host / "gimp_driver_common.py")
    shutil.copy(DRIVERS / driver, host / "driver.py")
    (host / "params.json").write_text(json.dumps({**params, "work": inside}))

    empty = host / "empty"
    empty.mkdir()
    mounts = [f"mount --bind {q(empty)} {q(root / PYTHON_PACKAGES / package)}" for package in hide_packages]
    extra_env = ""
    if display is not None:
        (root / "tmp" / ".X11-unix").mkdir(exist_ok=True)
        mounts.append(f"mount --bind /tmp/.X11-unix {q(root / 'tmp' / '.X11-unix')}")
        extra_env = f"DISPLAY={q(display)}"
    if host_root:
        # In the chroot itself, not in the work folder that is deleted after the run: the
        # mount exists only in this run's namespace, but nothing must ever delete through it.
        (root / HOST_ROOT.lstrip("/")).mkdir(exist_ok=True)
        mounts.append(f"mount --rbind / {q(root / HOST_ROOT.lstrip('/'))}")
    bootstrap = f"import sys; sys.path.insert(0, {inside!r}); exec(open({inside + '/driver.py'!r}).read())"
    command = _gimp_command(root, inside + "/home", bootstrap, timeout, extra_env, gui=gui and display is not None)
    try:
        done = _in_private_mounts(root, mounts, command, timeout + 30)
    except subprocess.TimeoutExpired as exc:
        return GimpRun(124, (exc.stdout or "") + "\n[host timeout]", host)
    return GimpRun(done.returncode, done.stdout, host)


def q(value: object) -> str:
    text = str(value)
    return "'" + text.replace("'", "'\"'\"'") + "'"
