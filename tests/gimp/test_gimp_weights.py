"""Restyle in real GIMP 3 on a machine without VGG19's weights, run as a script would run it.

server.json names a `restyle serve` on torchvision's weights, and the profile's home has
no torch cache: the plug-in must not start that server (it would try a 548 MB download
within its start-up time, and offline stop with advice for the command line), but say
what is needed and how to get it.  The dialog's questions (download, or a file the user
has) are tested on the host, in test_gimp_weights_logic.py.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from support.waiting import wait_for
from test_gimp_plugin import _free_endpoint, _press_ok_in_dialog, _window_shot, names, run_scenario, x_display  # noqa: F401

pytestmark = pytest.mark.gimp

FILE = "vgg19-dcbb9e9d.pth"


def server_that_marks_its_start(endpoint: str) -> dict:
    """A recorded server that only leaves a mark: the tests see whether anything started it."""
    marks_its_start = "open('{work}/server-started.log', 'w').write('started')"
    return {"endpoint": endpoint, "command": ["/usr/bin/python3", "-c", marks_its_start, "serve"],
            "log": "{work}/server.log"}


def test_a_script_without_the_weights_is_told_what_to_do_and_no_server_is_started(gimp_available):
    endpoint = _free_endpoint()
    report = run_scenario(
        endpoint,
        {"iterations": 2},
        server_json=server_that_marks_its_start(endpoint),
    )
    assert report["run"]["status"] == "EXECUTION_ERROR"
    message = report["run"]["error"]
    assert message.startswith("Restyle needs VGG19's pretrained weights, a 548 MB file that is downloaded once.")
    assert f"/.cache/torch/hub/checkpoints/{FILE}" in message
    assert "install.py --download-weights" in message and "Filters \u25b8 Artistic \u25b8 Restyle\u2026" in message
    assert " | " not in message and "--weights PATH" not in message
    assert "server-started.log" not in report["files"]
    assert names(report) == ["Photo", "Blue Stripes"]


# --- from the menu: the question, and a file the user picks -----------------------------------


def _xdotool(display: str, *args: str) -> str:
    env = {**os.environ, "DISPLAY": display}
    return subprocess.run(["xdotool", *args], env=env, capture_output=True, text=True).stdout


def _window(display: str, name: str) -> str | None:
    found = _xdotool(display, "search", "--name", name).split()
    return found[0] if found else None


def _within(condition, seconds: float):
    try:
        return wait_for(condition, "", timeout=seconds)
    except AssertionError:
        return None


def _answer_the_weights_question(display: str, seen: dict) -> None:
    """Confirm Restyle's dialog; in the question, choose Use a file I have…, name a file that is
    not VGG19 in the file chooser, and when the question comes back with the refusal, Cancel."""
    _press_ok_in_dialog(display, seen)
    question = wait_for(lambda: _window(display, QUESTION), "the weights question", timeout=60)
    time.sleep(1.5)
    seen["question"] = _window_shot(display, question)
    for _attempt in range(20):
        _xdotool(display, "windowfocus", "--sync", question)
        _xdotool(display, "key", "alt+u")  # _Use a file I have…
        if _within(lambda: _window(display, "^Pick a copy of"), 3):
            break
    chooser = _window(display, "^Pick a copy of")
    seen["chooser"] = chooser is not None
    time.sleep(1.0)
    _xdotool(display, "windowfocus", "--sync", chooser)
    _xdotool(display, "key", "ctrl+l")
    time.sleep(0.3)
    _xdotool(display, "type", "--delay", "20", NOT_VGG19)
    time.sleep(0.3)
    _xdotool(display, "key", "Return")
    again = wait_for(
        lambda: (_window(display, QUESTION) or "") not in ("", question) and _window(display, QUESTION),
        "the question to come back",
        timeout=30,
    )
    time.sleep(1.5)
    seen["question_again"] = _window_shot(display, again)
    for _attempt in range(20):
        _xdotool(display, "windowfocus", "--sync", again)
        _xdotool(display, "key", "Escape")
        if _within(lambda: _window(display, QUESTION) is None, 3):
            seen["cancelled"] = True
            return


QUESTION = "^Restyle: VGG19's weights$"
NOT_VGG19 = "/etc/os-release"


def test_from_the_menu_it_asks_refuses_a_file_that_is_not_vgg19_and_explains_a_cancel(gimp_available, x_display):  # noqa: F811
    endpoint = _free_endpoint()
    seen: dict = {}
    report = run_scenario(
        endpoint,
        {"iterations": 2},
        server_json=server_that_marks_its_start(endpoint),
        display=x_display,
        while_running=lambda: _answer_the_weights_question(x_display, seen),
    )
    assert seen.get("confirmed") and seen.get("question") and seen.get("chooser"), seen.keys()
    assert seen.get("question_again") and seen.get("cancelled")
    assert report["run"]["status"] == "EXECUTION_ERROR"
    assert report["run"]["error"].startswith("Restyle needs VGG19's pretrained weights")
    assert "server-started.log" not in report["files"]
    assert names(report) == ["Photo", "Blue Stripes"]
    shot_dir = os.environ.get("RESTYLE_GIMP_SCREENSHOT_DIR")
    if shot_dir:
        (Path(shot_dir) / "gimp-weights-question.png").write_bytes(seen["question_again"])
