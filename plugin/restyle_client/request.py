"""The one request type: what an editor asks the server to do.

Both sides use these classes: the plugin builds a `Request` from layers, the server
turns it into an engine job.  Plain dataclasses with stdlib types only, because editors
ship their own Python without numpy or torch.  `validate()` catches what a person can
fix (a wrong size, an unknown option) before anything is sent or computed.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

SAMPLE_BYTES = {"u8": 1, "u16": 2, "f32": 4}
MAX_SIDE = 65535
PRESERVE_COLORS = ("none", "luminance", "stats", "histogram")
INITS = ("content", "noise", "blank")
OPTIMIZERS = ("lbfgs", "adam")
MODES = ("stylize", "draw")
JOB_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

BytesLike = bytes | bytearray | memoryview


class RequestError(ValueError):
    """A request that cannot be sent or run as it is; the message is for the user."""

    def __init__(self, message: str, code: str = "bad_field") -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Pixels:
    """Interleaved rows, RGB/RGBA (or one channel for masks), straight alpha, little-endian."""

    width: int
    height: int
    channels: int
    sample: str
    data: BytesLike

    @property
    def expected_bytes(self) -> int:
        return self.width * self.height * self.channels * SAMPLE_BYTES[self.sample]

    @property
    def pixel_count(self) -> int:
        return self.width * self.height

    def validate(self, what: str, allowed_channels: tuple[int, ...] = (3, 4)) -> None:
        for name in ("width", "height", "channels"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise RequestError(f"{what}: {name} must be an integer, not {value!r}")
        if not (1 <= self.width <= MAX_SIDE and 1 <= self.height <= MAX_SIDE):
            raise RequestError(
                f"{what}: {self.width}x{self.height} px is not a usable size (each side 1..{MAX_SIDE})",
                code="bad_pixels",
            )
        if self.channels not in allowed_channels:
            raise RequestError(
                f"{what}: {self.channels} channels; expected " + " or ".join(str(c) for c in allowed_channels),
                code="bad_pixels",
            )
        if self.sample not in SAMPLE_BYTES:
            raise RequestError(
                f"{what}: sample type {self.sample!r} is not one of u8, u16, f32",
                code="bad_pixels",
            )
        if not isinstance(self.data, (bytes, bytearray, memoryview)):
            raise RequestError(f"{what}: pixel data must be bytes", code="bad_pixels")
        if len(self.data) != self.expected_bytes:
            raise RequestError(
                f"{what}: {len(self.data)} bytes of pixel data, but "
                f"{self.width}x{self.height}x{self.channels} {self.sample} needs "
                f"{self.expected_bytes}",
                code="bad_pixels",
            )


@dataclass
class Style:
    pixels: Pixels
    weight: float = 1.0
    name: str = ""


@dataclass
class Region:
    """Styles confined to a mask the size of the content; no mask means everywhere."""

    styles: list[Style]
    mask: Pixels | None = None


@dataclass
class Options:
    size: int | None = None  # long side the engine works at; the result is always full size
    strength: float = 0.5
    style_scale: float = 1.0
    preserve_colors: str = "none"
    seed: int = 0
    iterations: int | None = None
    init: str = "content"
    optimizer: str = "lbfgs"
    mode: str = "stylize"
    preview_every: int = 10  # iterations between previews; 0 turns previews off
    preview_interval_ms: int = 0  # and at least this long between two previews
    preview_max_size: int = 256

    def validate(self) -> None:
        def number(name: str, low: float, high: float) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise RequestError(f"option {name} must be a number, not {value!r}")
            if not (low <= value <= high):
                raise RequestError(f"option {name}={value} is outside {low}..{high}")

        def integer(name: str, low: int, high: int, optional: bool = False) -> None:
            value = getattr(self, name)
            if optional and value is None:
                return
            if isinstance(value, bool) or not isinstance(value, int):
                raise RequestError(f"option {name} must be an integer, not {value!r}")
            if not (low <= value <= high):
                raise RequestError(f"option {name}={value} is outside {low}..{high}")

        def choice(name: str, allowed: tuple[str, ...]) -> None:
            value = getattr(self, name)
            if value not in allowed:
                raise RequestError(f"option {name}={value!r} is not one of {', '.join(allowed)}")

        integer("size", 16, MAX_SIDE, optional=True)
        number("strength", 0.0, 1.0)
        number("style_scale", 0.05, 20.0)
        choice("preserve_colors", PRESERVE_COLORS)
        integer("seed", 0, 2**63 - 1)
        integer("iterations", 1, 100_000, optional=True)
        choice("init", INITS)
        choice("optimizer", OPTIMIZERS)
        choice("mode", MODES)
        integer("preview_every", 0, 100_000)
        integer("preview_interval_ms", 0, 3_600_000)
        integer("preview_max_size", 16, 4096)


def new_job_id() -> str:
    return uuid.uuid4().hex


@dataclass
class Request:
    content: Pixels
    regions: list[Region]
    options: Options = field(default_factory=Options)
    job_id: str = field(default_factory=new_job_id)

    def layers(self) -> list[tuple[str, Pixels]]:
        """Every image in the request with a name a person recognises, in wire order."""
        out = [("content", self.content)]
        for r, region in enumerate(self.regions):
            for s, style in enumerate(region.styles):
                out.append((f"region {r + 1} style {s + 1}" + (f" ({style.name})" if style.name else ""), style.pixels))
            if region.mask is not None:
                out.append((f"region {r + 1} mask", region.mask))
        return out

    def payload_bytes(self) -> int:
        return sum(len(p.data) for _, p in self.layers())

    def validate(self) -> None:
        if not isinstance(self.job_id, str) or not JOB_ID.match(self.job_id):
            raise RequestError(f"job id {self.job_id!r} must be 1-64 letters, digits, '.', '_' or '-'")
        if not isinstance(self.options, Options):
            raise RequestError("options are missing")
        self.options.validate()
        if not isinstance(self.content, Pixels):
            raise RequestError("the content layer is missing")
        self.content.validate("content")
        if not isinstance(self.regions, list) or not self.regions:
            raise RequestError("at least one region with a style is needed", code="bad_field")
        for r, region in enumerate(self.regions):
            if not isinstance(region, Region) or not isinstance(region.styles, list):
                raise RequestError(f"region {r + 1} is not a region")
            if not region.styles:
                raise RequestError(f"region {r + 1} has no style image")
            for s, style in enumerate(region.styles):
                what = f"region {r + 1} style {s + 1}"
                if not isinstance(style, Style) or not isinstance(style.pixels, Pixels):
                    raise RequestError(f"{what} is not a style image")
                style.pixels.validate(what)
                if (
                    isinstance(style.weight, bool)
                    or not isinstance(style.weight, (int, float))
                    or not (0.0 <= style.weight <= 1000.0)
                ):
                    raise RequestError(f"{what}: weight must be a number in 0..1000")
                if not isinstance(style.name, str) or len(style.name) > 256:
                    raise RequestError(f"{what}: name must be text of at most 256 characters")
            if region.mask is not None:
                what = f"region {r + 1} mask"
                if not isinstance(region.mask, Pixels):
                    raise RequestError(f"{what} is not an image")
                region.mask.validate(what, allowed_channels=(1,))
                if (region.mask.width, region.mask.height) != (self.content.width, self.content.height):
                    raise RequestError(
                        f"{what} is {region.mask.width}x{region.mask.height} px but the content "
                        f"is {self.content.width}x{self.content.height} px; masks must match the content",
                        code="bad_pixels",
                    )
        if self.options.mode == "draw" and len(self.regions) > 1:
            raise RequestError("drawing mode takes one region (no masks)")
        if self.options.mode == "draw" and self.regions[0].mask is not None:
            raise RequestError("drawing mode does not take a mask")
