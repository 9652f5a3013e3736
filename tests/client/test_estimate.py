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


def test_a_job_at_twice_the_size_is_about_four_times_the_work():
    small, large = estimate.job_work(1200, 800, size=512), estimate.job_work(1200, 800, size=1024)
    assert 3.5 < large / small < 4.5


def test_the_default_job_is_its_stages_pixels_times_their_iterations():
    # 1024 px on a 1200x800 layer: 128, 256, 512 and 1024 px, 50/50/50/100 iterations.
    stages = [(85, 128), (171, 256), (342, 512), (683, 1024)]
    expected = sum(h * w * n for (h, w), n in zip(stages, [50, 50, 50, 100]))
    assert estimate.job_work(1200, 800, size=1024) == expected


def test_no_speed_means_no_estimate():
    assert estimate.seconds(1e6, None) is None and estimate.seconds(1e6, 0) is None
    assert estimate.seconds(1e6, 5e5) == pytest.approx(2.0)
