"""Before Start: how long each quality takes on this server, and which one is offered first."""

from __future__ import annotations

from restyle_client import estimate, presets
from restyle_client.settings import DEFAULT_QUALITY, QUALITIES
from restyle_client.stacking import earlier_results

PHOTO = (1200, 800)
DRAFT, STANDARD, FINE, FULL = range(len(QUALITIES))


def test_each_preset_takes_its_work_at_the_servers_speed():
    speed = 1e6
    seconds = presets.preset_seconds(*PHOTO, speed)
    assert seconds[DRAFT] == estimate.job_work(*PHOTO, 512) / speed
    assert seconds[STANDARD] == estimate.job_work(*PHOTO, 1024) / speed
    assert seconds[FINE] == seconds[FULL] == estimate.job_work(*PHOTO) / speed  # never upscaled
    assert seconds[DRAFT] < seconds[STANDARD] < seconds[FULL]


def test_a_slow_cpu_server_starts_at_a_draft():
    seconds = presets.preset_seconds(*PHOTO, speed=estimate.job_work(*PHOTO, 512) / 240)  # a draft in 4 min
    assert presets.default_preset(seconds) == DRAFT


def test_a_fast_gpu_server_starts_at_full_quality():
    assert presets.default_preset(presets.preset_seconds(*PHOTO, speed=1e9)) == FULL


def test_a_server_too_slow_for_anything_still_offers_its_quickest():
    assert presets.default_preset(presets.preset_seconds(*PHOTO, speed=1.0)) == DRAFT


def test_until_the_server_has_measured_itself_nothing_is_promised():
    seconds = presets.preset_seconds(*PHOTO, speed=None)
    assert seconds == [None] * len(QUALITIES)
    assert presets.default_preset(seconds) == DEFAULT_QUALITY


def test_fewer_iterations_per_stage_take_less_time():
    assert presets.preset_seconds(*PHOTO, 1e6, iterations=20)[STANDARD] < presets.preset_seconds(*PHOTO, 1e6)[STANDARD]


def test_a_new_result_goes_on_top_of_the_earlier_results_of_its_content():
    assert earlier_results([]) == 0
    assert earlier_results(["Swirls (restyled)", "Swirls (restyled 2, cancelled)", "Sky"]) == 2
    assert earlier_results(["Sky", "Swirls (restyled)"]) == 0  # another layer's results are not this one's
    assert earlier_results(["Restyle preview", "A (restyled)"], also=["Restyle preview"]) == 2
