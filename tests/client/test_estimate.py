"""The editors' time estimate counts the same work as the engine: the same stages, the
same iterations, the same pixels."""

from __future__ import annotations

import pytest
from restyle_client import estimate

from core.schedule import iterations_per_stage, ladder


@pytest.mark.parametrize("height, width", [(16, 16), (48, 64), (800, 1200), (3508, 2480), (8192, 100), (1000, 1000)])
def test_the_editors_ladder_is_the_engines(height, width):
    assert estimate.ladder(height, width) == ladder(height, width)


@pytest.mark.parametrize("iterations", [None, 0, 20])
def test_the_editors_iterations_are_the_engines(iterations):
    for stages in (1, 2, 4):
        assert estimate.iterations_per_stage(stages, iterations) == iterations_per_stage(stages, iterations)


def test_a_job_at_twice_the_size_runs_about_four_times_the_pixels_in_as_many_iterations():
    small, large = estimate.job_work(1200, 800, size=512), estimate.job_work(1200, 800, size=1024)
    assert 3.5 < large.pixels / small.pixels < 4.5
    assert large.iterations == small.iterations + 50  # one stage more


def test_the_default_job_is_its_stages_pixels_times_their_iterations():
    # 1024 px on a 1200x800 layer: 128, 256, 512 and 1024 px, 50/50/50/100 iterations.
    stages = [(85, 128), (171, 256), (342, 512), (683, 1024)]
    expected = sum(h * w * n for (h, w), n in zip(stages, [50, 50, 50, 100], strict=True))
    assert estimate.job_work(1200, 800, size=1024) == estimate.Work(250, expected)


def test_a_job_takes_its_iterations_fixed_time_plus_its_pixels_time():
    work = estimate.Work(iterations=100, pixels=50e6)
    assert estimate.seconds(work, estimate.Speed(0.02, 1.5)) == pytest.approx(100 * 0.02 + 50 * 1.5)


@pytest.mark.parametrize("value", [None, "fast", {}, {"iteration_s": "1", "megapixel_s": 1.0},
                                   {"iteration_s": -1.0, "megapixel_s": 1.0}, {"iteration_s": True, "megapixel_s": 1},
                                   {"iteration_s": 0, "megapixel_s": 0}, {"iteration_s": 1.0, "megapixel_s": float("nan")}])
def test_a_speed_that_is_missing_or_not_numbers_promises_nothing(value):
    assert estimate.Speed.parse(value) is None
    assert estimate.seconds(estimate.Work(1, 1.0), estimate.Speed.parse(value)) is None


def test_a_servers_speed_is_read_from_its_capabilities():
    assert estimate.Speed.parse({"iteration_s": 0.025, "megapixel_s": 1.47}) == estimate.Speed(0.025, 1.47)
