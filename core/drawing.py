"""The layer ladder of drawing mode, deepest first.

Deep layers see layout and large forms and ignore exact pixels; shallow layers see
edges and fine texture.  Matching them in that order makes an optimisation from white
paper look like a person drawing: composition, then shapes, then detail.
"""

from __future__ import annotations

CONTENT_LADDER = ["relu5_1", "relu4_1", "relu3_1", "relu2_1", "relu1_1"]
STYLED_LADDER = [
    ("relu5_1", ["relu5_1", "relu4_1"]),
    ("relu4_1", ["relu5_1", "relu4_1", "relu3_1"]),
    ("relu4_2", ["relu5_1", "relu4_1", "relu3_1", "relu2_1", "relu1_1"]),
]


# Adam, not L-BFGS: from white paper L-BFGS leaps to the content in a few steps, and
# the frames would show no drawing.
LEARNING_RATE = 0.03


def every_layer(with_style: bool) -> list[str]:
    """All the layers the ladder reaches, for sizing the job before it starts."""
    return sorted({layer for content, styles in draw_stages(with_style) for layer in (content, *styles)})


def draw_stages(with_style: bool) -> list[tuple[str, list[str]]]:
    """(content layer, style layers) for each stage."""
    if with_style:
        return [(content, list(styles)) for content, styles in STYLED_LADDER]
    return [(layer, []) for layer in CONTENT_LADDER]
