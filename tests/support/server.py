"""Real Restyle servers for tests: a `restyle serve` subprocess, or a server thread,
and helpers that drive real clients against them.

Both bind a loopback port the OS picks and use seeded random VGG weights.  Heartbeats
are fast here (0.3 s interval, 3 s timeout) so tests notice vanished clients quickly.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq
from restyle_client import events as ev
from restyle_client.client import Client

REPO = Path(__file__).resolve().parents[2]
TEST_HEARTBEAT = {"heartbeat_interval": 0.3, "heartbeat_timeout": 3.0}


@dataclass
class ServerProcess:
    endpoint: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def serve_command() -> list[str]:
    """`restyle serve` as installed beside this Python (the venv), else the module."""
    script = Path(sys.executable).with_name("restyle")
    if script.exists():
        return [str(script), "serve"]
    return [sys.executable, "-m", "server.cli_serve"]


def _serve_args(options: dict[str, Any]) -> list[str]:
    args = []
    for name, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + name.replace("_", "-")
        args += [flag] if value is True else [flag, str(value)]
    return args


@contextlib.contextmanager
def running_server_process(start_timeout: float = 120.0, **server_options: Any) -> Iterator[ServerProcess]:
    """`restyle serve` in a subprocess; stopped with SIGTERM (then SIGKILL) on exit.

    Options are `restyle serve` flags with underscores, e.g. `max_pixels=4096`,
    `keys=Path(...)`.
    """
    options: dict[str, Any] = {"bind": "tcp://127.0.0.1:0", "weights": "random:0", **TEST_HEARTBEAT}
    options.update(server_options)
    with tempfile.TemporaryDirectory(prefix="restyle-serve-") as tmp:
        ready = Path(tmp) / "endpoint"
        log_path = Path(tmp) / "serve.log"
        command = [*serve_command(), *_serve_args(options), "--ready-file", str(ready)]
        with open(log_path, "wb") as log_file:
            process = subprocess.Popen(command, cwd=REPO, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + start_timeout
            while not ready.exists():
                if process.poll() is not None:
                    raise RuntimeError(f"restyle serve exited with {process.returncode}:\n{log_path.read_text()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"restyle serve did not start in {start_timeout} s:\n{log_path.read_text()}")
                time.sleep(0.05)
            handle = ServerProcess(ready.read_text().strip(), process, log_path)
            yield handle
        finally:
            stop_process(process)


def stop_process(process: subprocess.Popen, timeout: float = 60.0) -> int | None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


@contextlib.contextmanager
def running_server(
    client_keys: tuple[bytes, tuple[bytes, bytes]] | None = None, **server_options: Any
) -> Iterator[str]:
    """The shared fixture: a real `restyle serve` subprocess, answering hello; yields its endpoint.

    With `keys=DIR`, pass `client_keys=(server_public, (client_public, client_secret))`
    so the readiness hello can get through.
    """
    with running_server_process(**server_options) as handle:
        kwargs: dict[str, Any] = {}
        if client_keys is not None:
            kwargs = {"server_public_key": client_keys[0], "client_keys": client_keys[1]}
        with Client(handle.endpoint, **kwargs) as client:
            client.hello(timeout=30.0)
        yield handle.endpoint


@contextlib.contextmanager
def running_server_thread(**config: Any) -> Iterator[Any]:
    """A `StyleServer` serving from a thread of this process; yields the server.

    `config` holds `ServerConfig` fields; `limits` may be a dict of `Limits` fields.
    """
    from server.config import Limits, ServerConfig
    from server.service import StyleServer

    values: dict[str, Any] = {"bind": "tcp://127.0.0.1:0", "weights": "random:0", **TEST_HEARTBEAT}
    values.update(config)
    if isinstance(values.get("limits"), dict):
        values["limits"] = Limits(**values["limits"])
    server = StyleServer(ServerConfig(**values))
    thread = threading.Thread(target=server.serve, name="restyle-test-server", daemon=True)
    thread.start()
    server.ready.wait(60)
    if server.endpoint is None:
        raise RuntimeError("the server thread did not start")
    try:
        yield server
    finally:
        server.stop()
        thread.join(60)


def noise_pixels(width: int, height: int, channels: int = 3, sample: str = "u8", seed: int = 0) -> Any:
    """Deterministic noise as `Pixels`, without numpy (usable from editor tests too)."""
    import random

    from restyle_client.request import SAMPLE_BYTES, Pixels

    rng = random.Random(seed)
    size = width * height * channels * SAMPLE_BYTES[sample]
    if sample == "f32":
        import struct

        data = struct.pack(f"<{size // 4}f", *(rng.random() for _ in range(size // 4)))
    else:
        data = rng.randbytes(size)
    return Pixels(width, height, channels, sample, data)


def tiny_request(
    width: int = 40,
    height: int = 32,
    channels: int = 3,
    sample: str = "u8",
    iterations: int = 4,
    seed: int = 0,
    **options: Any,
) -> Any:
    """A quick stylize request: noise content and one noise style, few iterations."""
    from restyle_client.request import Options, Region, Request, Style

    return Request(
        content=noise_pixels(width, height, channels, sample, seed),
        regions=[Region([Style(noise_pixels(32, 32, 3, "u8", seed + 1000), name="noise")])],
        options=Options(iterations=iterations, **{"preview_every": 0, **options}),
    )


# --- driving clients in tests ---------------------------------------------------------


def connect(endpoint: str, **kwargs) -> Client:
    """A client that has said hello, so it pings at the server's heartbeat interval."""
    client = Client(endpoint, **kwargs)
    client.hello(timeout=30)
    return client


def collect(
    clients: dict[str, Client], until: Callable[[list[tuple[str, ev.Event]]], bool], timeout: float = 90.0
) -> list[tuple[str, ev.Event]]:
    """Events from several clients, in arrival order, tagged with the client's name."""
    poller = zmq.Poller()
    for client in clients.values():
        poller.register(client._sock, zmq.POLLIN)
    seen: list[tuple[str, ev.Event]] = []
    deadline = time.monotonic() + timeout
    while not until(seen):
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting; events so far: {[(n, type(e).__name__) for n, e in seen]}")
        poller.poll(100)
        for name, client in clients.items():
            seen += [(name, e) for e in client.poll()]
    return seen


def finals(seen: list[tuple[str, ev.Event]]) -> list[tuple[str, ev.Event]]:
    return [(n, e) for n, e in seen if ev.is_final(e)]


def run_to_end(client: Client, job_id: str | None = None, timeout: float = 90.0) -> ev.Event:
    """The event that ends `job_id` (or the client's only job)."""
    for event in client.events(timeout=timeout):
        if ev.is_final(event) and (job_id is None or event.job_id == job_id):
            return event
    raise AssertionError("the client's jobs ended without a final event for this job")


def kill_mid_job(endpoint: str, client_script: str) -> None:
    """Runs `client_script` (given the endpoint) as another process until it prints
    "running", then kills it with SIGKILL: an editor that crashed with its job running."""
    import os

    editor = subprocess.Popen([sys.executable, "-c", client_script, endpoint], cwd=REPO, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert editor.stdout is not None and editor.stdout.readline().strip() == "running"
    finally:
        os.kill(editor.pid, signal.SIGKILL)
        editor.wait()
