"""Several workers behind one front: two in-process CPU workers, and two Ray actors on a
local Ray instance.  The same specification holds for both; Ray alone is also killed.

Each server is started once for this module: Ray takes a few seconds to start.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time

import pytest
from restyle_client import events as ev
from support.server import collect, connect, finals, kill_mid_job, run_to_end, running_server_thread, tiny_request

ONE_WORKER_PER_CORE = {"devices": ["cpu", "cpu"]}
RAY = {
    "ray": "auto",
    "ray_cpu_workers": 2,
    "ray_object_store_bytes": 100 * 1024 * 1024,
    "calibrate": False,
    "ray_timeout": 3.0,  # a worker silent this long is lost
}


@contextlib.contextmanager
def ray_server(**config):
    import ray

    try:
        with running_server_thread(**{**RAY, **config}) as server:
            yield server
    finally:
        ray.shutdown()  # the server disconnects itself; this is the test's own guarantee
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def on_ray():
    with ray_server() as server:
        yield server


@pytest.fixture(scope="module", params=["in-process", pytest.param("ray", marks=pytest.mark.ray)])
def server(request):
    if request.param == "ray":
        yield request.getfixturevalue("on_ray")
    else:
        import torch

        threads = torch.get_num_threads()  # the server splits this process's threads between its workers
        try:
            with running_server_thread(calibrate=False, **ONE_WORKER_PER_CORE) as server:
                yield server
        finally:
            torch.set_num_threads(threads)


def long_job(seed: int = 0, **options):
    """Runs until cancelled, however fast the machine."""
    return tiny_request(iterations=20000, seed=seed, **options)


def progress_times(seen, client: str) -> list[float]:
    return [t for n, e, t in seen if n == client and isinstance(e, ev.Progress)]


def timed(clients, until, timeout: float = 90.0):
    """Like `collect`, with each event's arrival time."""
    stamped = []

    def stamp(seen):
        while len(stamped) < len(seen):
            stamped.append((*seen[len(stamped)], time.monotonic()))
        return until(stamped)

    collect(clients, stamp, timeout)
    return stamped


def idle(report) -> bool:
    return all(w["job"] is None and w["state"] == "ready" for w in report["workers"])


def wait_for_status(client, condition, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    report = client.status()
    while not condition(report):
        assert time.monotonic() < deadline, report["workers"]
        time.sleep(0.2)
        report = client.status()
    return report


def test_hello_and_status_show_each_worker(server):
    with connect(server.endpoint) as client:
        hello = client.hello(timeout=10)
        report = client.status()
    for view in (hello["workers"], report["workers"]):
        assert [w["device"] for w in view] == ["cpu", "cpu"]
        assert all(w["node"] and w["state"] == "ready" and w["job"] is None for w in view)
        assert all(set(w["cache"]) >= {"hits", "misses", "entries", "bytes", "budget_bytes"} for w in view)
    assert len({w["name"] for w in hello["workers"]}) == 2
    assert report["cache"]["budget_bytes"] == sum(w["cache"]["budget_bytes"] for w in report["workers"])


def test_two_clients_jobs_run_at_the_same_time(server):
    with connect(server.endpoint) as alice, connect(server.endpoint) as bob:
        clients = {"alice": alice, "bob": bob}
        jobs = {"alice": alice.submit(long_job()), "bob": bob.submit(long_job(seed=1))}
        seen = timed(clients, lambda s: all(len(progress_times(s, n)) >= 3 for n in clients))
        report = alice.status()
        for name, client in clients.items():
            client.cancel(jobs[name])
        seen += timed(clients, lambda s: len(finals([(n, e) for n, e, _ in seen + s])) == 2)
    a, b = progress_times(seen, "alice"), progress_times(seen, "bob")
    assert a[0] < b[-1] and b[0] < a[-1]  # each made progress while the other did
    assert all(w["job"] is not None for w in report["workers"])
    assert sum(w["job"]["mine"] for w in report["workers"]) == 1


def test_three_clients_with_two_jobs_each_all_finish_in_fair_turns_across_workers(server, caplog):
    """Every client's first job starts before anyone's second, on whichever worker is free."""
    clients = {name: connect(server.endpoint) for name in "ABCZ"}
    try:
        # Z holds both workers while the others queue, so the queue alone decides the order.
        blockers = [clients["Z"].submit(long_job(seed=9)) for _ in range(2)]
        collect(clients, lambda s: sum(isinstance(e, ev.Progress) and e.job_id in blockers for _, e in s) >= 2)
        for name in "ABC":
            for n in (1, 2):
                request = tiny_request(iterations=6, seed=n)
                request.job_id = f"{name}{n}"
                clients[name].submit(request)
        collect(clients, lambda s: sum(isinstance(e, ev.Accepted) for _, e in s) == 6)
        with caplog.at_level(logging.INFO, logger="restyle.server"):
            for job_id in blockers:
                clients["Z"].cancel(job_id)
            seen = collect(clients, lambda s: len(finals(s)) == 8)
        ended = {e.job_id: e for _, e in finals(seen)}
        assert all(isinstance(ended[f"{c}{n}"], ev.Result) and not ended[f"{c}{n}"].cancelled
                   for c in "ABC" for n in (1, 2))
        starts = [r.getMessage() for r in caplog.records if " started on " in r.getMessage()]
        order = [line.split("job ")[1].split(" ")[0] for line in starts]
        assert order == ["A1", "B1", "C1", "A2", "B2", "C2"]
        assert len({line.rsplit(" on ", 1)[1] for line in starts}) == 2  # both workers took turns
    finally:
        for client in clients.values():
            client.close()


def test_cancel_returns_the_current_picture_on_either_worker(server):
    with connect(server.endpoint) as alice, connect(server.endpoint) as bob:
        clients = {"alice": alice, "bob": bob}
        jobs = {"alice": long_job(preview_every=1), "bob": long_job(seed=1, preview_every=1)}
        for name, client in clients.items():
            client.submit(jobs[name])
        collect(clients, lambda s: all(sum(isinstance(e, ev.Progress) for n, e in s if n == m) >= 3 for m in clients))
        for name, client in clients.items():
            client.cancel(jobs[name].job_id)
        seen = collect(clients, lambda s: len(finals(s)) == 2)
    for name, ended in finals(seen):
        assert isinstance(ended, ev.Result) and ended.cancelled and ended.reason == "cancelled by the client"
        assert (ended.pixels.width, ended.pixels.height) == (40, 32)
        assert ended.pixels.data != jobs[name].content.data  # the work so far, not the input


KILLED_CLIENT = """
import sys
sys.path.insert(0, "tests")
from restyle_client import events as ev
from restyle_client.client import Client
from support.server import tiny_request
client = Client(sys.argv[1])
client.hello(timeout=30)
jobs = {client.submit(tiny_request(iterations=20000, seed=n)) for n in (1, 2)}
running = set()
for event in client.events():
    if isinstance(event, ev.Progress):
        running.add(event.job_id)
        if running == jobs:
            print("running", flush=True)
            break
import time
time.sleep(600)
"""


def test_a_killed_client_frees_its_jobs_on_every_worker(server):
    kill_mid_job(server.endpoint, KILLED_CLIENT)
    with connect(server.endpoint) as observer:
        before = observer.status()
        assert all(w["job"] is not None and not w["job"]["mine"] for w in before["workers"])
        report = wait_for_status(observer, lambda r: idle(r) and r["jobs"]["clients_lost"] > before["jobs"]["clients_lost"])
        assert report["running"] is None and report["queue"] == []
        observer.submit(tiny_request(iterations=2))
        assert not run_to_end(observer).cancelled


@pytest.mark.ray
def test_a_killed_actor_gives_its_client_an_error_with_a_picture_and_is_restarted_for_the_next_job(on_ray, caplog):
    server = on_ray
    with connect(server.endpoint) as client:
        doomed = client.submit(long_job(preview_every=1))
        seen = collect({"c": client}, lambda s: any(isinstance(e, ev.Preview) for _, e in s))
        report = client.status()
        (index,) = [i for i, w in enumerate(report["workers"]) if w["job"] is not None and w["job"]["mine"]]
        actor = server.workers[index]
        pid = actor.describe()["pid"]
        os.kill(pid, signal.SIGKILL)
        seen += collect({"c": client}, lambda s: len(finals(s)) == 1)

        error = seen[-1][1]
        assert isinstance(error, ev.Error) and error.job_id == doomed and error.code == "worker_lost"
        picture = seen[-2][1]  # the last picture the server had, sent just before the error
        assert isinstance(picture, ev.Preview) and picture.job_id == doomed
        assert (picture.pixels.width, picture.pixels.height) == (40, 32)

        wait_for_status(client, lambda r: r["workers"][index]["state"] == "ready", timeout=90)
        assert actor.describe()["pid"] != pid
        other = server.workers[1 - index]
        with caplog.at_level(logging.INFO, logger="restyle.server"):
            held = client.submit(long_job(seed=2)) if index == 1 else None  # the first free worker takes a job
            if held is not None:
                collect({"c": client}, lambda s: any(isinstance(e, ev.Progress) and e.job_id == held for _, e in s))
            after = client.submit(tiny_request(iterations=3, seed=4))
            result = run_to_end(client, after)
            if held is not None:
                client.cancel(held)
                run_to_end(client, held)
        assert isinstance(result, ev.Result) and not result.cancelled
        assert any(f"job {after} started on {actor.name}" in r.getMessage() for r in caplog.records)
        assert other.state.value == "ready"


@pytest.mark.ray
def test_while_every_worker_is_unreachable_the_server_answers_and_refuses_jobs_until_they_return(on_ray):
    server = on_ray
    pids = [worker.describe()["pid"] for worker in server.workers]
    with connect(server.endpoint) as client:
        try:
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)  # as good as a cluster gone: nothing answers
            report = wait_for_status(client, lambda r: all(w["state"] == "lost" for w in r["workers"]), timeout=90)
            client.ping()
            refused = client.submit(tiny_request(iterations=2))
            error = run_to_end(client, refused)
            assert isinstance(error, ev.Error) and error.code == "no_workers"
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
        wait_for_status(client, lambda r: all(w["state"] == "ready" for w in r["workers"]))
        assert not run_to_end(client, client.submit(tiny_request(iterations=2))).cancelled
    assert report["running"] is None
