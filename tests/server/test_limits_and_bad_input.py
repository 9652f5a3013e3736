"""Over a limit or with a broken message, only the sender hears about it; others go on."""

from __future__ import annotations

import logging
import threading
import uuid

import msgpack
import pytest
import zmq
from restyle_client import events as ev
from restyle_client.client import Client
from restyle_client.protocol import PROTOCOL_VERSION, Submit, decode, encode
from restyle_client.request import Pixels, RequestError, Style
from support.server import connect, run_to_end, running_server_thread, tiny_request

LIMITS = {"max_pixels": 64 * 64, "max_message_bytes": 60_000, "max_jobs_per_client": 2, "max_jobs_total": 3}


@pytest.fixture(scope="module")
def server():
    with running_server_thread(limits=LIMITS) as server:
        yield server


@pytest.fixture
def good_job(server):
    """A well-behaved client's job, run by its own thread while the test misbehaves.

    The thread keeps reading (and so heartbeating) like an editor would; the job must
    finish with a normal result whatever the test does meanwhile.
    """
    ended = []
    submitted = threading.Event()

    def drive() -> None:
        with connect(server.endpoint) as client:
            job_id = client.submit(tiny_request(iterations=12, seed=9))
            submitted.set()
            ended.append(run_to_end(client, job_id))

    thread = threading.Thread(target=drive)
    thread.start()
    assert submitted.wait(30)
    yield
    thread.join(120)
    assert ended and isinstance(ended[0], ev.Result) and not ended[0].cancelled


class RawPeer:
    """A DEALER that sends whatever frames it is given: how a buggy or hostile client looks."""

    def __init__(self, endpoint: str) -> None:
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.ROUTING_ID, b"raw-" + uuid.uuid4().hex.encode())
        self.sock.connect(endpoint)

    def ask(self, frames, timeout_ms: int = 20_000):
        self.sock.send_multipart(frames)
        if not self.sock.poll(timeout_ms):
            return None
        return decode(self.sock.recv_multipart())

    def close(self) -> None:
        self.sock.close(linger=0)


def header(kind: str, **fields) -> bytes:
    return msgpack.packb({"version": list(PROTOCOL_VERSION), "type": kind, **fields})


def submit_frames(**header_changes) -> list:
    frames = encode(Submit(tiny_request()))
    h = msgpack.unpackb(frames[0], raw=False)
    h.update(header_changes)
    return [msgpack.packb(h), *frames[1:]]


def test_a_layer_over_the_pixel_limit_is_refused(server, good_job):
    with Client(server.endpoint) as bold:  # no hello: the client cannot check limits itself
        job_id = bold.submit(tiny_request(width=80, height=80))
        error = run_to_end(bold, job_id)
    assert isinstance(error, ev.Error) and error.code == "too_large"
    assert "6400" in error.message and "4096" in error.message


def test_the_client_checks_the_announced_message_limit_before_sending(server, good_job):
    with connect(server.endpoint) as careful:
        with pytest.raises(RequestError) as caught:
            careful.submit(tiny_request(width=64, height=60, channels=4, sample="f32"))
    assert caught.value.code == "too_large" and "60000" in str(caught.value)


def test_a_message_over_the_size_limit_in_total_is_refused_by_the_server(server, good_job):
    """Each frame is under the limit (so ZeroMQ lets it through), the whole is not."""
    request = tiny_request(width=64, height=60, channels=4, sample="u16")  # 30720 bytes
    big_style = tiny_request(width=64, height=60, channels=4, sample="u16", seed=1).content
    request.regions[0].styles[0] = Style(big_style)
    with Client(server.endpoint) as bold:
        job_id = bold.submit(request)
        error = run_to_end(bold, job_id)
    assert isinstance(error, ev.Error) and error.code == "too_large" and "60000" in error.message


def test_a_frame_over_zmq_maxmsgsize_costs_only_the_senders_connection(server, good_job):
    peer = RawPeer(server.endpoint)
    try:
        assert peer.ask([header("submit", job_id="huge"), bytes(100_000)], timeout_ms=1500) is None
    finally:
        peer.close()
    with connect(server.endpoint) as after:
        assert after.status()["clients"] >= 1


def test_each_client_may_queue_only_so_many_jobs_and_the_server_only_so_many(server, good_job):
    with Client(server.endpoint) as greedy, Client(server.endpoint) as late:
        first = greedy.submit(tiny_request(iterations=2, seed=1))
        second = greedy.submit(tiny_request(iterations=2, seed=2))
        third = greedy.submit(tiny_request(iterations=2, seed=3))
        assert isinstance(run_to_end(greedy, third), ev.Error)
        refused = late.submit(tiny_request(iterations=2, seed=4))
        error = run_to_end(late, refused)
        assert isinstance(error, ev.Error) and error.code == "queue_full" and "server" in error.message
        for job_id in (first, second):
            assert isinstance(run_to_end(greedy, job_id), ev.Result)


def test_the_per_client_limit_names_itself(server):
    with Client(server.endpoint) as greedy:
        ids = [greedy.submit(tiny_request(iterations=2, seed=s)) for s in range(3)]
        error = run_to_end(greedy, ids[2])
        assert isinstance(error, ev.Error) and error.code == "queue_full" and "per client" in error.message
        for job_id in ids[:2]:
            assert isinstance(run_to_end(greedy, job_id), ev.Result)


MALFORMED = {
    "not msgpack": ([b"\x93\x01 this is not msgpack at all \xc1"], "bad_message"),
    "header not a map": ([msgpack.packb(["submit"])], "bad_message"),
    "no version": ([msgpack.packb({"type": "ping"})], "bad_message"),
    "another major version": ([msgpack.packb({"version": [9, 0], "type": "hello"})], "version_mismatch"),
    "unknown type": ([header("make_coffee")], "unknown_type"),
    "server-bound type from a client": ([header("pong", token=1)], "unknown_type"),
    "missing field": ([header("cancel")], "bad_field"),
    "wrong type": (submit_frames(options={"strength": "max"}), "bad_field"),
    "pixel frame too short": (submit_frames()[:-1] + [bytes(5)], "bad_pixels"),
    "more frames than declared": (submit_frames() + [bytes(12)], "bad_pixels"),
    "absurd size": (
        submit_frames(frames=[{"width": 2**40, "height": 1, "channels": 3, "sample": "u8"}] * 2),
        "bad_pixels",
    ),
    "negative size": (
        submit_frames(frames=[{"width": -3, "height": 1, "channels": 3, "sample": "u8"}] * 2),
        "bad_pixels",
    ),
    "frame index out of range": (submit_frames(content=7), "bad_pixels"),
    "frame index of the wrong type": (submit_frames(content="0"), "bad_pixels"),
    "descriptor field of the wrong type": (
        submit_frames(frames=[{"width": "40", "height": 32, "channels": 3, "sample": "u8"}] * 2),
        "bad_pixels",
    ),
    "descriptor field missing": (submit_frames(frames=[{"width": 40, "height": 32, "channels": 3}] * 2), "bad_pixels"),
    "frames not a list": (submit_frames(frames={"width": 40}), "bad_pixels"),
    "a result from a client": (encode(ev.Result("j", Pixels(1, 1, 3, "u8", bytes(3)))), "unknown_type"),
    "a cancelled from a client, with a reason": (
        [header("cancelled", job_id="j", reason="because", frames=[])],
        "unknown_type",
    ),
    "a progress from a client, without its fields": ([header("progress", job_id="j")], "unknown_type"),
    "a preview from a client, with a broken frame": (
        [header("preview", job_id="j", frames=[{"width": -1}]), bytes(3)],
        "unknown_type",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED), ids=list(MALFORMED))
def test_malformed_input_gets_an_error_reply_is_logged_once_and_the_server_goes_on(server, case, caplog):
    frames, code = MALFORMED[case]
    peer = RawPeer(server.endpoint)
    try:
        with caplog.at_level(logging.WARNING, logger="restyle.server"):
            reply = peer.ask(frames)
        assert isinstance(reply, ev.Error), reply
        assert reply.code == code, reply.message
        assert reply.message
        logged = [r for r in caplog.records if f": {code}: " in r.getMessage()]
        assert len(logged) == 1 and logged[0].exc_info is None
        again = peer.ask([header("ping", token=7)])
        assert again == ev.Pong(7)  # the same sender is still served
    finally:
        peer.close()


def test_a_storm_of_malformed_messages_leaves_a_concurrent_job_unharmed_and_the_log_short(server, good_job, caplog):
    peer = RawPeer(server.endpoint)
    try:
        with caplog.at_level(logging.WARNING, logger="restyle.server"):
            for _ in range(3):
                for frames, code in MALFORMED.values():
                    reply = peer.ask(frames)
                    assert isinstance(reply, ev.Error) and reply.code == code
    finally:
        peer.close()
    codes = {code for _, code in MALFORMED.values()}
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == len(codes)
