"""What one style-transfer job asks for, in engine terms.

The engine takes plain arrays so that every front end (the CLI, the server, a test)
builds the same thing; the wire format lives in `restyle_client.protocol` and is
converted to this by the server.  Images are float32 arrays in [0, 1], shaped
(height, width, channels) with 3 (RGB) or 4 (RGBA) channels; masks are (height, width)
float32 arrays in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

DEFAULT_CONTENT_LAYERS: tuple[str, ...] = ("relu4_2",)
DEFAULT_STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")

PreserveColors = Literal["none", "luminance", "stats", "histogram"]
InitMode = Literal["content", "noise", "blank"]
OptimizerName = Literal["lbfgs", "adam"]
Pooling = Literal["max", "avg"]
Precision = Literal["auto", "fp32", "bf16", "fp16"]


STYLE_SCALE = (0.05, 8.0)  # smaller leaves no texture to see, larger no room for it
MAX_STYLE_WEIGHT = 1000.0  # blend weights are relative; past this, one style is all there is
MAX_SEED = 2**63 - 1  # what every platform's signed 64-bit integer holds


class JobError(ValueError):
    """A job that cannot run as asked; the message is meant for the person who asked."""


@dataclass
class StyleImage:
    image: np.ndarray
    weight: float = 1.0
    name: str = "style"


@dataclass
class Region:
    """Styles confined to a mask.  `mask=None` means the whole picture."""

    styles: list[StyleImage]
    mask: np.ndarray | None = None
    weight: float = 1.0


@dataclass
class Weights:
    """Raw loss weights, for experts; `strength` is the control for everyone else."""

    content: float
    style: float
    tv: float


@dataclass
class Job:
    content: np.ndarray
    regions: list[Region] = field(default_factory=list)
    size: int | None = None  # long side of the output in px; None keeps the content's size
    strength: float = 0.5
    weights: Weights | None = None  # overrides strength when given
    style_scale: float = 1.0
    preserve_colors: PreserveColors = "none"
    init: InitMode | np.ndarray = "content"
    optimizer: OptimizerName = "lbfgs"
    learning_rate: float | None = None  # Adam only; None picks a size-aware default
    iterations: int | Sequence[int] | None = None  # per stage; None: the schedule's default
    min_size: int | None = None  # smallest stage's long side; None: the schedule's default
    stages: int | None = None  # number of coarse-to-fine stages; None: as many as fit
    seed: int = 0
    content_layers: Sequence[str] = DEFAULT_CONTENT_LAYERS
    style_layers: Sequence[str] | dict[str, float] = DEFAULT_STYLE_LAYERS
    pooling: Pooling = "max"
    # Return the result at the content's own size even when the work ran smaller, so
    # that an editor's layer keeps its size; pixels outside every mask stay exact.
    full_resolution: bool = False
    # The most memory the job may use, in GB; None: what the device has free.  A picture
    # that does not fit runs in blocks, with the same result (core/blocked.py).
    memory_gb: float | None = None

    @property
    def styles(self) -> list[StyleImage]:
        return [s for r in self.regions for s in r.styles]


@dataclass
class DrawJob:
    """Drawing mode: rebuild the content from a blank canvas, deep layers first."""

    content: np.ndarray
    styles: list[StyleImage] = field(default_factory=list)
    size: int | None = None
    strength: float = 0.5
    style_scale: float = 1.0
    iterations: int = 60  # per layer of the drawing ladder
    frame_every: int = 5
    pooling: Pooling = "max"
    memory_gb: float | None = None
