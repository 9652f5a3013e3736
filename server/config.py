"""Everything an operator can set on `restyle serve`, with the defaults docs/protocol.md lists."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from restyle_client import DEFAULT_ENDPOINT

MAX_LIMIT = 2**62  # ZeroMQ takes sizes as signed 64-bit integers


@dataclass
class Limits:
    """What one client may ask for; over any of these it gets an error, others go on."""

    max_pixels: int = 8192 * 8192  # per layer: content, each style, each mask
    # An 8192 x 8192 RGBA 16-bit layer is 512 MiB; a job sends it with a style layer
    # from the same document, which may be as large.  Also ZMQ_MAXMSGSIZE, per frame.
    max_message_bytes: int = 1280 * 1024 * 1024
    max_jobs_per_client: int = 8  # queued plus running
    max_jobs_total: int = 64
    # Messages a client has not read yet, held for it behind ZeroMQ's queue; past this
    # its new jobs are refused (`busy`) until it reads.  A client that reads never gets
    # near it: ZeroMQ's own queue takes even the largest result whole.
    max_unread_bytes: int = 64 * 1024 * 1024

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ServerConfig:
    bind: str = DEFAULT_ENDPOINT
    weights: str = "default"
    device: str | None = None
    precision: str = "auto"
    memory_gb: float | None = None  # per job on the device; None: what the device has free
    limits: Limits = field(default_factory=Limits)
    cache_bytes: int = 512 * 1024 * 1024  # style targets (Gram matrices) kept across jobs
    heartbeat_interval: float = 2.0  # how often clients should ping
    heartbeat_timeout: float = 20.0  # silence after which a client counts as gone
    keys: Path | None = None  # CurveZMQ key folder made by `restyle keys`
    # Messages ZeroMQ holds per client each way: outgoing, before the outbox takes over;
    # incoming, before a client that sends faster than the server reads is held back.
    hwm: int = 32
    max_pending_frames: int = 64  # drawing-mode frames held for a stalled client
    # Time a small job at start, so that estimates are this device's from the first
    # `hello` on (about a second on a 2-core CPU); jobs refine the figure either way.
    calibrate: bool = True
    # Several workers behind the one front (docs/cluster.md).  `devices`: one in-process
    # worker per entry ("cuda:0", "cpu"; a device named twice gets two); None: `device`.
    devices: list[str] | None = None
    # Ray instead: "auto" starts a local Ray instance, anything else is a cluster address.
    ray: str | None = None
    ray_cpu_workers: int | None = None  # CPU actors; None: one actor per GPU of the cluster
    ray_cpus_per_worker: int = 1  # each CPU actor's cores (its torch threads)
    ray_object_store_bytes: int | None = None  # for a local instance; None: Ray's default
    ray_timeout: float = 60.0  # for each actor to answer at start, and before one is counted lost

    def validate(self) -> None:
        """Refuse settings that would make the server useless or unsafe, saying which."""
        limits = self.limits
        for name in ("max_pixels", "max_message_bytes", "max_jobs_per_client", "max_jobs_total", "max_unread_bytes"):
            if not 1 <= getattr(limits, name) <= MAX_LIMIT:
                raise ValueError(f"{name} must be from 1 to {MAX_LIMIT}, not {getattr(limits, name):.6g}")
        if self.devices is not None and not self.devices:
            raise ValueError("--devices needs at least one device, e.g. cpu or cuda:0,cuda:1")
        if self.devices is not None and self.device is not None:
            raise ValueError("--devices names every worker's device; give it without --device")
        if self.devices is not None and self.ray is not None:
            raise ValueError("--devices is for workers in this process and --ray for Ray's; give one of them")
        if self.ray is None and self.ray_cpu_workers is not None:
            raise ValueError("--ray-cpu-workers is for workers on Ray; give --ray auto or --ray ADDRESS too")
        if self.ray_cpu_workers is not None and self.ray_cpu_workers < 1:
            raise ValueError(f"--ray-cpu-workers must be at least 1, not {self.ray_cpu_workers}")
        if self.ray_cpus_per_worker < 1:
            raise ValueError(f"--ray-cpus-per-worker must be at least 1, not {self.ray_cpus_per_worker}")
        if self.cache_bytes < 0:
            raise ValueError("the cache budget cannot be negative")
        if not (0 < self.heartbeat_interval < self.heartbeat_timeout):
            raise ValueError(
                f"the heartbeat timeout ({self.heartbeat_timeout:g} s) must be longer than the "
                f"interval ({self.heartbeat_interval:g} s), which must be positive"
            )
