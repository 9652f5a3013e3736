"""A client that sends but never reads costs the server a bounded number of bytes, a
bounded number of log lines, and never loses another client anything."""

from __future__ import annotations

import logging
import time
import uuid

import msgpack
import pytest
import zmq
from restyle_client import events as ev
from restyle_client.protocol import Cancel, Ping, StatusQuery, Submit, decode, encode
from support.server import connect, noise_pixels, running_server_thread, tiny_request

from server.outbox import HEADER_BYTES

BUDGET = 1 << 20
ROUNDS = 300


def content_96_u16():
    """The picture of the report that found the hole: 96 x 96 RGBA at 16 bits."""
    return noise_pixels(96, 96, 4, "u16", seed=3)


class Deaf:
    """A DEALER that sends and does not read; ZeroMQ holds as little for it as it can."""

    def __init__(self, endpoint: str) -> None:
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.ROUTING_ID, b"deaf-" + uuid.uuid4().hex.encode())
        self.sock.setsockopt(zmq.RCVHWM, 1)
        self.sock.setsockopt(zmq.RCVBUF, 4096)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)

    def send(self, message) -> None:
        self.sock.send_multipart(encode(message))

    def submit_and_cancel(self, rounds: int, prefix: str) -> None:
        for i in range(rounds):
            request = tiny_request(iterations=20000, seed=i)
            request.content = content_96_u16()
            request.job_id = f"{prefix}-{i}"
            self.send(Submit(request))
            self.send(Cancel(request.job_id))

    def read_until_status(self) -> list[ev.Event]:
        """Everything the server kept for it: a status request is answered after all of it."""
        self.send(StatusQuery())
        received: list[ev.Event] = []
        while not received or not isinstance(received[-1], ev.Status):
            assert self.sock.poll(30_000), "the server stopped sending"
            received.append(decode(self.sock.recv_multipart()))
        return received

    def close(self) -> None:
        self.sock.close(linger=0)


def server_rss_kib() -> int:
    """This process's resident memory; the server under test runs in one of its threads."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def wait_for(observer, done, what: str) -> dict:
    deadline = time.monotonic() + 120
    report = observer.status()
    while not done(report):
        assert time.monotonic() < deadline, f"gave up waiting for {what}: {report}"
        time.sleep(0.05)
        report = observer.status()
    return report


def test_a_client_that_loops_submit_and_cancel_without_reading_holds_at_most_its_budget_and_then_is_told_busy():
    with running_server_thread(limits={"max_unread_bytes": BUDGET}) as server, connect(server.endpoint) as observer:
        deaf = Deaf(server.endpoint)
        try:
            # Each round ends in `cancelled` (a job it accepted) or in two refusals (`busy`, then
            # `unknown_job` for the cancel of a job it never took).
            def answered(rounds: int):
                return lambda r: r["jobs"]["cancelled"] + r["jobs"]["rejected"] / 2 >= rounds and r["running"] is None

            deaf.submit_and_cancel(ROUNDS, "warm")  # the engine's first job and ZeroMQ's buffers settle
            wait_for(observer, answered(ROUNDS), "every round to be answered")
            before = server_rss_kib()
            deaf.submit_and_cancel(ROUNDS, "loop")
            report = wait_for(observer, answered(2 * ROUNDS), "every round to be answered")
            grown = server_rss_kib() - before
            final_bytes = HEADER_BYTES + 96 * 96 * 4 * 2
            jobs_in_flight = 8  # max_jobs_per_client: jobs accepted before it went over still end
            bound = BUDGET + (1 + jobs_in_flight) * final_bytes + 2 * 64 * HEADER_BYTES
            print(
                f"\n{2 * ROUNDS} rounds of submit and cancel, never read: the server holds "
                f"{report['unread']['bytes']} bytes for the client (bound {bound}); over the last {ROUNDS} "
                f"rounds its RSS grew by {grown} KiB (without a bound: {ROUNDS * final_bytes // 1024} KiB); "
                f"{report['jobs']['cancelled']} jobs cancelled, {report['jobs']['rejected']} refusals"
            )
            assert report["unread"]["budget_bytes"] == BUDGET
            assert BUDGET < report["unread"]["bytes"] <= bound
            assert report["jobs"]["rejected"] > 0

            received = deaf.read_until_status()
            busy = [e for e in received if isinstance(e, ev.Error) and e.code == "busy"]
            assert busy and busy[-1].job_id == f"loop-{ROUNDS - 1}"  # the newest refusals are kept
            assert "has not read" in busy[-1].message and "submit again" in busy[-1].message
            cancelled = [e for e in received if isinstance(e, ev.Result) and e.cancelled]
            assert cancelled and all(e.pixels.width == 96 and e.pixels.sample == "u16" for e in cancelled)
            assert observer.status()["unread"]["bytes"] == 0

            # Having read, it is served again.
            request = tiny_request(iterations=1)
            deaf.send(Submit(request))
            assert deaf.sock.poll(30_000)
            assert decode(deaf.sock.recv_multipart()) == ev.Accepted(request.job_id, 0)
        finally:
            deaf.close()


def test_every_job_end_and_every_refusal_of_a_job_reaches_a_client_that_reads_late():
    """Pongs may be dropped (the newest 64 stay); what ends a job, accepted or refused, may not."""
    with running_server_thread() as server, connect(server.endpoint) as observer:
        deaf = Deaf(server.endpoint)
        try:
            deaf.submit_and_cancel(60, "kept")  # 60 pictures: more than ZeroMQ and the kernel will hold
            wait_for(observer, lambda r: r["jobs"]["cancelled"] == 60, "every job to be cancelled")
            refused = []
            for i in range(300):
                frames = encode(Submit(tiny_request()))
                header = msgpack.unpackb(frames[0], raw=False)
                header.update(job_id=f"refused-{i}", options={"strength": 5.0})
                deaf.sock.send_multipart([msgpack.packb(header), *frames[1:]])
                deaf.send(Ping(i))
                refused.append(f"refused-{i}")
            received = deaf.read_until_status()
        finally:
            deaf.close()
    ends = [e.job_id for e in received if isinstance(e, ev.Result)]
    errors = [e for e in received if isinstance(e, ev.Error)]
    assert sorted(ends) == sorted(f"kept-{i}" for i in range(60))
    assert [e.job_id for e in errors] == refused and {e.code for e in errors} == {"bad_field"}
    pongs = [e.token for e in received if isinstance(e, ev.Pong)]
    assert len(pongs) < 300 and pongs[-63:] == list(range(237, 300))  # 63 and the status: the newest 64 replies


def test_one_clients_repeated_job_events_are_summed_up_in_the_log_not_written_one_by_one(caplog):
    with running_server_thread() as server, connect(server.endpoint) as observer:
        deaf = Deaf(server.endpoint)
        short = deaf.sock.getsockopt(zmq.ROUTING_ID)[-8:].decode()
        with caplog.at_level(logging.DEBUG, logger="restyle.server"):
            try:
                deaf.submit_and_cancel(ROUNDS, "log")
                wait_for(observer, lambda r: r["jobs"]["cancelled"] >= ROUNDS, "every job to be cancelled")
            finally:
                deaf.close()
            wait_for(observer, lambda r: r["clients"] == 1, "the silent client to be forgotten")
    mine = [r for r in caplog.records if f"client {short}:" in r.getMessage()]
    info = [r for r in mine if r.levelno == logging.INFO]
    debug = [r for r in mine if r.levelno == logging.DEBUG]
    summaries = [r.getMessage() for r in info if "more job events" in r.getMessage()]
    print(f"\n{ROUNDS} rounds of submit and cancel: {len(info)} lines at INFO, {len(debug)} at DEBUG")
    assert len(mine) >= 2 * ROUNDS  # queued and cancelled, each one logged...
    assert len(info) <= len(mine) / 4  # ...but most only at debug level,
    assert summaries and sum(int(s.split(": ")[1].split()[0]) for s in summaries) == len(debug)  # and counted


@pytest.mark.parametrize("budget", [0, -1])
def test_a_budget_below_one_byte_is_refused_at_start(budget):
    from server.config import Limits, ServerConfig

    with pytest.raises(ValueError, match="max_unread_bytes"):
        ServerConfig(limits=Limits(max_unread_bytes=budget)).validate()
