"""What the docker's controls mean as a request, and how a job's news reads to a person.

Pure logic, kept apart from widgets and Krita so that it is tested outside Krita.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from restyle_client.request import Options, Pixels, Region, Request, Style

# (label, long side the server works at; None = the layer's own size)
PRESETS: list[tuple[str, int | None]] = [
    ("Draft (512 px)", 512),
    ("Standard (1024 px)", 1024),
    ("Fine (2048 px)", 2048),
    ("Full size", None),
]
DEFAULT_PRESET = 1

PRESERVE_COLORS: list[tuple[str, str]] = [
    ("No, take the style's colours", "none"),
    ("Keep luminance only", "luminance"),
    ("Match colour statistics", "stats"),
    ("Match histogram", "histogram"),
]


@dataclass
class Settings:
    strength: float = 0.5
    style_scale: float = 1.0
    preset: int = DEFAULT_PRESET
    preserve_colors: str = "none"
    seed: int = 0
    iterations: int | None = None  # None: the server's schedule decides


def working_size(preset: int, width: int, height: int) -> int | None:
    """The preset's long side, but never larger than the layer: upscaling adds nothing."""
    size = PRESETS[preset][1]
    if size is None or size >= max(width, height):
        return None
    return size


def build_request(
    content: Pixels,
    styles: Sequence[Style],
    regions: Sequence[tuple[Pixels, Sequence[Style]]],
    settings: Settings,
) -> Request:
    """The main styles apply everywhere; each extra region adds its styles under its mask."""
    all_regions: list[Region] = []
    if styles:
        all_regions.append(Region(list(styles), None))
    all_regions.extend(Region(list(s), mask) for mask, s in regions)
    options = Options(
        size=working_size(settings.preset, content.width, content.height),
        strength=settings.strength,
        style_scale=settings.style_scale,
        preserve_colors=settings.preserve_colors,
        seed=settings.seed,
        iterations=settings.iterations,
        preview_every=1 if settings.iterations and settings.iterations <= 20 else 5,
        preview_interval_ms=250,
    )
    request = Request(content=content, regions=all_regions, options=options)
    request.validate()
    return request


def result_name(style_names: Sequence[str], cancelled: bool = False) -> str:
    """The new layer is named after its style, so a stack of tries reads at a glance."""
    names = [n for n in style_names if n] or ["style"]
    shown = " + ".join(dict.fromkeys(names))
    return f"{shown} (restyled{', cancelled' if cancelled else ''})"


def unique_name(wanted: str, taken: Sequence[str]) -> str:
    if wanted not in taken:
        return wanted
    n = 2
    while f"{wanted} {n}" in taken:
        n += 1
    return f"{wanted} {n}"


def format_seconds(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {(seconds % 3600) // 60:02d} min"


def progress_text(stage: int, stages: int, iteration: int, iterations: int, eta: float | None) -> str:
    stage_part = f"stage {stage}/{stages}, " if stages > 1 else ""
    return f"{stage_part}iteration {iteration}/{iterations}, about {format_seconds(eta)} left"


def queue_text(position: int) -> str:
    if position <= 0:
        return "Running\u2026"
    if position == 1:
        return "Waiting: 1 job ahead in the server's queue"
    return f"Waiting: {position} jobs ahead in the server's queue"


def percent(step: int, steps: int) -> int:
    if steps <= 0:
        return 0
    return max(0, min(100, round(100 * step / steps)))
