"""What waits to go to one client, so a slow client costs memory bounded per job.

ZeroMQ holds at most SNDHWM messages per peer; past that the server keeps messages
here.  Progress, previews and queue positions coalesce: the newest replaces an unsent
older one for the same job.  Drawing-mode frames keep the newest `max_frames` per job,
and direct replies (pong, status, capabilities, refusals) the newest `max_replies`, so
a client that sends but never reads cannot grow them.  The rest (accepted, results,
errors that end a job) is kept whole, which the per-client job limit bounds.

A message may wait here unencoded, as a function that returns its frames: the worker
hands previews over so, and a preview that a newer one replaces is never encoded.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

Frames = list[Any] | Callable[[], list[Any]]
COALESCED = ("progress", "preview", "queued")
BOUNDED = ("frame", "reply")


class _Entry:
    __slots__ = ("kind", "job_id", "frames")

    def __init__(self, kind: str, job_id: str | None, frames: Frames) -> None:
        self.kind = kind
        self.job_id = job_id
        self.frames: Frames | None = frames


class Outbox:
    def __init__(self, max_frames: int = 64, max_replies: int = 64) -> None:
        self._entries: deque[_Entry] = deque()
        self._latest: dict[tuple[str, str | None], _Entry] = {}
        self._bounded: dict[tuple[str, str | None], deque[_Entry]] = {}
        self._limits = {"frame": max_frames, "reply": max_replies}
        self.coalesced = 0

    @staticmethod
    def _bound_key(entry: _Entry) -> tuple[str, str | None]:
        return (entry.kind, entry.job_id if entry.kind == "frame" else None)

    def __bool__(self) -> bool:
        return any(e.frames is not None for e in self._entries)

    def __len__(self) -> int:
        return sum(1 for e in self._entries if e.frames is not None)

    def put(self, kind: str, job_id: str | None, frames: Frames) -> None:
        if kind in COALESCED:
            waiting = self._latest.get((kind, job_id))
            if waiting is not None and waiting.frames is not None:
                waiting.frames = frames
                self.coalesced += 1
                return
        entry = _Entry(kind, job_id, frames)
        self._entries.append(entry)
        if kind in COALESCED:
            self._latest[(kind, job_id)] = entry
        elif kind in BOUNDED:
            waiting = self._bounded.setdefault(self._bound_key(entry), deque())
            waiting.append(entry)
            while len(waiting) > self._limits[kind]:
                waiting.popleft().frames = None
                self.coalesced += 1

    def flush(self, send: Callable[[list[Any]], bool]) -> bool:
        """Send in order until `send` says the peer is full; True when all went out."""
        while self._entries:
            entry = self._entries[0]
            if entry.frames is not None:
                if callable(entry.frames):
                    entry.frames = entry.frames()
                if not send(entry.frames):
                    return False
                entry.frames = None
            self._entries.popleft()
            if entry.kind in COALESCED and self._latest.get((entry.kind, entry.job_id)) is entry:
                del self._latest[(entry.kind, entry.job_id)]
            elif entry.kind in BOUNDED:
                key = self._bound_key(entry)
                waiting = self._bounded.get(key)
                if waiting and waiting[0] is entry:
                    waiting.popleft()
                if not waiting:
                    self._bounded.pop(key, None)
        return True
