"""Several clients at once: fair turns, results for everyone, cancel touches only your own."""

from __future__ import annotations

import time

import numpy as np
import pytest
import zmq
from restyle_client import events as ev
from restyle_client.protocol import Ping, Submit, decode, encode
from support.server import collect, connect, finals, run_to_end, running_server_thread, tiny_request

from server import pixels as px


@pytest.fixture(scope="module")
def server():
    with running_server_thread() as server:
        yield server


def test_three_clients_submitting_at_once_all_get_results_in_fair_turns(server):
    """Round robin between clients: A's second job waits until B and C had a turn."""
    clients = {name: connect(server.endpoint) for name in "ABC"}
    try:
        jobs = {}
        for name, client in clients.items():
            for n in (1, 2):
                request = tiny_request(iterations=6, seed=n)
                request.job_id = f"{name}{n}"
                jobs[request.job_id] = name
                client.submit(request)
        seen = collect(clients, lambda s: len(finals(s)) == 6)
        ended = finals(seen)
        assert all(isinstance(e, ev.Result) and not e.cancelled for _, e in ended)
        # Which client's submissions the server reads first is up to ZeroMQ; after that,
        # nobody's second job runs before every client has had a turn.
        order = [e.job_id for _, e in ended]
        assert sorted(order[:3]) == ["A1", "B1", "C1"]
        assert order[3:] == [job[0] + "2" for job in order[:3]]
        for _, e in ended:
            assert (e.pixels.width, e.pixels.height) == (40, 32)
        # Everyone was told their place, and told again as it changed, down to 0: running.
        # (A place can also grow: a client that has not had a turn yet goes ahead.)
        positions = {}
        for _, e in seen:
            if isinstance(e, (ev.Accepted, ev.Queued)):
                positions.setdefault(e.job_id, []).append(e.position)
        assert set(positions) == set(jobs) and positions[order[0]] == [0]
        assert max(p[0] for p in positions.values()) >= 3
        assert all(p[-1] == 0 for p in positions.values())
    finally:
        for client in clients.values():
            client.close()


def test_cancelling_returns_the_current_picture_and_other_clients_jobs_go_on(server):
    with connect(server.endpoint) as alice, connect(server.endpoint) as bob:
        long_job = tiny_request(iterations=20000, preview_every=1)  # still running when cancelled, however fast the machine
        alice.submit(long_job)
        clients = {"alice": alice, "bob": bob}
        # Bob submits once alice's job runs: sent together, the server may read bob's first.
        seen = collect(clients, lambda s: any(isinstance(e, ev.Progress) for n, e in s if n == "alice"))
        bobs_job = bob.submit(tiny_request(iterations=5, seed=3))
        seen += collect(clients, lambda s: sum(isinstance(e, ev.Progress) for n, e in s if n == "alice") >= 3)

        bob.cancel(long_job.job_id)  # not bob's job: refused, alice's job unharmed
        seen += collect(clients, lambda s: any(isinstance(e, ev.Error) for n, e in s if n == "bob"))
        refusal = next(e for n, e in seen if n == "bob" and isinstance(e, ev.Error))
        assert refusal.code == "unknown_job" and refusal.job_id is None

        alice.cancel(long_job.job_id)
        seen += collect(clients, lambda s: len(finals(seen + s)) == 2)
        ended = dict((e.job_id, e) for _, e in finals(seen))
        cancelled = ended[long_job.job_id]
        assert isinstance(cancelled, ev.Result) and cancelled.cancelled
        assert cancelled.reason == "cancelled by the client"
        assert (cancelled.pixels.width, cancelled.pixels.height, cancelled.pixels.sample) == (40, 32, "u8")
        assert cancelled.pixels.data != long_job.content.data  # the work so far, not the input
        assert isinstance(ended[bobs_job], ev.Result) and not ended[bobs_job].cancelled


def test_cancelling_a_queued_job_gives_back_the_content_untouched(server):
    with connect(server.endpoint) as client:
        first = client.submit(tiny_request(iterations=10))
        waiting = tiny_request(iterations=10, seed=5)
        client.submit(waiting)
        client.cancel(waiting.job_id)
        result = run_to_end(client, waiting.job_id)
        assert isinstance(result, ev.Result) and result.cancelled
        assert bytes(result.pixels.data) == bytes(waiting.content.data)
        assert not run_to_end(client, first).cancelled


def test_the_result_is_at_full_resolution_in_the_contents_format_with_its_alpha_intact(server):
    request = tiny_request(width=64, height=48, channels=4, sample="u16", iterations=3, size=32)
    with connect(server.endpoint) as client:
        client.submit(request)
        result = run_to_end(client)
    assert isinstance(result, ev.Result) and not result.cancelled
    assert (result.pixels.width, result.pixels.height, result.pixels.channels, result.pixels.sample) == (
        64,
        48,
        4,
        "u16",
    )
    got = np.frombuffer(result.pixels.data, "<u2").reshape(48, 64, 4)
    sent = np.frombuffer(request.content.data, "<u2").reshape(48, 64, 4)
    assert np.array_equal(got[:, :, 3], sent[:, :, 3])
    assert not np.array_equal(got[:, :, :3], sent[:, :, :3])


def test_previews_come_downscaled_as_asked(server):
    request = tiny_request(width=96, height=64, iterations=4, preview_every=2, preview_max_size=48)
    with connect(server.endpoint) as client:
        client.submit(request)
        events = list(client.events(timeout=90))
    previews = [e for e in events if isinstance(e, ev.Preview)]
    assert len(previews) == 2
    assert all((p.pixels.width, p.pixels.height, p.pixels.sample) == (48, 32, "u8") for p in previews)
    assert px.to_array(previews[-1].pixels).shape == (32, 48, 3)


def test_drawing_mode_streams_numbered_frames(server):
    request = tiny_request(iterations=2, mode="draw", preview_every=2)
    with connect(server.endpoint) as client:
        client.submit(request)
        events = list(client.events(timeout=120))
    frames = [e for e in events if isinstance(e, ev.Frame)]
    assert len(frames) >= 2
    assert [f.index for f in frames] == list(range(len(frames)))
    assert isinstance(events[-1], ev.Result) and not events[-1].cancelled


def test_a_second_job_with_the_same_style_reuses_its_cached_targets(server):
    with connect(server.endpoint) as client:
        before = client.status()["cache"]
        client.submit(tiny_request(iterations=2, seed=77))
        run_to_end(client)
        middle = client.status()["cache"]
        client.submit(tiny_request(iterations=2, seed=77))
        run_to_end(client)
        after = client.status()["cache"]
    assert middle["misses"] > before["misses"]
    assert after["hits"] > middle["hits"]
    assert after["misses"] == middle["misses"]
    assert 0 < after["bytes"] <= after["budget_bytes"]


def test_a_client_that_stops_reading_slows_neither_its_job_nor_anyone_elses(server):
    """It asked for a preview every step and reads nothing (though it still pings); the
    next client's job still finishes, and when it reads at last, its result is there."""
    stalled = zmq.Context.instance().socket(zmq.DEALER)
    stalled.setsockopt(zmq.RCVHWM, 1)
    stalled.setsockopt(zmq.RCVBUF, 4096)
    stalled.setsockopt(zmq.LINGER, 0)
    stalled.connect(server.endpoint)
    try:
        heavy = tiny_request(iterations=30, preview_every=1)
        stalled.send_multipart(encode(Submit(heavy)))
        with connect(server.endpoint) as other:
            other.submit(tiny_request(iterations=3, seed=4))
            ended = []
            deadline = time.monotonic() + 90
            while not ended:
                assert time.monotonic() < deadline
                stalled.send_multipart(encode(Ping()))  # alive, just not reading
                time.sleep(0.2)
                ended = [e for e in other.poll() if ev.is_final(e)]
            assert not ended[0].cancelled  # so the stalled client's job had ended first
        received = []
        while stalled.poll(2000):
            received.append(decode(stalled.recv_multipart()))
    finally:
        stalled.close(linger=0)
    results = [e for e in received if isinstance(e, ev.Result)]
    assert len(results) == 1 and not results[0].cancelled and results[0].job_id == heavy.job_id
    assert sum(isinstance(e, ev.Preview) for e in received) <= 30
