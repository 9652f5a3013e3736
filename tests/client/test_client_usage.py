"""The client as editors and scripts use it, against a real server."""

from __future__ import annotations

import selectors
import signal
import tempfile
import time
from pathlib import Path

import pytest
import zmq
from restyle_client import events as ev
from restyle_client.client import Client, ServerUnavailable
from support.server import running_server_process, running_server_thread, tiny_request

from server.remote import remote_stylize


@pytest.fixture(scope="module")
def server():
    with running_server_thread() as server:
        yield server


def test_an_editor_loop_watching_the_file_descriptor_gets_every_event(server):
    """The edge-triggered FD: drain on every wakeup and once after each send, never block."""
    client = Client(server.endpoint)
    selector = selectors.DefaultSelector()
    selector.register(client.fileno(), selectors.EVENT_READ)
    events: list[ev.Event] = []
    try:
        client.request_status()
        events += client.poll()  # the zero-delay drain after a send
        job_id = client.submit(tiny_request(iterations=4, preview_every=1))
        events += client.poll()
        deadline = time.monotonic() + 90
        while not any(ev.is_final(e) for e in events):
            assert time.monotonic() < deadline
            selector.select(timeout=0.2)  # the editor's timer fires at least this often
            events += client.poll()
    finally:
        selector.close()
        client.close()
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] in ("Status", "Accepted")
    assert kinds.count("Progress") == 4 and kinds.count("Preview") == 4
    assert isinstance(events[-1], ev.Result) and events[-1].job_id == job_id


def test_hello_with_nobody_listening_raises_server_unavailable():
    context = zmq.Context.instance()
    probe = context.socket(zmq.ROUTER)
    port = probe.bind_to_random_port("tcp://127.0.0.1")
    probe.close(linger=0)  # a port that just became free: nobody is there
    with Client(f"tcp://127.0.0.1:{port}") as client:
        with pytest.raises(ServerUnavailable, match="no Restyle server answered"):
            client.hello(timeout=0.5)


def test_an_ipc_endpoint_works_like_tcp():
    with tempfile.TemporaryDirectory() as tmp:
        with running_server_thread(bind=f"ipc://{Path(tmp) / 'restyle.sock'}") as server:
            with Client(server.endpoint) as client:
                assert client.hello()["protocol"][0] == 1
                client.submit(tiny_request(iterations=2))
                final = list(client.events(timeout=90))[-1]
    assert isinstance(final, ev.Result) and not final.cancelled


def test_a_server_that_dies_mid_job_turns_into_a_server_lost_error():
    with running_server_process() as handle:
        with Client(handle.endpoint) as client:
            timeout = client.hello()["heartbeat"]["timeout"]
            job_id = client.submit(tiny_request(iterations=5000))
            events = []
            for event in client.events(timeout=120):
                events.append(event)
                if isinstance(event, ev.Progress) and handle.process.poll() is None:
                    handle.process.send_signal(signal.SIGKILL)
                    handle.process.wait()
            assert isinstance(events[-1], ev.Error) and events[-1].job_id == job_id
            assert events[-1].code == "server_lost" and f"{timeout:g} s" in events[-1].message


def test_a_client_frozen_past_the_heartbeat_timeout_learns_its_job_was_cancelled(server):
    with Client(server.endpoint) as client:
        client.hello()
        job_id = client.submit(tiny_request(iterations=5000))
        time.sleep(server.config.heartbeat_timeout + 1.5)  # an editor stuck in a long operation
        final = [e for e in client.events(timeout=60) if ev.is_final(e)]
    assert len(final) == 1 and final[0].job_id == job_id
    assert isinstance(final[0], ev.Error) and final[0].code == "client_timeout"


def test_remote_stylize_returns_the_result_and_shows_the_way_there(server):
    seen = []
    result = remote_stylize(server.endpoint, tiny_request(iterations=3, preview_every=1), seen.append, timeout=90)
    assert isinstance(result, ev.Result) and not result.cancelled
    assert (result.pixels.width, result.pixels.height) == (40, 32)
    assert sum(isinstance(e, ev.Progress) for e in seen) == 3
    assert seen[-1] is result


def test_message_types_from_a_newer_server_are_ignored_not_shown_as_errors():
    """A later minor version may add message types; this client must carry on."""
    import msgpack
    from restyle_client.protocol import PROTOCOL_VERSION

    newer = zmq.Context.instance().socket(zmq.ROUTER)
    port = newer.bind_to_random_port("tcp://127.0.0.1")
    try:
        with Client(f"tcp://127.0.0.1:{port}") as client:
            client.request_status()
            identity, _ = newer.recv_multipart()
            version = [PROTOCOL_VERSION[0], PROTOCOL_VERSION[1] + 1]
            newer.send_multipart([identity, msgpack.packb({"version": version, "type": "weather_report"})])
            newer.send_multipart([identity, msgpack.packb({"version": version, "type": "status_report", "clients": 1})])
            assert client.status(timeout=10)["clients"] == 1
            assert client.poll() == []
    finally:
        newer.close(linger=0)


def test_closing_a_client_cancels_its_jobs_at_once_not_at_the_heartbeat_timeout():
    with running_server_thread(heartbeat_timeout=600.0) as server:
        leaving = Client(server.endpoint)
        leaving.hello()
        leaving.submit(tiny_request(iterations=5000))
        with Client(server.endpoint) as observer:
            deadline = time.monotonic() + 60
            while observer.status()["running"] is None:
                assert time.monotonic() < deadline
                time.sleep(0.1)
            leaving.close()
            while observer.status()["running"] is not None:
                assert time.monotonic() < deadline, "the job kept running for a closed client"
                time.sleep(0.1)
            assert observer.status()["jobs"]["cancelled"] == 1


def test_a_client_made_long_before_its_first_job_does_not_think_the_server_is_lost(server):
    client = Client(server.endpoint)
    try:
        client.hello()
        time.sleep(client.heartbeat_timeout + 0.5)  # the editor idles past the timeout first
        client.submit(tiny_request(iterations=2))
        events = list(client.events(timeout=60))
    finally:
        client.close()
    assert isinstance(events[-1], ev.Result), events[-1]
