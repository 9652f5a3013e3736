"""What a person reads about a job, worded once for every editor.

Krita's docker and GIMP's progress bar show the same words for the same news, so that
someone who uses both meets one program; each editor only decides where a text goes.
Texts that stand for work still going on end with an ellipsis, and only those.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from . import events as ev

CONNECTING = "Connecting to the server\u2026"
SENT = "Sent to the server\u2026"
CANCELLING = "Cancelling; the picture so far will be kept\u2026"
RUNNING = "Restyling\u2026"


# --- the layers a job adds ------------------------------------------------------------


def style_label(style_names: Sequence[str]) -> str:
    """The styles of a job, each once, in the order chosen."""
    names = [name for name in dict.fromkeys(style_names) if name]
    return " + ".join(names) if names else "Style"


def result_layer_name(style_names: Sequence[str], cancelled: bool = False, number: int = 1) -> str:
    """Named after the style(s), so that a stack of tries reads at a glance.

    Not the style layer's own name: that layer is often in the same image, and the
    editors would number a duplicate name.  The second try of a style is "restyled 2":
    the number sits inside the brackets, where the eye already looks.
    """
    return _tagged(style_names, "restyled", number, cancelled)


def frames_group_name(style_names: Sequence[str], number: int = 1) -> str:
    return _tagged(style_names, "frames", number)


def _tagged(style_names: Sequence[str], tag: str, number: int, cancelled: bool = False) -> str:
    tag = tag if number <= 1 else f"{tag} {number}"
    return f"{style_label(style_names)} ({tag}{', cancelled' if cancelled else ''})"


def next_result_name(style_names: Sequence[str], cancelled: bool, taken: Sequence[str]) -> str:
    """The first numbered result name that no layer of the image has yet.

    A number is used by its plain and its cancelled name alike, so "A (restyled 2)"
    and "A (restyled 2, cancelled)" never stand for two different tries.
    """
    taken = set(taken)
    number = 1
    while {result_layer_name(style_names, flag, number) for flag in (False, True)} & taken:
        number += 1
    return result_layer_name(style_names, cancelled, number)


def next_frames_name(style_names: Sequence[str], taken: Sequence[str]) -> str:
    taken = set(taken)
    number = 1
    while frames_group_name(style_names, number) in taken:
        number += 1
    return frames_group_name(style_names, number)


# A layer Restyle added, also after an editor numbered a duplicate name ("… #1" in GIMP).
_MADE_BY_RESTYLE = re.compile(r"^.+ \((restyled|frames)( \d+)?(, cancelled)?\)( #\d+)?$")


def is_result_name(name: str) -> bool:
    """A layer one of Restyle's jobs added: a result, a cancelled one, a frames group."""
    return _MADE_BY_RESTYLE.match(name) is not None


def frame_layer_name(index: int) -> str:
    return f"frame {index + 1}"


def unique_name(wanted: str, taken: Sequence[str]) -> str:
    """`wanted`, or with the first free number after it; a second try never hides the first."""
    if wanted not in taken:
        return wanted
    number = 2
    while f"{wanted} {number}" in taken:
        number += 1
    return f"{wanted} {number}"


# --- news of a running job --------------------------------------------------------------


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {(seconds % 3600) // 60:02d} min"


def progress_text(stage: int, stages: int, iteration: int, iterations: int, eta: float | None, blocks: int = 1) -> str:
    """Where the job is; the stage only when there are several, the time left when known."""
    parts = [f"stage {stage}/{stages}"] if stages > 1 else []
    parts.append(f"iteration {iteration}/{iterations}")
    if blocks > 1:
        parts.append(f"in {blocks} blocks")
    if eta is not None and math.isfinite(eta) and eta >= 0:
        parts.append(f"about {duration(eta)} left")
    return "Restyling: " + ", ".join(parts)


def queue_text(position: int) -> str:
    """`position`: jobs ahead of this one, counting the one running; 0 means it runs."""
    if position <= 0:
        return RUNNING
    return f"Waiting: {position} job{'s' if position != 1 else ''} ahead in the server's queue"


def fraction(step: int, steps: int) -> float:
    """How much of the whole job is done, 0 to 1, for a progress bar."""
    if steps <= 0:
        return 0.0
    return min(1.0, max(0.0, step / steps))


def work_fraction(event: ev.Progress) -> float:
    """The share of the job's work done, as the server counts it (pixels through the
    network), so that a bar moves evenly across stages of different sizes; a server
    that does not send it yet is read by its steps."""
    share = getattr(event, "fraction", None)
    if share is None:
        return fraction(event.step, event.steps)
    return min(1.0, max(0.0, float(share)))


# --- how long a job will take, before it starts -----------------------------------------


def rough_duration(seconds: float) -> str:
    """A forecast, rounded as far as it can be trusted: "about 3 min", never "2 min 47 s"."""
    if seconds < 60:
        return f"{max(5, int(5 * round(seconds / 5)))} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    hours = round(seconds / 1800) / 2
    return f"{hours:g} h"


def estimate_text(seconds: float | None) -> str:
    """How long a job will take on the connected server; empty until the server knows its speed."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    return f"about {rough_duration(seconds)} on this server"


def quality_label(label: str, seconds: float | None) -> str:
    """A quality preset as a choice shows it: "Draft (512 px) · about 1 min"."""
    if seconds is None or not math.isfinite(seconds):
        return label
    return f"{label} \u00b7 about {rough_duration(seconds)}"


@dataclass(frozen=True)
class News:
    text: str
    fraction: float | None  # None: no measure of how far (a progress bar pulses)

    @property
    def percent(self) -> int | None:
        return None if self.fraction is None else round(100 * self.fraction)


def news(event: object) -> News | None:
    """What to show for an event that only reports on a job; None for any other event."""
    if isinstance(event, (ev.Accepted, ev.Queued)):
        return News(queue_text(event.position), None)
    if isinstance(event, ev.Progress):
        text = progress_text(event.stage, event.stages, event.iteration, event.iterations, event.eta, event.blocks)
        return News(text, work_fraction(event))
    return None


# --- how a job ended --------------------------------------------------------------------


def done_text(layer_name: str, cancelled: bool) -> str:
    if cancelled:
        return f"Cancelled; kept the picture so far as \u201c{layer_name}\u201d."
    return f"Done: added \u201c{layer_name}\u201d."


def failed_text(message: str) -> str:
    """The server ended the job with an error."""
    return f"The server could not finish: {message}"


def unusable_answer_text(exc: Exception) -> str:
    return f"Restyle could not use the server's answer: {type(exc).__name__}: {exc}"


def empty_mask_text(region: str) -> str:
    return (
        f"The mask of {region} does not cover any of the content layer; select part of the layer or choose another mask"
    )


# --- the server -------------------------------------------------------------------------


def looking_text(endpoint: str) -> str:
    return f"Looking for the Restyle server at {endpoint}\u2026"


def connected_text(endpoint: str, detail: str = "") -> str:
    return f"Connected to {endpoint}" + (f" ({detail})" if detail else "")


def no_answer_text(endpoint: str) -> str:
    return f"No Restyle server answers at {endpoint}."
