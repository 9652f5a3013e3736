"""Which server the docker talks to, and the states of that connection, without Qt."""

from __future__ import annotations

from enum import Enum


class ServerState(Enum):
    UNKNOWN = "unknown"  # not asked yet
    CHECKING = "checking"  # asking whether a server answers
    STARTING = "starting"  # none answered; the recorded one is starting
    CONNECTED = "connected"
    UNAVAILABLE = "unavailable"  # none answers, and none could be started


def endpoint_to_use(typed: str, recorded: str) -> str:
    """What the person typed into the docker, else the endpoint install.py recorded."""
    return typed.strip() or recorded
