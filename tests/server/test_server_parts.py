"""The server's parts on their own: fair queue, per-client outbox, style cache, pixels."""

from __future__ import annotations

import numpy as np
import pytest
from restyle_client import events as ev
from restyle_client.protocol import decode, encode
from restyle_client.request import Pixels, RequestError

from server import outbox
from server import pixels as px
from server.keys import bindable, is_loopback
from server.outbox import HEADER_BYTES, Outbox, message_bytes
from server.scheduler import FairQueue
from server.style_cache import MemoryLRU


def test_the_queue_takes_turns_between_clients_instead_of_first_come_first_served():
    queue: FairQueue[str] = FairQueue()
    for job in ("a1", "a2", "a3"):
        queue.push(b"alice", job, job)
    queue.push(b"bob", "b1", "b1")
    queue.push(b"carol", "c1", "c1")
    queue.push(b"bob", "b2", "b2")
    assert [job for _, job, _ in queue.planned()] == ["a1", "b1", "c1", "a2", "b2", "a3"]
    assert [queue.pop()[1] for _ in range(6)] == ["a1", "b1", "c1", "a2", "b2", "a3"]
    assert queue.pop() is None


def test_a_client_just_served_waits_behind_one_that_was_not():
    queue: FairQueue[str] = FairQueue()
    queue.push(b"alice", "a1", "a1")
    assert queue.pop() == (b"alice", "a1")
    queue.push(b"alice", "a2", "a2")  # alice queues again while her first job runs
    queue.push(b"bob", "b1", "b1")
    assert [job for _, job, _ in queue.planned()] == ["b1", "a2"]


def test_removing_jobs_touches_only_the_named_client():
    queue: FairQueue[str] = FairQueue()
    queue.push(b"alice", "same-id", "alice's")
    queue.push(b"bob", "same-id", "bob's")
    assert queue.remove(b"bob", "same-id") == "bob's"
    assert queue.remove(b"bob", "same-id") is None
    assert queue.remove_client(b"alice") == ["alice's"]
    assert len(queue) == 0


PICTURE = Pixels(4, 4, 3, "u8", bytes(48))


def progress(i: int, job_id: str = "j") -> ev.Progress:
    return ev.Progress(job_id, 1, 1, i, 100, i, 100, {"total": float(i)}, float(i), None)


def sent_by(box: Outbox) -> list[ev.Event]:
    """Everything the box sends to a peer that takes it all, decoded again."""
    sent: list[ev.Event] = []
    assert box.flush(lambda frames: sent.append(decode(frames)) or True)
    assert not box and box.bytes == 0
    return sent


def test_a_stalled_clients_outbox_keeps_only_the_newest_progress_and_preview_per_job():
    box = Outbox(max_bytes=1 << 20, max_frames=3)
    box.put(ev.Accepted("j", 0))
    for i in range(100):
        box.put(progress(i))
        box.put(ev.Preview("j", Pixels(4, 4, 3, "u8", bytes([i]) * 48)))
    for i in range(10):
        box.put(ev.Frame("j", i, PICTURE))
    box.put(ev.Result("j", PICTURE))
    sent = sent_by(box)
    assert [type(e).__name__ for e in sent] == ["Accepted", "Progress", "Preview", "Frame", "Frame", "Frame", "Result"]
    assert sent[1].step == 99 and bytes(sent[2].pixels.data) == bytes([99]) * 48
    assert [e.index for e in sent[3:6]] == [7, 8, 9]


def test_a_preview_that_a_newer_one_replaces_is_never_encoded(monkeypatch):
    encoded = []

    def counting_encode(message):
        encoded.append(message)
        return encode(message)

    monkeypatch.setattr(outbox, "encode", counting_encode)
    box = Outbox(max_bytes=1 << 20)
    previews = [ev.Preview("j", PICTURE) for _ in range(50)]
    for preview in previews:
        box.put(preview)
    assert len(sent_by(box)) == 1
    assert encoded == [previews[-1]]


def test_replies_to_a_client_that_sends_but_never_reads_stay_bounded():
    box = Outbox(max_bytes=1 << 20, max_replies=4)
    for i in range(1000):
        box.put(ev.Pong(i), reply=True)
    box.put(ev.Result("j", PICTURE))
    assert len(box) == 5
    kept = [ev.Pong(i) for i in range(996, 1000)] + [ev.Result("j", PICTURE)]
    assert box.bytes == sum(message_bytes(m) for m in kept)
    assert [getattr(e, "token", None) for e in sent_by(box)] == [996, 997, 998, 999, None]


def test_job_ends_and_refusals_of_jobs_are_never_dropped_within_the_budget():
    box = Outbox(max_bytes=1 << 20, max_replies=4)
    for i in range(100):
        box.put(ev.Error(f"refused-{i}", "bad_field", "option strength=5 is outside 0.0..1.0"), reply=True)
        box.put(ev.Pong(i), reply=True)
        box.put(ev.Result(f"ended-{i}", PICTURE, cancelled=True))
    sent = sent_by(box)
    assert [e.job_id for e in sent if isinstance(e, ev.Error)] == [f"refused-{i}" for i in range(100)]
    assert [e.job_id for e in sent if isinstance(e, ev.Result)] == [f"ended-{i}" for i in range(100)]
    assert [e.token for e in sent if isinstance(e, ev.Pong)] == [96, 97, 98, 99]


def test_over_its_budget_a_client_keeps_its_job_ends_but_only_the_newest_refusals():
    result = ev.Result("big", Pixels(64, 64, 4, "u16", bytes(64 * 64 * 8)))
    box = Outbox(max_bytes=message_bytes(result) - 1, max_replies=4)
    assert not box.over_budget
    box.put(result)
    assert box.over_budget
    for i in range(100):
        box.put(ev.Error(f"busy-{i}", "busy", "read your replies, then submit again"), reply=True)
    earlier_job = ev.Result("accepted-before", PICTURE)
    box.put(earlier_job)
    kept_refusals = sum(message_bytes(ev.Error(f"busy-{i}", "busy", "read your replies, then submit again"))
                        for i in range(96, 100))
    assert box.bytes == message_bytes(result) + kept_refusals + message_bytes(earlier_job)
    assert [e.job_id for e in sent_by(box)] == ["big", "busy-96", "busy-97", "busy-98", "busy-99", "accepted-before"]


def test_a_message_without_pixels_counts_every_byte_it_holds():
    box = Outbox(max_bytes=1 << 20)
    long_text = "x" * 100_000  # an error may quote what the client sent
    box.put(ev.Error(None, "unknown_job", long_text), reply=True)
    assert box.bytes > 100_000
    assert box.bytes == sum(len(f) for f in encode(ev.Error(None, "unknown_job", long_text)))


def test_a_message_with_pixels_counts_them_and_a_header():
    assert message_bytes(ev.Result("j", PICTURE)) == len(PICTURE.data) + HEADER_BYTES


def test_an_outbox_resumes_where_the_peer_stopped_taking_messages():
    box = Outbox(max_bytes=1 << 20)
    for message in (ev.Accepted("j", 1), ev.Queued("j", 0), ev.Result("j", PICTURE)):
        box.put(message)
    taken: list[ev.Event] = []
    assert not box.flush(lambda frames: len(taken) < 1 and (taken.append(decode(frames)) or True))
    box.put(progress(7))
    assert box.flush(lambda frames: taken.append(decode(frames)) or True)
    assert [type(e).__name__ for e in taken] == ["Accepted", "Queued", "Result", "Progress"]


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


def f32(values, channels: int) -> Pixels:
    data = np.asarray(values, dtype="<f4").tobytes()
    return Pixels(len(values) // channels, 1, channels, "f32", data)


def test_f32_colour_may_lie_outside_0_to_1_but_alpha_and_masks_may_not():
    px.check_values(f32([2.5, -0.5, 1.0, 1.0], 4), "content")  # HDR colour, alpha 1: fine
    for pixels, name in ((f32([0.5, 0.5, 0.5, 2.0], 4), "alpha"), (f32([0.5, -0.25], 1), "mask")):
        with pytest.raises(RequestError) as caught:
            px.check_values(pixels, "layer")
        assert caught.value.code == "bad_pixels" and f"{name} values run from" in str(caught.value)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_f32_samples_that_are_not_finite_are_refused(bad):
    with pytest.raises(RequestError) as caught:
        px.check_values(f32([0.5, bad, 0.5], 3), "region 1 style 1")
    assert caught.value.code == "bad_pixels" and "NaN or infinite" in str(caught.value)


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
