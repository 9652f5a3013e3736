"""An LRU of style targets bounded by memory, shared by every job and client.

Gram matrices for one style at one size cost a full feature pass to make; a second job
with the same style (the common case while an artist tweaks options) reuses them.  The
engine calls `get` and `[key] = value` from the worker thread; `stats()` is read from
the I/O thread for status replies, hence the lock.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any


class MemoryLRU:
    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def __setitem__(self, key: Hashable, value: Any) -> None:
        size = int(getattr(value, "nbytes", 0))
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= int(getattr(old, "nbytes", 0))
            if size > self.budget_bytes:
                return  # would evict everything and still not fit
            self._items[key] = value
            self._bytes += size
            while self._bytes > self.budget_bytes:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= int(getattr(evicted, "nbytes", 0))

    def __len__(self) -> int:
        return len(self._items)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "hits": self.hits,
                "misses": self.misses,
                "entries": len(self._items),
                "bytes": self._bytes,
                "budget_bytes": self.budget_bytes,
            }
