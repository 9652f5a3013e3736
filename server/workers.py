"""The workers behind the ZeroMQ front: what a worker is, and the in-process ones.

A worker runs one job at a time on one device and keeps its network and style cache
warm between jobs.  The I/O thread hands queued jobs, in the fair queue's order, to
whichever worker is ready and idle.  In-process workers are threads of the server, one
per device the operator names (`--devices cuda:0,cuda:1`); Ray workers are actors
(server/ray_workers.py).  Both look the same to the server.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from core.pace import Pace

    from .config import ServerConfig
    from .worker import JobEntry, Post


WORKER_LOST = "worker_lost"  # the error code of a job whose worker died under it


class ClusterError(RuntimeError):
    """Ray cannot serve: not installed, unreachable, or without the resources asked for."""


class WorkerState(str, enum.Enum):
    """What the server may do with a worker; `busy` is the server's own view on top."""

    READY = "ready"  # takes a job now
    STARTING = "starting"  # being (re)started: its jobs wait in the queue
    LOST = "lost"  # cannot be reached; the server keeps trying


class Worker(Protocol):
    name: str

    @property
    def state(self) -> WorkerState: ...

    def start(self) -> None: ...

    def give(self, entry: JobEntry) -> None: ...

    def cancel(self, entry: JobEntry, reason: str) -> None: ...

    def describe(self) -> dict[str, Any]:
        """`device`, `node`, `speed` and `cache`, without blocking: status replies read it."""
        ...

    def stop(self, timeout: float | None = None) -> bool: ...


def pace_dict(pace: Pace | None) -> dict[str, float] | None:
    """A device's measured pace as capabilities carry it (docs/protocol.md §3.1)."""
    if pace is None:
        return None
    return {"iteration_s": pace.per_iteration, "megapixel_s": pace.per_pixel * 1e6}


def fastest(speeds: Sequence[dict[str, float] | None]) -> dict[str, float] | None:
    """The speed to announce for the server: its fastest worker's, on a 512 px iteration,
    since a lone job runs there whenever that worker is free."""
    known = [s for s in speeds if s is not None]
    if not known:
        return None
    return min(known, key=lambda s: s["iteration_s"] + s["megapixel_s"] * 0.262144)


def summed_cache(caches: Sequence[dict[str, int] | None]) -> dict[str, int]:
    """The style caches of every worker as one, for the top of a status report."""
    total = {"hits": 0, "misses": 0, "entries": 0, "bytes": 0, "budget_bytes": 0}
    for cache in caches:
        for key in total:
            total[key] += int((cache or {}).get(key, 0))
    return total


def split_threads(devices: Sequence[str], cores: int) -> int | None:
    """Threads for torch when several workers share this process's CPU: torch's count is
    per process, so each CPU worker gets an equal share of it; None leaves it alone."""
    on_cpu = sum(1 for d in devices if d.split(":")[0] == "cpu")
    if on_cpu < 2:
        return None
    return max(1, cores // on_cpu)


def local_workers(config: ServerConfig, post: Post, make_cache: Callable[[], Any]) -> list[Worker]:
    """One in-process worker per device named, each with its own engine and cache."""
    import torch

    from core.engine import StyleTransfer

    from .worker import LocalWorker

    devices = config.devices or [config.device]
    threads = split_threads([d or "" for d in devices], torch.get_num_threads())
    if threads is not None:
        torch.set_num_threads(threads)
    workers: list[Worker] = []
    for index, device in enumerate(devices):
        engine = StyleTransfer(
            weights=config.weights, device=device, precision=config.precision, style_cache=make_cache(),
            memory_gb=config.memory_gb,
        )
        workers.append(LocalWorker(f"{engine.device}#{index}", engine, post, config.calibrate))
    return workers
