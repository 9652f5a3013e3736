"""Cancels a job on the server when the process that submitted it dies without a word.

GIMP cancels a plug-in by killing its process, so the plug-in cannot tell the server to
stop; the server would find out only when the heartbeats stop.  Before it submits, the
plug-in starts this watchdog: a separate small process that holds the read end of a
pipe whose write end only the plug-in has.  When the plug-in ends normally it writes
`done` and closes the pipe, and the watchdog exits.  End of file without `done` means
the plug-in died: the watchdog connects with the plug-in's routing id (the server keys
a client's jobs by it) and cancels the job, at once.

Pure stdlib until a cancel is needed; then pyzmq, through the shared client.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from .launcher import detached

DONE = b"done\n"
GIVE_UP_AFTER = 10.0  # seconds: a server that cannot be reached by then is not there
ATTEMPT_TIMEOUT = 1.0
SETTLE = 0.1  # seconds for the server to drop the dead connection that used our routing id


class Watchdog:
    """The plug-in's end: keep it while the job runs, call `finish()` however it ends."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process

    def finish(self) -> None:
        """The job is over, or this process deals with it itself: the watchdog just exits."""
        pipe: IO[bytes] | None = self.process.stdin
        if pipe is None or pipe.closed:
            return
        try:
            pipe.write(DONE)
            pipe.flush()
        except OSError:
            pass  # the watchdog is gone already
        finally:
            try:
                pipe.close()
            except OSError:
                pass


def start(
    endpoint: str,
    routing_id: bytes,
    job_id: str,
    *,
    server_public_key: bytes | None = None,
    client_keys: tuple[bytes, bytes] | None = None,
    python: str = sys.executable,
) -> Watchdog:
    """Start a watchdog for `job_id`, submitted (or about to be) by the client `routing_id`.

    Keys travel through the pipe, never on the command line, where anyone could read them.
    """
    package_parent = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH", "")) if p)
    process = subprocess.Popen(
        [python, "-m", "restyle_client.watchdog"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        close_fds=True,
        **detached(),  # out of the plug-in's process group, which may be killed whole
    )
    params = {
        "endpoint": endpoint,
        "routing_id": routing_id.hex(),
        "job_id": job_id,
        "server_public_key": server_public_key.decode("ascii") if server_public_key else None,
        "client_keys": [k.decode("ascii") for k in client_keys] if client_keys else None,
    }
    assert process.stdin is not None
    process.stdin.write(json.dumps(params).encode() + b"\n")
    process.stdin.flush()
    return Watchdog(process)


def cancel_job(
    endpoint: str,
    routing_id: bytes,
    job_id: str,
    *,
    server_public_key: bytes | None = None,
    client_keys: tuple[bytes, bytes] | None = None,
    give_up_after: float = GIVE_UP_AFTER,
) -> bool:
    """Speak as `routing_id` and cancel `job_id`; True once the server says it has ended.

    A job that has already ended gets `unknown_job`, which is as good: nothing that
    finished is ever cancelled.  Each attempt uses a fresh socket, because the server may
    still hold the dead process's connection under the same routing id for a moment.
    """
    from .client import Client, ServerUnavailable

    deadline = time.monotonic() + give_up_after
    time.sleep(SETTLE)
    while time.monotonic() < deadline:
        client = Client(
            endpoint,
            name="restyle-watchdog",
            routing_id=routing_id,
            server_public_key=server_public_key,
            client_keys=client_keys,
        )
        try:
            client.hello(timeout=ATTEMPT_TIMEOUT)
            client.cancel(job_id)
            if _job_ended(client, job_id, min(3.0, max(0.1, deadline - time.monotonic()))):
                return True
        except ServerUnavailable:
            time.sleep(SETTLE)
        finally:
            client.close(cancel_jobs=False)
    return False


def _job_ended(client, job_id: str, timeout: float) -> bool:
    import select

    from . import events as ev

    deadline = time.monotonic() + timeout
    while True:
        for event in client.poll():
            if isinstance(event, ev.Result) and event.job_id == job_id:
                return True
            if isinstance(event, ev.Error) and (event.job_id == job_id or event.code == "unknown_job"):
                return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        select.select([client.fileno()], [], [], min(left, 0.2))


def main(stdin: IO[bytes] | None = None) -> int:
    pipe = stdin if stdin is not None else sys.stdin.buffer
    try:
        params = json.loads(pipe.readline())
    except ValueError:
        return 2
    rest = pipe.read()  # blocks until the plug-in closes the pipe, or dies
    if rest.startswith(DONE):
        return 0
    keys = params.get("client_keys")
    server_key = params.get("server_public_key")
    cancel_job(
        params["endpoint"],
        bytes.fromhex(params["routing_id"]),
        params["job_id"],
        server_public_key=server_key.encode("ascii") if server_key else None,
        client_keys=(keys[0].encode("ascii"), keys[1].encode("ascii")) if keys else None,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
