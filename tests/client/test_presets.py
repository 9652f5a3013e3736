"""Before Start: how long each quality takes on this server, and which one is offered first."""

from __future__ import annotations

from restyle_client import estimate, presets
from restyle_client.estimate import Speed
from restyle_client.settings import DEFAULT_QUALITY, QUALITIES
from restyle_client.stacking import earlier_results

PHOTO = (1200, 800)
DRAFT, STANDARD, FINE, FULL = range(len(QUALITIES))


CPU = Speed(iteration_s=0.05, megapixel_s=6.0)  # about a 2-core CPU's pace
GPU = Speed(iteration_s=0.01, megapixel_s=0.02)


def test_each_preset_takes_its_work_at_the_servers_speed():
    seconds = presets.preset_seconds(*PHOTO, CPU)
    assert seconds[DRAFT] == estimate.seconds(estimate.job_work(*PHOTO, 512), CPU)
    assert seconds[STANDARD] == estimate.seconds(estimate.job_work(*PHOTO, 1024), CPU)
    assert seconds[FINE] == seconds[FULL] == estimate.seconds(estimate.job_work(*PHOTO), CPU)  # never upscaled
    assert seconds[DRAFT] < seconds[STANDARD] < seconds[FULL]


def test_a_slow_cpu_server_starts_at_a_draft():
    seconds = presets.preset_seconds(*PHOTO, CPU)
    assert seconds[DRAFT] <= presets.PATIENCE < seconds[STANDARD]
    assert presets.default_preset(seconds) == DRAFT


def test_a_fast_gpu_server_starts_at_full_quality():
    assert presets.default_preset(presets.preset_seconds(*PHOTO, GPU)) == FULL


def test_a_server_too_slow_for_anything_still_offers_its_quickest():
    assert presets.default_preset(presets.preset_seconds(*PHOTO, Speed(10.0, 1000.0))) == DRAFT


def test_until_the_server_has_measured_itself_nothing_is_promised():
    seconds = presets.preset_seconds(*PHOTO, speed=None)
    assert seconds == [None] * len(QUALITIES)
    assert presets.default_preset(seconds) == DEFAULT_QUALITY


def test_fewer_iterations_per_stage_take_less_time():
    assert presets.preset_seconds(*PHOTO, CPU, iterations=20)[STANDARD] < presets.preset_seconds(*PHOTO, CPU)[STANDARD]


def test_a_new_result_goes_on_top_of_the_earlier_results_of_its_content():
    assert earlier_results([]) == 0
    assert earlier_results(["Swirls (restyled)", "Swirls (restyled 2, cancelled)", "Sky"]) == 2
    assert earlier_results(["Sky", "Swirls (restyled)"]) == 0  # another layer's results are not this one's
    assert earlier_results(["Restyle preview", "A (restyled)"], also=["Restyle preview"]) == 2
