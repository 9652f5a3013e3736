"""What a person reads about a job, worded once for every editor.

Krita's docker and GIMP's progress bar show the same words for the same news, so that
someone who uses both meets one program; each editor only decides where a text goes.
Texts that stand for work still going on end with an ellipsis, and only those.
"""

from __future__ import annotations

import math
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


def result_layer_name(style_names: Sequence[str], cancelled: bool = False) -> str:
    """Named after the style(s), so that a stack of tries reads at a glance.

    Not the style layer's own name: that layer is often in the same image, and the
    editors would number a duplicate name.
    """
    return f"{style_label(style_names)} (restyled{', cancelled' if cancelled else ''})"


def frames_group_name(style_names: Sequence[str]) -> str:
    return f"{style_label(style_names)} (frames)"


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


def progress_text(
    stage: int, stages: int, iteration: int, iterations: int, eta: float | None, blocks: int = 1
) -> str:
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
        return News(text, fraction(event.step, event.steps))
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
        f"The mask of {region} does not cover any of the content layer; "
        "select part of the layer or choose another mask"
    )


# --- the server -------------------------------------------------------------------------


def looking_text(endpoint: str) -> str:
    return f"Looking for the Restyle server at {endpoint}\u2026"


def connected_text(endpoint: str, detail: str = "") -> str:
    return f"Connected to {endpoint}" + (f" ({detail})" if detail else "")


def no_answer_text(endpoint: str) -> str:
    return f"No Restyle server answers at {endpoint}."
