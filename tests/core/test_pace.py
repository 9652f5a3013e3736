"""The engine learns how long an iteration takes on its device: a fixed part and a part
per pixel, from the stages it has run."""

from __future__ import annotations

import pytest
from support.pictures import gradient, stripes

from core.job import Job, Region, StyleImage
from core.pace import PaceMeter


def test_stages_of_two_sizes_give_the_fixed_and_the_per_pixel_part():
    meter = PaceMeter()
    for pixels in (16_384, 65_536, 262_144):
        meter.observe(pixels, 0.28 + 5e-7 * pixels)
    assert meter.pace.per_iteration == pytest.approx(0.28)
    assert meter.pace.per_pixel == pytest.approx(5e-7)


def test_stages_of_one_size_rescale_what_was_known():
    meter = PaceMeter()
    meter.observe(10_000, 0.2)
    meter.observe(40_000, 0.5)  # 0.1 s + 10 µs a pixel
    for _ in range(30):  # the device got twice as slow, seen at one size only
        meter.observe(40_000, 1.0)
    assert meter.pace.seconds(40_000) == pytest.approx(1.0)
    assert meter.pace.per_iteration > 0  # still a fixed part: one size cannot tell it is gone


def test_before_anything_is_measured_small_iterations_still_weigh_something():
    meter = PaceMeter()
    assert meter.pace is None
    assert meter.weight(0) > 0
    assert meter.weight(1024 * 1024) > meter.weight(128 * 128)


def test_nonsense_measurements_are_ignored():
    meter = PaceMeter()
    meter.observe(0, 1.0)
    meter.observe(1000, float("nan"))
    meter.observe(1000, -1.0)
    assert meter.pace is None


def test_a_job_of_several_stages_teaches_the_engine_its_pace(engine, monkeypatch):
    monkeypatch.setattr(engine, "pace", PaceMeter())
    job = Job(content=gradient(64, 64), regions=[Region([StyleImage(stripes())])], min_size=32, iterations=3)
    list(engine.run(job))
    assert engine.pace.pace is not None
    assert engine.pace.pace.seconds(64 * 64) > 0


def test_calibration_measures_a_pace_before_any_job(engine, monkeypatch):
    monkeypatch.setattr(engine, "pace", PaceMeter())
    engine.calibrate()
    assert engine.pace.pace is not None
