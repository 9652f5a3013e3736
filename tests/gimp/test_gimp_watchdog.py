"""The watchdog that cancels a job when GIMP kills the plug-in, on the host.

A real process plays the plug-in: it submits a job with the real client and starts the
real watchdog, as restyle.py does.  The server's heartbeat timeout is a minute here, so
a job that stops at once was stopped by the watchdog, not by the heartbeat.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import gimp_chroot
import pytest
from restyle_client.client import Client
from support.server import running_server_thread
from support.waiting import wait_for

PLUGIN_PARENT = gimp_chroot.REPO / "plugin"

PLUGIN = """
import sys, time
from restyle_client import watchdog
from restyle_client.client import Client, new_routing_id
from restyle_client.request import Options, Pixels, Region, Request, Style

endpoint, mode, iterations = sys.argv[1], sys.argv[2], int(sys.argv[3])
routing_id = new_routing_id()
client = Client(endpoint, routing_id=routing_id)
client.hello(timeout=30)
pixels = Pixels(32, 32, 3, "u8", bytes(range(256)) * 12)
request = Request(pixels, [Region([Style(pixels)])], Options(iterations=iterations, preview_every=0))
guard = watchdog.start(endpoint, routing_id, request.job_id)
client.submit(request)
print(guard.process.pid, flush=True)
if mode in ("finish", "vanish"):
    for event in client.events():
        pass
    print("finished", flush=True)
    if mode == "vanish":  # killed while putting the result into the image
        import os
        os._exit(9)
    guard.finish()
    client.close()
else:
    while True:  # alive and heartbeating until killed, like a plug-in waiting on the server
        client.poll()
        time.sleep(0.2)
"""


@pytest.fixture(scope="module")
def server():
    with running_server_thread(heartbeat_interval=2.0, heartbeat_timeout=60.0) as serving:
        yield serving.endpoint


def start_plugin(endpoint: str, mode: str, iterations: int) -> tuple[subprocess.Popen, int]:
    env = {**os.environ, "PYTHONPATH": str(PLUGIN_PARENT)}
    plugin = subprocess.Popen(
        [sys.executable, "-c", PLUGIN, endpoint, mode, str(iterations)], stdout=subprocess.PIPE, text=True, env=env
    )
    watchdog_pid = int(plugin.stdout.readline())
    return plugin, watchdog_pid


def is_gone(pid: int) -> bool:
    """No such process, or a zombie nobody reaped (it has exited all the same)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


def test_a_killed_plugin_has_its_job_cancelled_at_once_by_its_watchdog(server):
    with Client(server) as observer:
        before = observer.status()["jobs"]
        plugin, watchdog_pid = start_plugin(server, "wait", 100000)
        wait_for(lambda: observer.status()["running"], "the job to start")
        plugin.send_signal(signal.SIGKILL)
        plugin.wait()
        # Half the heartbeat timeout: only the watchdog can stop it in time.
        wait_for(lambda: observer.status()["running"] is None, "the job to stop", timeout=30)
        after = observer.status()["jobs"]
    assert after["cancelled"] == before["cancelled"] + 1
    assert after["clients_lost"] == before["clients_lost"], "the heartbeat, not the watchdog, stopped it"
    wait_for(lambda: is_gone(watchdog_pid), "the watchdog to exit", timeout=15)


@pytest.mark.parametrize(
    "how,exit_code",
    [("finish", 0), ("vanish", 9)],
    ids=["a plugin that finishes sends its watchdog away", "a plugin killed after its job ended"],
)
def test_a_plugin_whose_job_has_ended_gets_nothing_cancelled(server, how, exit_code):
    with Client(server) as observer:
        before = observer.status()["jobs"]
        plugin, watchdog_pid = start_plugin(server, how, 2)
        assert plugin.stdout.readline().strip() == "finished"
        assert plugin.wait(30) == exit_code
        wait_for(lambda: is_gone(watchdog_pid), "the watchdog to exit", timeout=15)
        after = observer.status()["jobs"]
    assert after["done"] == before["done"] + 1
    assert after["cancelled"] == before["cancelled"]
