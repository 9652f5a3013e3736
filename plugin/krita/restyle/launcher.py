"""Starting a server when none answers, with the command install.py recorded.

The server is started detached, in its own session, so that it outlives this Krita and
is shared by every editor on the machine; its output goes to a log file, whose last
lines explain a failed start to the user.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


class LaunchError(RuntimeError):
    """The server could not be started; the message says why, for the user."""


class ServerProcess:
    def __init__(self, command: Sequence[str], log_path: Path) -> None:
        self.command = list(command)
        self.log_path = Path(log_path)
        self._proc: subprocess.Popen | None = None

    def start(self) -> None:
        if not self.command:
            raise LaunchError("no command to start a server is set (run install.py)")
        program = self.command[0]
        if not Path(program).exists() and os.sep in program:
            raise LaunchError(f"the server program {program} does not exist (run install.py again)")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict = {}
        if sys.platform.startswith("win"):
            kwargs["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0) | getattr(
                subprocess, "DETACHED_PROCESS", 0
            )
        else:
            kwargs["start_new_session"] = True
        # Krita sets PYTHONPATH/PYTHONHOME for its own Python; the server's venv must not see them.
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        try:
            with open(self.log_path, "wb") as log:
                self._proc = subprocess.Popen(
                    self.command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    close_fds=True,
                    **kwargs,
                )
        except OSError as exc:
            raise LaunchError(f"cannot run {program}: {exc.strerror or exc}") from exc

    def exit_code(self) -> int | None:
        """None while running (or never started)."""
        return None if self._proc is None else self._proc.poll()

    def wait(self, timeout: float) -> int | None:
        return None if self._proc is None else self._proc.wait(timeout)

    def failure(self) -> str:
        code = self.exit_code()
        return f"the server stopped (exit code {code}): {log_tail(self.log_path) or 'no output'}"


def log_tail(path: Path, lines: int = 3) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(kept[-lines:])
