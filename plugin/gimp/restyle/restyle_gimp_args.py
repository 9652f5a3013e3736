"""The Restyle procedure's arguments: one table for the dialog, scripts and the checks.

The plug-in registers these in this order, GIMP's procedure dialog shows them in this
order, and batch scripts set them by these names.  Stdlib only: the procedure must
register even where GIMP's Python lacks pyzmq, so that it can say so when run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from restyle_client.settings import ITERATIONS, PRESERVE_COLORS, SEED, SIZE, STRENGTH, STYLE_SCALE, Range


def _recorded_endpoint() -> str:
    """The endpoint install.py recorded (as Krita's docker uses it), else the usual one.

    Reading server.json needs nothing but the standard library, so this works even
    where GIMP's Python lacks pyzmq.
    """
    try:
        from restyle_client.launcher import load
    except ImportError:
        return "tcp://127.0.0.1:7865"
    return load().endpoint


DEFAULT_ENDPOINT = _recorded_endpoint()

PROCEDURE_NAME = "python-fu-restyle"
MENU_PATH = "<Image>/Filters/Artistic"
MENU_LABEL = "Restyle..."


def _range(control: Range) -> tuple[Any, Any, Any]:
    """(default, minimum, maximum), the order of `Arg`'s fields."""
    return control.default, control.minimum, control.maximum


@dataclass(frozen=True)
class Arg:
    name: str
    kind: str  # layer | drawable | choice | double | int | boolean | string
    nick: str
    blurb: str
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[tuple[str, str], ...] = ()  # (value, label)


ARGUMENTS: tuple[Arg, ...] = (
    Arg("style-layer", "layer", "Style la_yer", "The layer whose look is painted onto the content"),
    Arg(
        "mask-source",
        "choice",
        "Restyle _where",
        "Where the style applies",
        "selection",
        choices=(
            ("none", "Whole layer"),
            ("selection", "Selection (whole layer if none)"),
            ("drawable", "The mask layer or channel below"),
        ),
    ),
    Arg(
        "mask-drawable",
        "drawable",
        "Mask layer or chan_nel",
        "Used when 'Restyle where' is the mask layer or channel: a channel's value, or a layer's grey times its alpha",
    ),
    Arg("style-layer-2", "layer", "Style layer _2", "Optional: a style for a second region"),
    Arg(
        "mask-2",
        "drawable",
        "_Area of style 2",
        "Layer or channel (save a selection to a channel); none means the whole layer",
    ),
    Arg("style-layer-3", "layer", "Style layer _3", "Optional: a style for a third region"),
    Arg("mask-3", "drawable", "Area o_f style 3", "Layer or channel; none means the whole layer"),
    Arg("strength", "double", "S_trength", "How strongly the style takes over (0 keeps it)", *_range(STRENGTH)),
    Arg("style-scale", "double", "Styl_e scale", "Size of the style's strokes and patterns", *_range(STYLE_SCALE)),
    Arg("size", "int", "S_ize", "Long side in pixels to work at; 0 works at the layer's size", *_range(SIZE)),
    Arg(
        "preserve-colors",
        "choice",
        "Colour _palette",
        "Whose colours the result has: the style's, or the content's kept as chosen",
        "none",
        choices=PRESERVE_COLORS,
    ),
    Arg("seed", "int", "See_d", "Same seed and settings give the same picture", *_range(SEED)),
    Arg("iterations", "int", "Iterations per sta_ge", "Per stage; 0 uses the server's default", *_range(ITERATIONS)),
    Arg(
        "mode",
        "choice",
        "_Mode",
        "Stylize the layer, or draw it from a blank canvas",
        "stylize",
        choices=(("stylize", "Stylize"), ("draw", "Draw (shows its strokes)")),
    ),
    Arg(
        "keep-frames",
        "boolean",
        "_Keep drawing frames",
        "In Draw mode, keep the progress frames as layers in a layer group",
        False,
    ),
    Arg(
        "endpoint",
        "string",
        "Ser_ver",
        "ZeroMQ endpoint of the Restyle server; when nothing answers on this machine, the server is started",
        DEFAULT_ENDPOINT,
    ),
    Arg(
        "server-key-file",
        "string",
        "Server's p_ublic key file",
        "For a server started with --keys: its server.key file (from `restyle keys`); empty otherwise",
        "",
    ),
    Arg(
        "client-key-file",
        "string",
        "Your secret key file (Curve_ZMQ)",
        "For a server started with --keys: your clients/NAME.key_secret file; empty otherwise",
        "",
    ),
)

# The dialog's frames: (id, title, arguments); an expander for what few people change.
DIALOG_FRAMES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("region-1", "Style", ("style-layer", "mask-source", "mask-drawable")),
    ("region-2", "Second style (optional)", ("style-layer-2", "mask-2")),
    ("region-3", "Third style (optional)", ("style-layer-3", "mask-3")),
    ("look", "Painting", ("strength", "style-scale", "preserve-colors", "size", "seed")),
    ("mode-box", "Mode", ("mode", "keep-frames", "iterations")),
)
DIALOG_EXPANDERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("server", "Server", ("endpoint", "server-key-file", "client-key-file")),
)

STYLE_ARGUMENTS = ("style-layer", "style-layer-2", "style-layer-3")
EXTRA_MASK_ARGUMENTS = (None, "mask-2", "mask-3")
VALUE_ARGUMENTS = tuple(a.name for a in ARGUMENTS if a.kind not in ("layer", "drawable"))
