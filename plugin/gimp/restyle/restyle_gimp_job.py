"""What the Restyle procedure's arguments mean, independent of GIMP.

The plug-in reads its procedure config into plain values; this module checks them,
turns them into the shared `restyle_client` request, and words what the user sees
(layer names, progress text).  Scripts calling the procedure non-interactively pass
the same argument names, so the checks here are the only ones either path gets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from restyle_client.request import Options, Pixels, Region, Request, Style
from restyle_gimp_args import ARGUMENTS, DEFAULT_ENDPOINT

_ARGS = {a.name: a for a in ARGUMENTS}


class PluginError(Exception):
    """Something the user can fix; the message is shown to them as is."""


@dataclass
class Settings:
    mask_source: str = "selection"
    strength: float = 0.5
    style_scale: float = 1.0
    size: int | None = None
    preserve_colors: str = "none"
    seed: int = 0
    iterations: int | None = None
    mode: str = "stylize"
    keep_frames: bool = False
    endpoint: str = DEFAULT_ENDPOINT
    server_key_file: str = ""
    client_key_file: str = ""


def _choice(values: Mapping[str, Any], name: str) -> str:
    arg = _ARGS[name]
    allowed = [choice for choice, _label in arg.choices]
    value = str(values.get(name) or arg.default).strip().lower()
    if value not in allowed:
        raise PluginError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def parse_settings(values: Mapping[str, Any]) -> Settings:
    """Plain procedure-argument values (by argument name) to checked settings."""
    endpoint = str(values.get("endpoint") or "").strip() or DEFAULT_ENDPOINT
    if "://" not in endpoint:
        raise PluginError(f"The server endpoint {endpoint!r} should look like {DEFAULT_ENDPOINT}")
    key_files = [str(values.get(name) or "").strip() for name in ("server-key-file", "client-key-file")]
    if any(key_files) and not all(key_files):
        raise PluginError(
            "A server started with --keys needs both key files: the server's public key "
            "(server.key) and your secret key (clients/NAME.key_secret)"
        )
    size = int(values.get("size") or 0)
    iterations = int(values.get("iterations") or 0)
    return Settings(
        mask_source=_choice(values, "mask-source"),
        strength=float(values.get("strength", 0.5)),
        style_scale=float(values.get("style-scale", 1.0)),
        size=size if size > 0 else None,
        preserve_colors=_choice(values, "preserve-colors"),
        seed=int(values.get("seed") or 0),
        iterations=iterations if iterations > 0 else None,
        mode=_choice(values, "mode"),
        keep_frames=bool(values.get("keep-frames", False)),
        endpoint=endpoint,
        server_key_file=key_files[0],
        client_key_file=key_files[1],
    )


FRAME_EVERY = 5  # drawing-mode iterations between two kept frames
MAX_FRAME_SIDE = 4096


def build_options(settings: Settings, content: Pixels) -> Options:
    """Previews are not asked for: GIMP has no canvas overlay to show them on.

    Kept drawing frames become layers, so they come at the content's own size (up to
    a cap) rather than thumbnail size.
    """
    frames = settings.mode == "draw" and settings.keep_frames
    return Options(
        size=settings.size,
        strength=settings.strength,
        style_scale=settings.style_scale,
        preserve_colors=settings.preserve_colors,
        seed=settings.seed,
        iterations=settings.iterations,
        mode=settings.mode,
        preview_every=FRAME_EVERY if frames else 0,
        preview_max_size=max(16, min(MAX_FRAME_SIDE, max(content.width, content.height))),
    )


def build_request(content: Pixels, regions: Sequence[Region], settings: Settings) -> Request:
    if not regions:
        raise PluginError("Choose a style layer")
    if settings.mode == "draw" and (len(regions) > 1 or regions[0].mask is not None):
        raise PluginError(
            "Draw mode paints the whole layer with one style: set 'Restyle where' to "
            "'Whole layer' (or clear the selection) and leave the second and "
            "third styles empty"
        )
    for number, region in enumerate(regions, start=1):
        if region.mask is not None and not any(region.mask.data):
            raise PluginError(
                f"The mask of region {number} does not cover any of the content "
                "layer; select part of the layer or choose another mask"
            )
    request = Request(content=content, regions=list(regions), options=build_options(settings, content))
    request.validate()
    return request


def style_of(pixels: Pixels, name: str) -> Style:
    return Style(pixels, weight=1.0, name=name)


def style_label(style_names: Sequence[str]) -> str:
    names = [n for n in dict.fromkeys(style_names) if n]
    return " + ".join(names) if names else "Restyle"


def result_layer_name(style_names: Sequence[str]) -> str:
    """Named after the style(s), and not the style's own name: that layer is often in
    the same image, and GIMP would tack "#1" onto a duplicate name."""
    return f"{style_label(style_names)} (restyled)"


def frames_group_name(style_names: Sequence[str]) -> str:
    return f"{style_label(style_names)} (frames)"


def frame_layer_name(index: int) -> str:
    return f"frame {index + 1}"


def progress_fraction(step: int, steps: int) -> float:
    if steps <= 0:
        return 0.0
    return min(1.0, max(0.0, step / steps))


def progress_text(stage: int, stages: int, iteration: int, iterations: int, eta: float | None) -> str:
    text = f"Restyle: stage {stage}/{stages}, iteration {iteration}/{iterations}"
    if eta is not None and eta >= 0:
        text += f", about {_duration(eta)} left"
    return text


def queue_text(position: int) -> str:
    if position <= 0:
        return "Restyle: starting"
    return f"Restyle: waiting for the server ({position} job{'s' if position != 1 else ''} ahead)"


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds:02d} s"
