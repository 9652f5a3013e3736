"""The server's parts on their own: fair queue, per-client outbox, style cache, pixels."""

from __future__ import annotations

import numpy as np
import pytest
from restyle_client.request import Pixels

from server import pixels as px
from server.keys import bindable, is_loopback
from server.outbox import Outbox
from server.scheduler import FairQueue
from server.style_cache import MemoryLRU


def test_the_queue_takes_turns_between_clients_instead_of_first_come_first_served():
    queue: FairQueue[str] = FairQueue()
    for job in ("a1", "a2", "a3"):
        queue.push("alice", job, job)
    queue.push("bob", "b1", "b1")
    queue.push("carol", "c1", "c1")
    queue.push("bob", "b2", "b2")
    assert [job for _, job, _ in queue.planned()] == ["a1", "b1", "c1", "a2", "b2", "a3"]
    assert [queue.pop()[1] for _ in range(6)] == ["a1", "b1", "c1", "a2", "b2", "a3"]
    assert queue.pop() is None


def test_a_client_just_served_waits_behind_one_that_was_not():
    queue: FairQueue[str] = FairQueue()
    queue.push("alice", "a1", "a1")
    assert queue.pop() == ("alice", "a1")
    queue.push("alice", "a2", "a2")  # alice queues again while her first job runs
    queue.push("bob", "b1", "b1")
    assert [job for _, job, _ in queue.planned()] == ["b1", "a2"]


def test_removing_jobs_touches_only_the_named_client():
    queue: FairQueue[str] = FairQueue()
    queue.push("alice", "same-id", "alice's")
    queue.push("bob", "same-id", "bob's")
    assert queue.remove("bob", "same-id") == "bob's"
    assert queue.remove("bob", "same-id") is None
    assert queue.remove_client("alice") == ["alice's"]
    assert len(queue) == 0


def test_a_stalled_clients_outbox_keeps_only_the_newest_progress_and_preview_per_job():
    box = Outbox(max_frames=3)
    box.put("accepted", "j", ["accepted"])
    for i in range(100):
        box.put("progress", "j", [f"progress {i}"])
        box.put("preview", "j", [f"preview {i}"])
    for i in range(10):
        box.put("frame", "j", [f"frame {i}"])
    box.put("result", "j", ["result"])
    sent = []
    assert box.flush(lambda frames: sent.append(frames[0]) or True)
    assert sent == ["accepted", "progress 99", "preview 99", "frame 7", "frame 8", "frame 9", "result"]
    assert not box


def test_a_preview_that_a_newer_one_replaces_is_never_encoded():
    encoded = []

    def preview(i: int):
        def encode() -> list[str]:
            encoded.append(i)
            return [f"preview {i}"]
        return encode

    box = Outbox()
    for i in range(50):
        box.put("preview", "j", preview(i))
    sent = []
    assert box.flush(lambda frames: sent.append(frames[0]) or True)
    assert sent == ["preview 49"]
    assert encoded == [49]


def test_replies_to_a_client_that_sends_but_never_reads_stay_bounded():
    box = Outbox(max_replies=4)
    for i in range(1000):
        box.put("reply", None, [f"pong {i}"])
    box.put("result", "j", ["result"])
    assert len(box) == 5
    sent = []
    box.flush(lambda frames: sent.append(frames[0]) or True)
    assert sent == ["pong 996", "pong 997", "pong 998", "pong 999", "result"]


def test_an_outbox_resumes_where_the_peer_stopped_taking_messages():
    box = Outbox()
    for kind in ("accepted", "queued", "result"):
        box.put(kind, "j", [kind])
    taken = []
    assert not box.flush(lambda frames: len(taken) < 1 and (taken.append(frames[0]) or True))
    box.put("progress", "j", ["late progress"])
    assert box.flush(lambda frames: taken.append(frames[0]) or True)
    assert taken == ["accepted", "queued", "result", "late progress"]


class Sized:
    def __init__(self, nbytes: int) -> None:
        self.nbytes = nbytes


def test_the_style_cache_evicts_the_least_recently_used_to_stay_in_its_budget():
    cache = MemoryLRU(budget_bytes=100)
    cache["a"], cache["b"] = Sized(40), Sized(40)
    assert cache.get("a") is not None  # "b" is now the least recently used
    cache["c"] = Sized(40)
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("c") is not None
    cache["huge"] = Sized(1000)  # larger than the whole budget: not kept, nothing evicted
    stats = cache.stats()
    assert stats["entries"] == 2 and stats["bytes"] == 80
    assert (stats["hits"], stats["misses"]) == (3, 1)


@pytest.mark.parametrize("sample", ["u8", "u16", "f32"])
def test_pixels_survive_the_trip_through_float_arrays_exactly(sample):
    rng = np.random.default_rng(0)
    dtype = px.DTYPES[sample]
    if sample == "f32":
        raw = rng.random((5, 7, 4), dtype=np.float32)
    else:
        raw = rng.integers(0, np.iinfo(dtype).max + 1, (5, 7, 4)).astype(dtype)
    pixels = Pixels(7, 5, 4, sample, raw.astype(dtype).tobytes())
    array = px.to_array(pixels)
    assert array.dtype == np.float32 and array.shape == (5, 7, 4)
    assert 0.0 <= array.min() and array.max() <= 1.0
    assert px.from_array(array, sample).data == pixels.data


@pytest.mark.parametrize(
    "endpoint, local",
    [
        ("tcp://127.0.0.1:7865", True),
        ("tcp://127.3.4.5:0", True),
        ("tcp://[::1]:7865", True),
        ("tcp://localhost:7865", True),
        ("ipc:///tmp/restyle.sock", True),
        ("tcp://0.0.0.0:7865", False),
        ("tcp://*:7865", False),
        ("tcp://192.168.1.20:7865", False),
        ("tcp://eth0:7865", False),
        ("tcp://example.org:7865", False),
    ],
)
def test_only_loopback_and_local_sockets_count_as_loopback(endpoint, local):
    assert is_loopback(endpoint) is local


def test_port_zero_asks_the_os_for_a_port():
    assert bindable("tcp://127.0.0.1:0") == "tcp://127.0.0.1:*"
    assert bindable("ipc:///tmp/x") == "ipc:///tmp/x"
