"""Each promise of docs/protocol.md that an implementer could otherwise only guess at,
held against the real server."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator

import msgpack
import numpy as np
import pytest
import torch
import zmq
from restyle_client import events as ev
from restyle_client.client import Client, ServerUnavailable
from restyle_client.protocol import Submit, decode, encode
from restyle_client.request import Pixels
from support.server import TEST_HEARTBEAT, collect, connect, run_to_end, running_server_thread, tiny_request

from core.balance import weights_for
from core.events import Progress, Result
from server.config import ServerConfig
from server.service import StyleServer


@pytest.fixture(scope="module")
def server():
    with running_server_thread() as server:
        yield server


# --- a job is let go before its end is sent ---------------------------------------------


class LingeringEngine:
    """Ends each job at once (or when cancelled), then lingers before it lets go.

    The lingering is what a real engine does while it frees a job's memory; here it is
    long enough that a client reacting to the end always gets in first.
    """

    device = torch.device("cpu")
    weights_label = "lingering stub"
    style_cache = None

    def run(self, job, cancel, **pictures) -> Iterator:
        try:
            yield Progress(1, 1, (4, 4), 1, 1, 1, 1, {"total": 0.0}, 0.0)
            while job.iterations > 1 and not cancel.cancelled:  # a long job waits to be cancelled
                time.sleep(0.01)
            yield Result(job.content, cancel.cancelled, reason=cancel.reason)
        finally:
            time.sleep(0.3)


@contextlib.contextmanager
def lingering_server() -> Iterator[StyleServer]:
    server = StyleServer(ServerConfig(bind="tcp://127.0.0.1:0", **TEST_HEARTBEAT), engine=LingeringEngine())
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    server.ready.wait(60)
    try:
        yield server
    finally:
        server.stop()
        thread.join(60)


def submit_again_and_again(client: Client, job_id: str, times: int) -> None:
    """Submit the same job id `times` times, each time as soon as the last one's result arrived."""
    for _ in range(times):
        request = tiny_request(iterations=1)
        request.job_id = job_id
        client.submit(request)
        seen = collect({"c": client}, lambda s: any(isinstance(e, (ev.Accepted, ev.Error)) for _, e in s))
        answer = next(e for _, e in seen if isinstance(e, (ev.Accepted, ev.Error)))
        assert answer == ev.Accepted(job_id, 0)
        ended = run_to_end(client, job_id)
        assert isinstance(ended, ev.Result) and not ended.cancelled


def test_the_same_job_id_may_be_submitted_again_as_soon_as_its_result_has_arrived():
    with lingering_server() as server, connect(server.endpoint) as client:
        submit_again_and_again(client, "again-and-again", 5)


def test_a_status_right_after_cancelled_no_longer_shows_the_job_running():
    with lingering_server() as server, connect(server.endpoint) as client:
        for n in range(5):
            job_id = client.submit(tiny_request(iterations=1000))
            collect({"c": client}, lambda s: any(isinstance(e, ev.Progress) for _, e in s))
            client.cancel(job_id)
            ended = run_to_end(client, job_id)
            assert isinstance(ended, ev.Result) and ended.cancelled
            report = client.status()
            assert report["running"] is None and report["jobs"]["cancelled"] == n + 1


def test_with_the_real_engine_a_resubmission_right_after_the_result_is_accepted(server):
    with connect(server.endpoint) as client:
        submit_again_and_again(client, "real-again", 6)


# --- positions -------------------------------------------------------------------------


def test_a_job_that_round_robin_puts_behind_another_clients_new_job_is_told_its_new_place_at_once(server):
    with connect(server.endpoint) as alice, connect(server.endpoint) as bob:
        running = alice.submit(tiny_request(iterations=20000))
        collect({"alice": alice}, lambda s: any(isinstance(e, ev.Progress) for _, e in s))
        waiting = alice.submit(tiny_request(iterations=2, seed=1))
        seen = collect({"alice": alice}, lambda s: any(isinstance(e, ev.Accepted) for _, e in s))
        assert ev.Accepted(waiting, 1) in [e for _, e in seen]

        bobs = bob.submit(tiny_request(iterations=2, seed=2))  # bob has not had a turn: he goes first
        seen = collect({"bob": bob}, lambda s: any(isinstance(e, ev.Accepted) for _, e in s))
        assert ev.Accepted(bobs, 1) in [e for _, e in seen]
        alice.request_status()  # answered after everything the server had for alice already
        news = [e for _, e in collect({"alice": alice}, lambda s: any(isinstance(e, ev.Status) for _, e in s))]
        told = [e for e in news if isinstance(e, ev.Queued) and e.job_id == waiting]
        status = news[-1].report
        assert told and told[-1].position == 2
        assert [(q["position"], q["mine"]) for q in status["queue"]] == [(1, False), (2, True)]
        alice.cancel(running)
        for job_id in (running, waiting):
            run_to_end(alice, job_id)
        run_to_end(bob, bobs)


# --- what an implementer would otherwise guess --------------------------------------------


class Raw:
    def __init__(self, endpoint: str, routing_id: bytes | None = None) -> None:
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.ROUTING_ID, routing_id or b"raw-" + uuid.uuid4().hex.encode())
        self.sock.connect(endpoint)

    def ask(self, frames, timeout_ms: int = 20_000):
        self.sock.send_multipart(frames)
        assert self.sock.poll(timeout_ms), "no reply"
        return decode(self.sock.recv_multipart())

    def close(self) -> None:
        self.sock.close(linger=0)


def test_a_refusal_echoes_a_job_id_only_when_it_is_a_valid_one(server):
    raw = Raw(server.endpoint)
    try:
        for job_id, echoed in (("fine-id_1.2", "fine-id_1.2"), ("not a job id!", None), ("x" * 65, None)):
            request = tiny_request(strength=0.5)
            request.job_id = job_id
            frames = encode(Submit(request))
            frames[1] = bytes(5)  # content too short: refused
            reply = raw.ask(frames)
            assert isinstance(reply, ev.Error) and reply.code == "bad_pixels" and reply.job_id == echoed
    finally:
        raw.close()


def test_a_refusal_never_carries_the_id_of_a_job_the_client_still_has(server):
    with connect(server.endpoint) as client:
        request = tiny_request(iterations=20000)
        client.submit(request)
        raw_same = encode(Submit(request))
        client._sock.send_multipart(raw_same)  # the same job again, behind the client's back
        seen = collect({"c": client}, lambda s: any(isinstance(e, ev.Error) for _, e in s))
        error = next(e for _, e in seen if isinstance(e, ev.Error))
        assert error.code == "duplicate_job" and error.job_id is None
        client.cancel(request.job_id)
        assert run_to_end(client, request.job_id).cancelled


def test_status_counts_refused_requests_as_rejected_and_broken_messages_as_malformed(server):
    with connect(server.endpoint) as client:
        before = client.status()["jobs"]
        client.cancel("never-submitted")  # well formed, refused: rejected
        bad = encode(Submit(tiny_request()))
        client._sock.send_multipart(bad[:1])  # frames missing: malformed
        collect({"c": client}, lambda s: sum(isinstance(e, ev.Error) for _, e in s) == 2)
        after = client.status()["jobs"]
    assert after["rejected"] - before["rejected"] == 1
    assert after["malformed"] - before["malformed"] == 1


def test_the_progress_total_is_the_weighted_sum_of_the_terms_not_their_plain_sum(server):
    with connect(server.endpoint) as client:
        client.submit(tiny_request(iterations=2, strength=0.5))
        progress = [e for e in client.events(timeout=90) if isinstance(e, ev.Progress)]
    weights = weights_for(0.5)
    for event in progress:
        losses = event.losses
        weighted = weights.content * losses["content"] + weights.style * losses["style"] + weights.tv * losses["tv"]
        assert losses["total"] == pytest.approx(weighted, rel=1e-4)
        assert losses["total"] != pytest.approx(losses["content"] + losses["style"] + losses["tv"], rel=1e-4)


@pytest.mark.parametrize("token", [0, 41, -7, 2**63, 2**64 - 1])
def test_a_pings_token_is_any_msgpack_integer_and_comes_back_unchanged(server, token):
    raw = Raw(server.endpoint)
    try:
        assert raw.ask([msgpack.packb({"version": [1, 0], "type": "ping", "token": token})]) == ev.Pong(token)
        refused = raw.ask([msgpack.packb({"version": [1, 0], "type": "ping", "token": str(token)})])
        assert isinstance(refused, ev.Error) and refused.code == "bad_field" and "token" in refused.message
    finally:
        raw.close()


def test_a_second_socket_with_a_routing_id_in_use_is_not_heard_until_the_first_is_gone(server):
    routing_id = b"rc-" + uuid.uuid4().hex.encode()
    first = connect(server.endpoint, routing_id=routing_id)
    try:
        with Client(server.endpoint, routing_id=routing_id) as second:
            with pytest.raises(ServerUnavailable):
                second.hello(timeout=1.0)  # ZeroMQ drops it: no reply, not even an error
            assert first.status()["clients"] >= 1  # the first is served as before
    finally:
        first.close()
    deadline = time.monotonic() + 30
    while True:  # a fresh socket, once the server has seen the first one go
        with Client(server.endpoint, routing_id=routing_id) as third:
            try:
                assert third.hello(timeout=0.5)["protocol"][0] == 1
                break
            except ServerUnavailable:
                assert time.monotonic() < deadline


# --- f32 values --------------------------------------------------------------------------


def f32_pixels(array: np.ndarray) -> Pixels:
    height, width, channels = array.shape
    return Pixels(width, height, channels, "f32", np.ascontiguousarray(array, dtype="<f4").tobytes())


def f32_content(alpha: float = 1.0, colour_scale: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(0)
    array = rng.random((32, 40, 4), dtype=np.float32)
    array[:, :, :3] *= colour_scale
    array[:, :, 3] = alpha
    return array


@pytest.mark.parametrize(
    "content, mask, said",
    [
        (f32_content(alpha=2.0), None, "alpha values run from 2 to 2"),
        (f32_content(alpha=-1.0), None, "alpha values run from -1 to -1"),
        (np.where(np.arange(4) == 0, np.nan, f32_content()), None, "NaN or infinite"),
        (f32_content(), np.full((32, 40, 1), 1.5, np.float32), "mask values run from 1.5 to 1.5"),
    ],
    ids=["alpha 2", "alpha -1", "NaN colour", "mask 1.5"],
)
def test_f32_alpha_or_masks_outside_0_to_1_and_values_that_are_not_finite_are_refused(server, content, mask, said):
    request = tiny_request()
    request.content = f32_pixels(content)
    if mask is not None:
        request.regions[0].mask = f32_pixels(mask)
    with Client(server.endpoint) as client:
        client.submit(request)
        error = run_to_end(client)
    assert isinstance(error, ev.Error) and error.code == "bad_pixels" and error.job_id == request.job_id
    assert said in error.message


def test_f32_colour_outside_0_to_1_is_taken_and_the_result_is_clipped_to_it_with_its_alpha_unchanged(server):
    content = f32_content(alpha=0.25, colour_scale=3.0)  # HDR highlights up to 3.0
    request = tiny_request(iterations=2)
    request.content = f32_pixels(content)
    with connect(server.endpoint) as client:
        client.submit(request)
        result = run_to_end(client)
    assert isinstance(result, ev.Result) and not result.cancelled and result.pixels.sample == "f32"
    got = np.frombuffer(result.pixels.data, "<f4").reshape(32, 40, 4)
    assert 0.0 <= got.min() and got.max() <= 1.0
    assert np.array_equal(got[:, :, 3], content[:, :, 3])


# --- previews ------------------------------------------------------------------------------


def test_preview_interval_is_the_least_time_between_two_previews(server):
    """One preview per hour at most: a job of a few steps, with a picture every step, sends one."""
    request = tiny_request(iterations=6, preview_every=1, preview_interval_ms=3_600_000)
    with connect(server.endpoint) as client:
        client.submit(request)
        events = list(client.events(timeout=90))
    assert sum(isinstance(e, ev.Progress) for e in events) >= 6
    assert sum(isinstance(e, ev.Preview) for e in events) == 1


def test_drawing_frames_are_never_throttled(server):
    request = tiny_request(iterations=2, mode="draw", preview_every=1, preview_interval_ms=3_600_000)
    with connect(server.endpoint) as client:
        client.submit(request)
        events = list(client.events(timeout=120))
    frames = [e for e in events if isinstance(e, ev.Frame)]
    assert len(frames) >= 2 and [f.index for f in frames] == list(range(len(frames)))
