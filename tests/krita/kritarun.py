"""Running a real Krita under Xvfb with a private HOME, driven by the test driver plugin.

Standard library only: tests/krita/setup.sh runs it with the system Python to build
the HOME template (`python3 tests/krita/kritarun.py build-template DIR`).

Krita allows one instance per HOME (a second one hands its arguments to the first and
exits), and its first start spends ~15 s building a resource database, so every run
copies a HOME that was prepared once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
HARNESS = HERE / "harness"
DEFAULT_TEMPLATE = Path(os.environ.get("RESTYLE_KRITA_HOME_TEMPLATE", "/var/cache/restyle/krita-home"))
# Krita's embedded Python must see the system Python only, as on a user's machine: no
# virtual environment, no pyenv shims (which would change its sys.prefix).
KRITA_PATH = "/usr/bin:/bin:/usr/sbin:/sbin"


def krita_program() -> str | None:
    return shutil.which("krita", path=KRITA_PATH)


def missing_tools() -> list[str]:
    return [tool for tool in ("krita", "xvfb-run", "Xvfb") if shutil.which(tool, path=KRITA_PATH) is None]


def krita_version() -> str:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "krita"], capture_output=True, text=True)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def _install_harness(home: Path) -> None:
    sys.path.insert(0, str(REPO))
    try:
        from install import set_ini_key
    finally:
        sys.path.pop(0)
    pykrita = home / ".local" / "share" / "krita" / "pykrita"
    pykrita.mkdir(parents=True, exist_ok=True)
    shutil.copy2(HARNESS / "restyle_e2e.desktop", pykrita / "restyle_e2e.desktop")
    if (pykrita / "restyle_e2e").exists():
        shutil.rmtree(pykrita / "restyle_e2e")
    shutil.copytree(HARNESS / "restyle_e2e", pykrita / "restyle_e2e", ignore=shutil.ignore_patterns("__pycache__"))
    kritarc = home / ".config" / "kritarc"
    lines = kritarc.read_text().splitlines() if kritarc.exists() else []
    lines, _ = set_ini_key(lines, "python", "enable_restyle_e2e", "true")
    kritarc.parent.mkdir(parents=True, exist_ok=True)
    kritarc.write_text("\n".join(lines) + "\n")


def run_krita(
    home: Path, script: Path, out: Path, timeout: float = 150.0, env_extra: dict | None = None
) -> tuple[int, dict, str]:
    """Start Krita under Xvfb; the driver runs `script`'s scenarios and quits Krita.

    Returns Krita's exit code, the driver's report ({} if none was written) and the log.
    """
    _install_harness(home)
    out.mkdir(parents=True, exist_ok=True)
    runtime = home / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    report_path = out / "report.json"
    if report_path.exists():
        report_path.unlink()
    drop = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "PYENV_VERSION")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        HOME=str(home),
        XDG_RUNTIME_DIR=str(runtime),
        PATH=KRITA_PATH,
        RESTYLE_E2E_SCRIPT=str(script),
        RESTYLE_E2E_OUT=str(out),
        RESTYLE_E2E_REPORT=str(report_path),
        RESTYLE_E2E_TIMEOUT=str(max(10.0, timeout - 20.0)),
    )
    env.update(env_extra or {})
    command = [
        "timeout",
        "-k",
        "10",
        str(int(timeout)),
        "xvfb-run",
        "-a",
        "-s",
        "-screen 0 1280x1024x24 -nolisten tcp",
        "krita",
        "--nosplash",
    ]
    log_path = out / "krita.log"
    for attempt in range(2):
        with open(log_path, "w") as log:
            rc = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(home)).returncode
        text = log_path.read_text(errors="replace")
        # After a killed run xvfb-run can fail to find a display once; a retry fixes it.
        if "could not connect to display" in text.lower() and not report_path.exists() and attempt == 0:
            continue
        break
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    return rc, report, text


def build_template(target: Path) -> bool:
    """Start Krita once in an empty HOME and keep that HOME; True when a new one was made."""
    stamp = target / ".restyle-template"
    wanted = f"krita {krita_version()}\n"
    if stamp.exists() and stamp.read_text() == wanted:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="krita-home-", dir=str(target.parent)))
    script = work / "noop_scenario.py"
    script.write_text("def scenarios(ctx):\n    return []\n")
    try:
        rc, report, log = run_krita(work, script, work / "out", timeout=180)
        if rc != 0 or not report or report.get("error"):
            raise RuntimeError(f"Krita did not start cleanly (exit {rc}, report {report}):\n{log[-3000:]}")
        for leftover in ("out", "runtime", "noop_scenario.py"):
            path = work / leftover
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        (work / ".restyle-template").write_text(wanted)
        if target.exists():
            shutil.rmtree(target)
        work.rename(target)
    finally:
        if work.exists():
            shutil.rmtree(work)
    return True


def copy_home(template: Path, home: Path) -> None:
    shutil.copytree(template, home, symlinks=True, dirs_exist_ok=True)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "build-template":
        made = build_template(Path(sys.argv[2]))
        print(("built" if made else "kept") + f" the Krita HOME template {sys.argv[2]}")
    else:
        sys.exit("usage: kritarun.py build-template DIR")


def install_plugin(home: Path, endpoint: str) -> None:
    """The plugin installed into `home` by install.py, as an artist does, pointed at `endpoint`."""
    installed = subprocess.run(
        [sys.executable, str(REPO / "install.py"), "--home", str(home), "--plugins-only", "--no-gimp",
         "--endpoint", endpoint],
        capture_output=True, text=True,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
