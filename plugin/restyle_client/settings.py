"""The controls both editors offer, and what a person's choices mean as a request.

A number's range and default, a choice's labels and the mapping from the choices to
the shared `Request` are written here once, so Krita's docker and GIMP's dialog offer
the same job and send the same request for the same choices.  The editors only read
their widgets or procedure arguments into a `Settings`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from enum import Enum

from .request import Options, Pixels, Region, Request, Style
from .texts import empty_mask_text


class JobError(ValueError):
    """A job that cannot run as chosen; the message tells the person what to change."""


@dataclass(frozen=True)
class Range:
    """A number the person sets, as both editors' controls offer it."""

    minimum: float
    maximum: float
    default: float
    step: float


_OPTIONS = {f.name: f for f in fields(Options)}


def _offered(name: str, step: float, low: float | None = None, high: float | None = None) -> Range:
    """A control over the option `name`: the request's range and default, unless a
    control offers less (a spin box holds 32-bit integers, very long runs help nobody)."""
    option = _OPTIONS[name]
    low = option.metadata["low"] if low is None else low
    high = option.metadata["high"] if high is None else high
    return Range(low, high, option.default if option.default is not None else 0, step)


STRENGTH = _offered("strength", 0.05)  # 0 keeps the content, 1 is all style
STYLE_SCALE = _offered("style_scale", 0.1, low=0.1)
SEED = _offered("seed", 1, high=2**31 - 1)
ITERATIONS = _offered("iterations", 10, high=10_000)  # per stage; 0 lets the server's schedule decide
SIZE = Range(0, 16_384, 0, 64)  # the long side to work at; 0 is the layer's own size

# Read after the label "Colours": whose colours the result has, and how the content's are kept.
PRESERVE_COLORS: tuple[tuple[str, str], ...] = (
    ("none", "The style's"),
    ("luminance", "The content's (style in brightness only)"),
    ("stats", "The content's (matched averages)"),
    ("histogram", "The content's (matched histogram)"),
)

# Quality presets: (label, long side the server works at; None is the layer's own size).
QUALITIES: tuple[tuple[str, int | None], ...] = (
    ("Draft (512 px)", 512),
    ("Standard (1024 px)", 1024),
    ("Fine (2048 px)", 2048),
    ("Full size", None),
)
DEFAULT_QUALITY = 1

FRAME_EVERY = 5  # drawing-mode iterations between two kept frames
MAX_FRAME_SIDE = 4096


class Previews(Enum):
    """Which pictures of the work in progress the editor can use."""

    LIVE = "live"  # small and often: a canvas shows the work as it goes
    FRAMES = "frames"  # drawing frames kept as layers, at the layer's own size
    NONE = "none"


@dataclass
class Settings:
    """What the person chose, in the request's own units."""

    strength: float = STRENGTH.default
    style_scale: float = STYLE_SCALE.default
    size: int | None = None  # the long side to work at; None is the layer's own size
    preserve_colors: str = "none"
    seed: int = 0
    iterations: int | None = None  # None: the server's schedule decides
    mode: str = "stylize"


def quality_size(quality: int, width: int, height: int) -> int | None:
    """The preset's long side, but never larger than the layer: upscaling adds nothing."""
    size = QUALITIES[quality][1]
    if size is None or size >= max(width, height):
        return None
    return size


def regions_of(styles: Sequence[Style], masked: Sequence[tuple[Pixels, Sequence[Style]]]) -> list[Region]:
    """The main styles apply everywhere; each masked region adds its styles under its mask."""
    regions = [Region(list(styles), None)] if styles else []
    regions.extend(Region(list(region_styles), mask) for mask, region_styles in masked)
    return regions


def preview_options(previews: Previews, iterations: int | None, content: Pixels) -> dict[str, int]:
    if previews is Previews.LIVE:
        # A short job would otherwise end before its first preview.
        return {"preview_every": 1 if iterations and iterations <= 20 else 5, "preview_interval_ms": 250}
    if previews is Previews.FRAMES:
        side = max(content.width, content.height)
        return {"preview_every": FRAME_EVERY, "preview_max_size": max(16, min(MAX_FRAME_SIDE, side))}
    return {"preview_every": 0}


def build_request(
    content: Pixels,
    regions: Sequence[Region],
    settings: Settings,
    previews: Previews,
    region_names: Sequence[str] | None = None,
) -> Request:
    """The request for these choices, checked before anything is sent.

    `region_names` name the regions in a message the way the editor shows them
    (default: "region 1", "region 2", ...).
    """
    names = list(region_names or [])
    for number, region in enumerate(regions, start=1):
        if region.mask is not None and not any(region.mask.data):
            name = names[number - 1] if number <= len(names) else f"region {number}"
            raise JobError(empty_mask_text(name))
    # Every choice is an option of the same name; an editor's own extras are not.
    chosen = {f.name: getattr(settings, f.name) for f in fields(Settings)}
    options = Options(**chosen, **preview_options(previews, settings.iterations, content))
    request = Request(content=content, regions=list(regions), options=options)
    request.validate()
    return request
