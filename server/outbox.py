"""What waits to go to one client, so a client that does not read costs bounded memory.

ZeroMQ holds at most SNDHWM messages per peer; past that the server keeps messages
here.  A message with pixels is encoded only as it is sent, so a preview that a newer
one replaces is never encoded; it counts its pixels plus `HEADER_BYTES`.  Any other is
small and encoded at once, so that it counts exactly what it holds (an error may quote
the client).  What is kept and what may be dropped is docs/protocol.md section 6, and
this is where it happens:

- progress, previews and queue positions: the newest per job replaces an unsent older one;
- drawing-mode frames: the newest `max_frames` per job;
- direct replies (capabilities, status, pong, an error without a job): the newest `max_replies`;
- `accepted` and job ends (result, cancelled, an error with a job id): never dropped.

What a client's messages count is held against `max_bytes`.  A client over that budget
is not reading: the server refuses its new jobs (`over_budget`), and the refusals it is
sent meanwhile count as direct replies, so it cannot grow them either.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from itertools import count
from typing import Any

from restyle_client import events as ev
from restyle_client.protocol import encode

HEADER_BYTES = 256  # counted for a message with pixels on top of them
LATEST = (ev.Progress, ev.Preview, ev.Queued)
REPLIES = (ev.Capabilities, ev.Status, ev.Pong)

Key = tuple[str, str | None]


def _measured(message: ev.Event) -> tuple[int, list[Any] | None]:
    """What `message` counts, and its frames if they were made to count it."""
    pixels = getattr(message, "pixels", None)
    if pixels is not None:
        return HEADER_BYTES + len(pixels.data), None
    frames = encode(message)
    return sum(len(f) for f in frames), frames


def message_bytes(message: ev.Event) -> int:
    return _measured(message)[0]


class _Entry:
    __slots__ = ("seq", "message", "size", "key", "frames")

    def __init__(self, seq: int, message: ev.Event, key: Key | None) -> None:
        self.seq = seq
        self.key = key  # the group it is coalesced or bounded in, if any
        self.hold(message)

    def hold(self, message: ev.Event) -> None:
        self.message = message
        self.size, self.frames = _measured(message)


class Outbox:
    def __init__(self, max_bytes: int, max_frames: int = 64, max_replies: int = 64) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._seq = count()
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._latest: dict[Key, _Entry] = {}
        self._bounded: dict[Key, deque[_Entry]] = {}
        self._limits = {"frame": max_frames, "reply": max_replies}

    def __bool__(self) -> bool:
        return bool(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def over_budget(self) -> bool:
        return self.bytes > self.max_bytes

    def put(self, message: ev.Event, reply: bool = False) -> None:
        """Queue `message`; `reply` marks an answer to a message the client just sent."""
        job_id = getattr(message, "job_id", None)
        if isinstance(message, LATEST):
            key: Key = (type(message).__name__, job_id)
            waiting = self._latest.get(key)
            if waiting is not None:
                self.bytes -= waiting.size
                waiting.hold(message)
                self.bytes += waiting.size
                return
            self._latest[key] = self._append(message, key)
            return
        if isinstance(message, ev.Frame):
            self._bound(self._append(message, ("frame", job_id)), "frame")
        elif isinstance(message, REPLIES) or (reply and (job_id is None or self.over_budget)):
            self._bound(self._append(message, ("reply", None)), "reply")
        else:
            self._append(message, None)

    def flush(self, send: Callable[[list[Any]], bool]) -> bool:
        """Send in order until `send` says the peer is full; True when all went out."""
        while self._entries:
            entry = next(iter(self._entries.values()))
            if entry.frames is None:
                entry.frames = encode(entry.message)
            if not send(entry.frames):
                return False
            self._remove(entry)
        return True

    def _append(self, message: ev.Event, key: Key | None) -> _Entry:
        entry = _Entry(next(self._seq), message, key)
        self._entries[entry.seq] = entry
        self.bytes += entry.size
        return entry

    def _bound(self, entry: _Entry, kind: str) -> None:
        assert entry.key is not None
        group = self._bounded.setdefault(entry.key, deque())
        group.append(entry)
        while len(group) > self._limits[kind]:
            self._remove(group[0])

    def _remove(self, entry: _Entry) -> None:
        """Forget `entry`, sent or dropped: always the oldest of its group."""
        del self._entries[entry.seq]
        self.bytes -= entry.size
        if entry.key is None:
            return
        if self._latest.get(entry.key) is entry:
            del self._latest[entry.key]
        group = self._bounded.get(entry.key)
        if group:
            if group[0] is entry:
                group.popleft()
            if not group:
                del self._bounded[entry.key]
