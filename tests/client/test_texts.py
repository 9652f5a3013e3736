"""What a person reads about a job: the same words in Krita's docker and GIMP's progress bar."""

from __future__ import annotations

import pytest
from restyle_client import events as ev
from restyle_client import texts
from restyle_client.request import Pixels


def progress(stage=1, stages=1, iteration=5, iterations=25, step=5, steps=25, eta=None, blocks=1, fraction=None):
    event = ev.Progress("j", stage, stages, iteration, iterations, step, steps, {}, 1.0, eta, blocks)
    event.fraction = step / steps if fraction is None and steps else (fraction or 0.0)
    return event


def test_result_layers_are_named_after_their_styles_each_once():
    assert texts.result_layer_name(["Van Gogh"]) == "Van Gogh (restyled)"
    assert texts.result_layer_name(["A", "B", "A"]) == "A + B (restyled)"
    assert texts.result_layer_name(["", ""]) == "Style (restyled)"


def test_a_cancelled_result_says_so_in_its_name():
    assert texts.result_layer_name(["A"], cancelled=True) == "A (restyled, cancelled)"


def test_drawing_frames_are_grouped_under_the_style_and_numbered_from_one():
    assert texts.frames_group_name(["Stripes"]) == "Stripes (frames)"
    assert texts.frame_layer_name(0) == "frame 1"


def test_a_taken_name_gets_the_first_free_number():
    assert texts.unique_name("A (restyled)", ["B"]) == "A (restyled)"
    assert texts.unique_name("A (restyled)", ["A (restyled)", "A (restyled) 2"]) == "A (restyled) 3"


def test_a_second_try_of_a_style_is_told_apart_inside_the_brackets():
    assert texts.next_result_name(["Swirls"], False, ["Photo", "Swirls"]) == "Swirls (restyled)"
    assert texts.next_result_name(["Swirls"], False, ["Swirls (restyled)"]) == "Swirls (restyled 2)"
    assert texts.next_result_name(["Swirls"], True, ["Swirls (restyled)", "Swirls (restyled 2)"]) == (
        "Swirls (restyled 3, cancelled)"
    )


def test_a_cancelled_try_uses_up_its_number():
    assert texts.next_result_name(["A"], False, ["A (restyled, cancelled)"]) == "A (restyled 2)"


@pytest.mark.parametrize(
    "name,made_by_restyle",
    [
        ("Swirls (restyled)", True),
        ("Swirls (restyled 12)", True),
        ("Swirls (restyled 2, cancelled)", True),
        ("Swirls (restyled, cancelled)", True),
        ("Swirls (frames)", True),
        ("Swirls", False),
        ("Photo (restyled x)", False),
        ("(restyled 2)", False),
    ],
)
def test_restyles_own_layers_are_known_by_their_names(name, made_by_restyle):
    assert texts.is_result_name(name) is made_by_restyle


@pytest.mark.parametrize(
    "seconds,text",
    [
        (3, "about 5 s on this server"),
        (44, "about 45 s on this server"),
        (170, "about 3 min on this server"),
        (5400, "about 1.5 h on this server"),
    ],
)
def test_an_estimate_is_rounded_as_far_as_it_can_be_trusted(seconds, text):
    assert texts.estimate_text(seconds) == text


def test_no_estimate_is_shown_before_the_server_knows_its_speed():
    assert texts.estimate_text(None) == ""
    assert texts.quality_label("Draft (512 px)", None) == "Draft (512 px)"
    assert texts.quality_label("Draft (512 px)", 61) == "Draft (512 px) \u00b7 about 1 min"


def test_progress_reads_as_stage_iteration_and_time_left():
    assert texts.progress_text(2, 3, 40, 100, 75) == "Restyling: stage 2/3, iteration 40/100, about 1 min 15 s left"


def test_one_stage_is_not_mentioned_and_an_unknown_time_is_left_out():
    assert texts.progress_text(1, 1, 5, 25, None) == "Restyling: iteration 5/25"
    assert texts.progress_text(1, 1, 5, 25, float("nan")) == "Restyling: iteration 5/25"


def test_a_picture_run_in_blocks_says_how_many():
    assert texts.progress_text(1, 1, 5, 25, 10, blocks=4) == "Restyling: iteration 5/25, in 4 blocks, about 10 s left"


@pytest.mark.parametrize("seconds,text", [(7.4, "7 s"), (75, "1 min 15 s"), (7300, "2 h 01 min")])
def test_durations_are_rounded_to_what_a_person_needs(seconds, text):
    assert texts.duration(seconds) == text


def test_the_queue_says_how_many_jobs_are_ahead():
    assert texts.queue_text(0) == "Restyling…"
    assert texts.queue_text(1) == "Waiting: 1 job ahead in the server's queue"
    assert texts.queue_text(2) == "Waiting: 2 jobs ahead in the server's queue"


def test_progress_news_carries_how_far_the_job_is():
    news = texts.news(progress(step=30, steps=120))
    assert news.text.startswith("Restyling: iteration") and news.fraction == 0.25 and news.percent == 25
    assert texts.news(progress(step=0, steps=0)).fraction == 0.0


def test_the_bar_follows_the_share_of_work_the_server_reports():
    event = progress(step=1, steps=4, fraction=0.1)  # stage 1 of 4 is cheap: a tenth of the work
    assert texts.news(event).percent == 10


def test_queue_news_has_no_measure_so_a_bar_pulses():
    news = texts.news(ev.Queued("j", 2))
    assert news == texts.News("Waiting: 2 jobs ahead in the server's queue", None) and news.percent is None
    assert texts.news(ev.Accepted("j", 0)).text == texts.RUNNING


def test_events_that_are_not_news_are_left_to_the_editor():
    pixels = Pixels(1, 1, 4, "u8", bytes(4))
    assert texts.news(ev.Result("j", pixels)) is None
    assert texts.news(ev.Error("j", "failed", "boom")) is None


def test_texts_of_work_still_going_end_with_an_ellipsis_and_outcomes_do_not():
    for going in (texts.CONNECTING, texts.SENT, texts.CANCELLING, texts.RUNNING, texts.looking_text("tcp://x:1")):
        assert going.endswith("…"), going
    for outcome in (texts.done_text("A (restyled)", False), texts.done_text("A", True), texts.failed_text("boom")):
        assert not outcome.endswith("…"), outcome


def test_outcomes_name_the_layer_that_was_added():
    assert texts.done_text("A (restyled)", cancelled=False) == "Done: added “A (restyled)”."
    assert texts.done_text("A (restyled, cancelled)", cancelled=True) == (
        "Cancelled; kept the picture so far as “A (restyled, cancelled)”."
    )
    assert texts.failed_text("out of memory") == "The server could not finish: out of memory"
