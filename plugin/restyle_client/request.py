"""The one request type: what an editor asks the server to do.

Both sides use these classes: the plugin builds a `Request` from layers, the server
turns it into an engine job.  Plain dataclasses with stdlib types only, because editors
ship their own Python without numpy or torch.  `validate()` catches what a person can
fix (a wrong size, an unknown option) before anything is sent or computed.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

SAMPLE_BYTES = {"u8": 1, "u16": 2, "f32": 4}
MAX_SIDE = 65535
PRESERVE_COLORS = ("none", "luminance", "stats", "histogram")
INITS = ("content", "noise", "blank")
OPTIMIZERS = ("lbfgs", "adam")
MODES = ("stylize", "draw")
JOB_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # whole ids only: always fullmatch

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
                raise RequestError(f"{what}: {name} must be an integer, not {quoted(value)}")
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
                f"{what}: sample type {quoted(self.sample)} is not one of u8, u16, f32",
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


def _integer(low: int, high: int, optional: bool = False) -> dict[str, Any]:
    return {"kind": "integer", "low": low, "high": high, "optional": optional}


def _number(low: float, high: float, low_open: bool = False) -> dict[str, Any]:
    return {"kind": "number", "low": low, "high": high, "low_open": low_open}


def _choice(*allowed: str) -> dict[str, Any]:
    return {"kind": "choice", "allowed": allowed}


# The engine's limits, repeated here because editors cannot import the engine (it needs
# torch); tests/client/test_option_ranges.py holds the two to the same numbers.
MIN_SIDE = 16
MAX_ITERATIONS = 100_000
STYLE_SCALE = (0.05, 8.0)
MAX_STYLE_WEIGHT = 1000.0


@dataclass
class Options:
    """A job's options: the one description of them.  The wire encoding and decoding,
    the checks and docs/protocol.md's table all follow from these fields' metadata."""

    size: int | None = field(default=None, metadata=_integer(MIN_SIDE, MAX_SIDE, optional=True))
    strength: float = field(default=0.5, metadata=_number(0.0, 1.0))
    style_scale: float = field(default=1.0, metadata=_number(*STYLE_SCALE))
    preserve_colors: str = field(default="none", metadata=_choice(*PRESERVE_COLORS))
    seed: int = field(default=0, metadata=_integer(0, 2**63 - 1))
    iterations: int | None = field(default=None, metadata=_integer(0, MAX_ITERATIONS, optional=True))
    init: str = field(default="content", metadata=_choice(*INITS))
    optimizer: str = field(default="lbfgs", metadata=_choice(*OPTIMIZERS))
    mode: str = field(default="stylize", metadata=_choice(*MODES))
    preview_every: int = field(default=10, metadata=_integer(0, MAX_ITERATIONS))
    preview_interval_ms: int = field(default=0, metadata=_integer(0, 3_600_000))
    preview_max_size: int = field(default=256, metadata=_integer(MIN_SIDE, 4096))

    def validate(self) -> None:
        for f in fields(self):
            _check(f.name, getattr(self, f.name), f.metadata)

    def to_wire(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_wire(cls, mapping: dict[str, Any]) -> Options:
        """Options from a wire map: types checked, ranges left to `validate`; names it
        does not know are ignored, as the protocol asks of every receiver."""
        values = {}
        for f in fields(cls):
            if f.name not in mapping:
                continue
            value = mapping[f.name]
            _check_type(f.name, value, f.metadata)
            values[f.name] = float(value) if f.metadata["kind"] == "number" else value
        return cls(**values)


_KINDS = {"integer": (int,), "number": (int, float), "choice": (str,)}


def _check_type(name: str, value: Any, meta: Mapping[str, Any]) -> None:
    if value is None and meta.get("optional"):
        return
    kinds = _KINDS[meta["kind"]]
    if isinstance(value, bool) or not isinstance(value, kinds):
        wanted = {"integer": "a whole number", "number": "a number", "choice": "text"}[meta["kind"]]
        raise RequestError(f"option {name} must be {wanted}" + (" or null" if meta.get("optional") else "")
                           + f", not {quoted(value)}")


def _check(name: str, value: Any, meta: Mapping[str, Any]) -> None:
    _check_type(name, value, meta)
    if value is None:
        return
    if meta["kind"] == "choice":
        if value not in meta["allowed"]:
            raise RequestError(f"option {name}={quoted(value)} is not one of {', '.join(meta['allowed'])}")
        return
    low, high = meta["low"], meta["high"]
    too_low = value <= low if meta.get("low_open") else value < low
    if too_low or not value <= high:  # `not <=` also catches NaN
        raise RequestError(f"option {name}={value} is outside {describe_range(meta)}")


def quoted(value: Any, limit: int = 64) -> str:
    """A value someone sent, for an error message: a person reads at most `limit` characters of it."""
    text = value if isinstance(value, str) else repr(value)
    shown = text[:limit]
    shown = repr(shown) if isinstance(value, str) else shown
    return shown if len(text) <= limit else f"{shown} (and {len(text) - limit} more characters)"


def describe_range(meta: Mapping[str, Any]) -> str:
    """A range as the docs and the error messages write it: 0..1, or above 0 up to 1000."""
    if meta.get("low_open"):
        return f"above {meta['low']:g} up to {meta['high']:g}"
    return f"{meta['low']:g}..{meta['high']:g}" if meta["kind"] == "number" else f"{meta['low']}..{meta['high']}"


STYLE_WEIGHT = _number(0.0, MAX_STYLE_WEIGHT, low_open=True)


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

    def validate(self) -> None:
        if not isinstance(self.job_id, str) or not JOB_ID.fullmatch(self.job_id):
            raise RequestError(f"job id {quoted(self.job_id)} must be 1-64 letters, digits, '.', '_' or '-'")
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
                try:
                    _check("weight", style.weight, STYLE_WEIGHT)
                except RequestError:
                    raise RequestError(f"{what}: weight must be a number {describe_range(STYLE_WEIGHT)}") from None
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
