"""Which queued job runs next: round robin between clients, not first come first served.

The client served least recently goes first (a client never served before counts as
least recent), ties going to whoever has waited longest.  So one client queueing ten
jobs cannot hold up a second client's single job behind all ten.  Only the I/O thread
touches this, so it holds no locks.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class _Queued(Generic[T]):
    seq: int
    job_id: str
    item: T


class FairQueue(Generic[T]):
    def __init__(self) -> None:
        self._queues: dict[bytes, deque[_Queued[T]]] = {}
        self._last_served: dict[bytes, int] = {}
        self._seq = itertools.count(1)
        self._turn = itertools.count(1)

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def push(self, client: bytes, job_id: str, item: T) -> None:
        self._queues.setdefault(client, deque()).append(_Queued(next(self._seq), job_id, item))

    def pop(self) -> tuple[bytes, T] | None:
        client = self._next_client(self._queues, self._last_served)
        if client is None:
            return None
        entry = self._queues[client].popleft()
        if not self._queues[client]:
            del self._queues[client]
        self._last_served[client] = next(self._turn)
        return client, entry.item

    def remove(self, client: bytes, job_id: str) -> T | None:
        queue = self._queues.get(client)
        if not queue:
            return None
        for entry in queue:
            if entry.job_id == job_id:
                queue.remove(entry)
                if not queue:
                    del self._queues[client]
                return entry.item
        return None

    def remove_client(self, client: bytes) -> list[T]:
        self._last_served.pop(client, None)
        return [e.item for e in self._queues.pop(client, ())]

    def planned(self) -> list[tuple[bytes, str, T]]:
        """Every queued job in the order it would start if nothing else arrived."""
        queues = {c: deque(q) for c, q in self._queues.items()}
        served = dict(self._last_served)
        turn = max(served.values(), default=0)
        order = []
        while True:
            client = self._next_client(queues, served)
            if client is None:
                return order
            entry = queues[client].popleft()
            if not queues[client]:
                del queues[client]
            turn += 1
            served[client] = turn
            order.append((client, entry.job_id, entry.item))

    @staticmethod
    def _next_client(queues: dict[bytes, deque[_Queued[T]]], served: dict[bytes, int]) -> bytes | None:
        best = None
        best_key = None
        for client, queue in queues.items():
            key = (served.get(client, 0), queue[0].seq)
            if best_key is None or key < best_key:
                best, best_key = client, key
        return best
