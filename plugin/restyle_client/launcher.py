"""Starting a server when none answers, with the command install.py recorded.

install.py writes `server.json`: the endpoint and the command that starts `restyle serve`
from the virtual environment it made.  An editor that finds nobody at its endpoint
starts that command, detached in its own session, so that the server outlives the
editor and is shared by every editor on the machine.  Its output goes to a log file,
whose last lines explain a failed start to the user.

Stdlib only, and no editor toolkit: Krita polls a `Launch` from Qt timers, GIMP's
plug-in blocks in `start_and_wait`, which polls the same `Launch` in a loop.  The same
path rules are in install.py, which cannot import this module (it runs before anything
is installed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from urllib.parse import urlsplit

from . import DEFAULT_ENDPOINT

CONFIG_NAME = "server.json"
START_TIMEOUT = 180.0  # the first start may load torch and VGG19 weights from disk
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class LaunchError(RuntimeError):
    """The server could not be started; the message says why, for the user."""


def config_dir(home: Path | None = None, platform: str = sys.platform, environ: Mapping[str, str] = os.environ) -> Path:
    home = Path(home) if home is not None else Path.home()
    if platform.startswith("win"):
        appdata = environ.get("APPDATA")
        return (Path(appdata) if appdata else home / "AppData" / "Roaming") / "restyle"
    if platform == "darwin":
        return home / "Library" / "Application Support" / "restyle"
    xdg = environ.get("XDG_CONFIG_HOME")
    return (Path(xdg) if xdg else home / ".config") / "restyle"


@dataclass
class ServerConfig:
    endpoint: str = DEFAULT_ENDPOINT
    command: list[str] = field(default_factory=list)  # starts a server; "--bind <endpoint>" is added
    log: str | None = None  # where a server the editor starts writes its output
    problem: str = ""  # why the file could not be used, for the user

    def start_command(self, endpoint: str) -> list[str]:
        return [*self.command, "--bind", endpoint] if self.command else []

    def log_path(self) -> Path:
        return Path(self.log) if self.log else config_dir() / "server.log"


def load(path: Path | None = None) -> ServerConfig:
    path = path or config_dir() / CONFIG_NAME
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ServerConfig(problem=f"{path} does not exist (run install.py to create it)")
    except (OSError, ValueError) as exc:
        return ServerConfig(problem=f"{path} cannot be read: {exc}")
    if not isinstance(raw, dict):
        return ServerConfig(problem=f"{path} does not hold a settings object")
    endpoint = raw.get("endpoint")
    command = raw.get("command")
    log = raw.get("log")
    return ServerConfig(
        endpoint=endpoint if isinstance(endpoint, str) and endpoint else DEFAULT_ENDPOINT,
        command=[str(c) for c in command] if isinstance(command, list) else [],
        log=log if isinstance(log, str) else None,
    )


def is_local(endpoint: str) -> bool:
    """Whether a server for `endpoint` would run on this machine (loopback or ipc).

    A server elsewhere has to be started there; starting one here would not help.
    """
    parts = urlsplit(endpoint)
    if parts.scheme == "ipc":
        return True
    if parts.scheme != "tcp":
        return False
    try:
        host = parts.hostname
    except ValueError:
        return False
    return host in LOCAL_HOSTS


def detached() -> dict:
    """Popen arguments that start a process outside the editor's process group and session.

    Editors end plug-ins by killing their whole group; what is started here must outlive that.
    """
    if sys.platform.startswith("win"):
        flags = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0) | getattr(subprocess, "DETACHED_PROCESS", 0)
        return {"creationflags": flags}
    return {"start_new_session": True}


class ServerProcess:
    def __init__(self, command: Sequence[str], log_path: Path) -> None:
        self.command = list(command)
        self.log_path = Path(log_path)
        self._proc: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def start(self) -> None:
        if not self.command:
            raise LaunchError("no command to start a server is set (run install.py)")
        program = self.command[0]
        if not Path(program).exists() and os.sep in program:
            raise LaunchError(f"the server program {program} does not exist (run install.py again)")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # Editors set PYTHONPATH/PYTHONHOME for their own Python; the server's venv must not see them.
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
                    **detached(),
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
        return f"the server stopped (exit code {code}):\n{log_tail(self.log_path) or 'no output'}"


def log_tail(path: Path, lines: int = 3) -> str:
    """The log's last lines, as lines: editors show messages over several lines."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


# --- what the user reads, the same in every editor -------------------------------------


def starting_text(command: Sequence[str]) -> str:
    return f"Starting the Restyle server ({Path(command[0]).name}); the first start takes a while\u2026"


def cannot_start_text(endpoint: str, why: str) -> str:
    return (
        f"No Restyle server answers at {endpoint}, and none can be started: {why}. "
        "Start one with `restyle serve`, or run install.py."
    )


# --- starting and waiting -------------------------------------------------------------


class LaunchState(Enum):
    STARTING = "starting"  # started; not answering yet
    READY = "ready"  # it answers
    FAILED = "failed"  # `Launch.error` says why, for the user


class Launch:
    """One try at starting the recorded server for `endpoint`, advanced by `poll()`.

    Nothing here waits, so an editor with an event loop drives it from a timer (Krita),
    and `start_and_wait` drives it in a plain loop for one that may block (GIMP's
    plug-in): both get the same checks, time-out and sentences.
    """

    def __init__(
        self,
        endpoint: str,
        config: ServerConfig,
        *,
        timeout: float = START_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.endpoint, self.config, self.timeout, self._clock = endpoint, config, timeout, clock
        self.state: LaunchState | None = None  # None until start()
        self.text = ""  # what to show while it starts
        self.error = ""
        self.process: ServerProcess | None = None
        self._deadline = 0.0

    def start(self) -> LaunchState:
        if not is_local(self.endpoint):
            return self._fail(
                f"No Restyle server answers at {self.endpoint}. It is on another machine: start "
                "`restyle serve` there, or correct the server address."
            )
        command = self.config.start_command(self.endpoint)
        if not command:
            return self._fail(cannot_start_text(self.endpoint, self.config.problem or "no start command is recorded"))
        process = ServerProcess(command, self.config.log_path())
        try:
            process.start()
        except LaunchError as exc:
            return self._fail(f"No Restyle server answers at {self.endpoint}, and starting one failed: {exc}.")
        self.process, self.text = process, starting_text(command)
        self._deadline = self._clock() + self.timeout
        self.state = LaunchState.STARTING
        return self.state

    def poll(self, answered: bool) -> LaunchState:
        """The state after one more ask: `answered` is whether the server replied to it."""
        if self.state is not LaunchState.STARTING or self.process is None:
            return self.state or self._fail("the server was not started yet")
        if answered:
            self.state = LaunchState.READY
        elif self.process.exit_code() is not None:
            self._fail(f"The Restyle server could not start: {self.process.failure()}")
        elif self._clock() > self._deadline:
            self._fail(
                f"The Restyle server was started but did not answer within {self.timeout:g} s; "
                f"see {self.process.log_path}."
            )
        return self.state

    def _fail(self, error: str) -> LaunchState:
        self.state, self.error = LaunchState.FAILED, error
        return self.state


def start_and_wait(
    endpoint: str,
    config: ServerConfig,
    answers: Callable[[str, float], bool],
    *,
    report: Callable[[str], None] = lambda text: None,
    timeout: float = START_TIMEOUT,
    interval: float = 0.5,
) -> ServerProcess:
    """Start the recorded server for `endpoint` and block until it answers.

    `answers(endpoint, seconds)` asks the server once (a hello) and says whether it
    replied; `report` gets the text to show, again every `interval` so a progress bar
    can pulse.  Raises LaunchError with the whole story when no server comes up.
    """
    launch = Launch(endpoint, config, timeout=timeout)
    state = launch.start()
    while state is LaunchState.STARTING:
        report(launch.text)
        state = launch.poll(answers(endpoint, interval))
    if state is LaunchState.FAILED or launch.process is None:
        raise LaunchError(launch.error)
    return launch.process


def hello_answers(endpoint: str, seconds: float, **client_options: object) -> bool:
    """One hello from a throwaway client: the usual `answers` for `start_and_wait`."""
    from .client import Client, ServerUnavailable

    with Client(endpoint, name="restyle-probe", **client_options) as probe:  # type: ignore[arg-type]
        try:
            probe.hello(timeout=seconds)
        except ServerUnavailable:
            return False
    return True
