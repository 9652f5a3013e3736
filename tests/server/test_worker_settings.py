"""How workers are set up and what the server does when they are gone, without Ray running:
flags, thread shares, Ray imported only for `--ray`, and a server whose workers are all lost."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading

import pytest
from restyle_client import events as ev
from support.server import REPO, TEST_HEARTBEAT, connect, running_server_process, serve_command, tiny_request

from server.cli_serve import add_serve_arguments, config_from_args
from server.config import ServerConfig
from server.service import StyleServer
from server.workers import ClusterError, WorkerState, fastest, split_threads


def parse(*argv: str) -> ServerConfig:
    import argparse

    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    return config_from_args(parser.parse_args(list(argv)))


def test_max_unread_mb_sets_the_unread_budget_per_client():
    assert parse("--max-unread-mb", "16").limits.max_unread_bytes == 16 * 1024 * 1024
    assert parse().limits.max_unread_bytes == 64 * 1024 * 1024


def test_devices_name_one_worker_each_and_ray_settings_pass_through():
    assert parse("--devices", "cuda:0,cuda:1").devices == ["cuda:0", "cuda:1"]
    config = parse("--ray", "10.0.0.5:6379", "--ray-cpu-workers", "4", "--ray-cpus-per-worker", "2")
    assert (config.ray, config.ray_cpu_workers, config.ray_cpus_per_worker) == ("10.0.0.5:6379", 4, 2)
    with pytest.raises(ValueError, match="give one of them"):
        ServerConfig(devices=["cpu"], ray="auto").validate()
    with pytest.raises(ValueError, match="without --device"):
        ServerConfig(devices=["cpu"], device="cpu").validate()
    with pytest.raises(ValueError, match="--ray auto or --ray ADDRESS"):
        ServerConfig(ray_cpu_workers=2).validate()


def test_restyle_serve_with_devices_announces_and_shows_a_worker_per_device():
    with running_server_process(devices="cpu,cpu") as handle, connect(handle.endpoint) as client:
        workers = client.hello(timeout=30)["workers"]
        assert [(w["name"], w["device"], w["node"]) for w in workers] == [("cpu#0", "cpu", "local"),
                                                                          ("cpu#1", "cpu", "local")]
        assert "worker cpu#1: device cpu on local" in handle.log()


def test_cpu_workers_in_one_process_share_its_threads_equally():
    assert split_threads(["cpu", "cpu"], 2) == 1
    assert split_threads(["cpu", "cpu", "cpu"], 8) == 2
    assert split_threads(["cpu", "cpu", "cpu"], 2) == 1  # never none
    assert split_threads(["cpu"], 2) is None  # one worker keeps torch's own choice
    assert split_threads(["cuda:0", "cuda:1"], 2) is None


def test_the_servers_speed_is_its_fastest_workers():
    slow = {"iteration_s": 0.5, "megapixel_s": 6.0}
    quick = {"iteration_s": 0.02, "megapixel_s": 1.0}
    assert fastest([slow, None, quick]) == quick
    assert fastest([None, None]) is None


def test_ray_is_imported_only_for_the_ray_option():
    code = "import sys, server.cli, server.service; assert 'ray' not in sys.modules, 'ray was imported'"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=120)


def test_asking_for_ray_without_it_installed_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "server.ray_workers", raising=False)
    with pytest.raises(ClusterError, match=r"pip install .ray>=2.8"):
        StyleServer(ServerConfig(bind="tcp://127.0.0.1:0", weights="random:0", ray="auto"))


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # free again once closed: nobody listens there


@pytest.mark.ray
def test_an_unreachable_cluster_at_start_is_one_line_and_exit_status_2():
    address = f"127.0.0.1:{closed_port()}"
    done = subprocess.run([*serve_command(), "--weights", "random:0", "--bind", "tcp://127.0.0.1:0", "--ray", address],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines == [f"restyle serve: cannot reach the Ray cluster at {address} (Connection refused); "
                     "start its head with `ray start --head` or check the address"]


class GoneWorker:
    """A worker whose cluster cannot be reached."""

    name = "ray-cuda#0"
    state = WorkerState.LOST

    def start(self) -> None: ...

    def give(self, entry) -> None:
        raise AssertionError("a lost worker was given a job")

    def cancel(self, entry, reason: str) -> None: ...

    def describe(self) -> dict:
        return {"device": "cuda", "node": "gpu-box (1a2b3c4d)", "speed": None, "cache": None}

    def stop(self, timeout=None) -> bool:
        return True


def test_with_every_worker_lost_the_server_still_answers_and_refuses_jobs_clearly():
    server = StyleServer(ServerConfig(bind="tcp://127.0.0.1:0", **TEST_HEARTBEAT), workers=[GoneWorker()])
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    server.ready.wait(30)
    try:
        with connect(server.endpoint) as client:
            client.ping()
            report = client.status()
            assert [(w["name"], w["state"], w["node"]) for w in report["workers"]] == [
                ("ray-cuda#0", "lost", "gpu-box (1a2b3c4d)")
            ]
            job_id = client.submit(tiny_request())
            refusal = next(e for e in client.events(timeout=10) if isinstance(e, ev.Error))
            assert (refusal.job_id, refusal.code) == (job_id, "no_workers")
            assert "submit again once they are back" in refusal.message
    finally:
        server.stop()
        thread.join(30)
