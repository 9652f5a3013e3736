"""A server says how fast it is before any job, and how far a job is by its work."""

from __future__ import annotations

from restyle_client import estimate
from restyle_client import events as ev
from support.server import connect, running_server_thread, tiny_request
from support.waiting import wait_for


def test_a_new_server_announces_its_measured_speed_before_any_job():
    with running_server_thread() as server, connect(server.endpoint) as client:
        wait_for(lambda: server.capabilities()["speed"], "the server's calibration")
        speed = estimate.Speed.parse(client.hello(timeout=10).get("speed"))
        assert speed is not None
        seconds = estimate.seconds(estimate.job_work(1200, 800, size=512), speed)
        assert seconds is not None and seconds > 0


def test_progress_rises_by_work_to_the_whole_job_and_status_shows_it():
    with running_server_thread(calibrate=False) as server, connect(server.endpoint) as client:
        job_id = client.submit(tiny_request(width=64, height=64, iterations=3))
        fractions, statuses = [], []
        for event in client.events(timeout=90):
            if isinstance(event, ev.Progress):
                fractions.append(event.fraction)
                statuses.append(client.status(timeout=10)["running"])
            if ev.is_final(event):
                break
        assert fractions == sorted(fractions) and fractions[-1] == 1.0
        assert 0 < fractions[0] < 1
        assert all(s is None or 0 <= s["fraction"] <= 1 for s in statuses)
        assert estimate.Speed.parse(client.hello(timeout=10).get("speed")) is not None  # learnt from the job
        assert job_id
