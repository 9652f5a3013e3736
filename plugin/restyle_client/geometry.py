"""Rectangles of pixels, as both editors place layers and masks.

Layers sit at offsets in their image and masks may lie partly outside them, so the
editors line areas up by rectangles; this is the one rectangle they share.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rect:
    """A rectangle in some coordinate system; right and bottom edges are exclusive."""

    x: int
    y: int
    width: int
    height: int

    @property
    def empty(self) -> bool:
        return self.width <= 0 or self.height <= 0

    def intersect(self, other: Rect) -> Rect:
        x1, y1 = max(self.x, other.x), max(self.y, other.y)
        x2 = min(self.x + self.width, other.x + other.width)
        y2 = min(self.y + self.height, other.y + other.height)
        return Rect(x1, y1, max(0, x2 - x1), max(0, y2 - y1))

    def tuple(self) -> tuple[int, int, int, int]:
        """(x, y, width, height), the argument order of the editors' pixel calls."""
        return (self.x, self.y, self.width, self.height)
