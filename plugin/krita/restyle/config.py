"""Where the server lives: the small file install.py writes, read back by the plugin.

install.py records the endpoint and the command that starts the server from the virtual
environment it made, so the plugin can start a server when none answers.  The same
path rules are in install.py, which cannot import this module (it runs before anything
is installed).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from restyle_client import DEFAULT_ENDPOINT

CONFIG_NAME = "server.json"


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
    log: str | None = None  # where a server the plugin starts writes its output
    problem: str = ""  # why the file could not be used, for the status line

    def start_command(self, endpoint: str) -> list[str]:
        return [*self.command, "--bind", endpoint] if self.command else []


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
