"""Cutting a picture into blocks whose features are exactly the whole picture's.

A block owns a rectangle of pixels and is run through the network as a larger crop:
the rectangle plus a halo as wide as the deepest layer's reach (core/vgg.py, `reach`).
Every crop starts on the network's pooling grid, so each pooling sees the same pairs of
positions as it does on the whole picture, and every feature at a position the block
owns depends only on pixels inside the crop.  So those features are the whole
picture's features, to the last bit of arithmetic, with no seam to hide.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from .vgg import reach, stride

# The deepest layer a job can use is relu5_4, four poolings down: 16 px per position.
GRID = 16


def halo(layers: Iterable[str]) -> int:
    """Pixels of context a block needs on each side, rounded up to the pooling grid."""
    widest = max(max(reach(layer)) for layer in layers)
    return math.ceil(widest / GRID) * GRID


@dataclass(frozen=True)
class Block:
    """Owned pixels [top, bottom) x [left, right); the crop the network runs on."""

    top: int
    bottom: int
    left: int
    right: int
    crop_top: int
    crop_bottom: int
    crop_left: int
    crop_right: int

    @property
    def crop(self) -> tuple[slice, slice]:
        return slice(self.crop_top, self.crop_bottom), slice(self.crop_left, self.crop_right)

    def owned(self, layer: str) -> tuple[slice, slice]:
        """The positions this block owns in its crop's feature map at `layer`.

        A picture's last row of positions at a layer may stand for fewer pixels than the
        stride (the network drops them); the last block's crop ends where the picture
        does, so it drops the same ones.
        """
        s = stride(layer)
        return (slice((self.top - self.crop_top) // s, (self.bottom - self.crop_top) // s),
                slice((self.left - self.crop_left) // s, (self.right - self.crop_left) // s))


def _edges(length: int, tile: int) -> list[int]:
    edges = list(range(0, length, tile))
    return edges + [length]


def grid(height: int, width: int, tile_height: int, tile_width: int, margin: int) -> list[Block]:
    """Blocks of at most tile_height x tile_width owned pixels (multiples of GRID), each
    with `margin` pixels of context on every side that the picture has."""
    if tile_height % GRID or tile_width % GRID or tile_height <= 0 or tile_width <= 0:
        raise ValueError(f"tiles must be positive multiples of {GRID} px")
    rows, cols = _edges(height, tile_height), _edges(width, tile_width)
    return [
        Block(top, bottom, left, right,
              max(0, top - margin), min(height, bottom + margin), max(0, left - margin), min(width, right + margin))
        for top, bottom in zip(rows, rows[1:], strict=False)
        for left, right in zip(cols, cols[1:], strict=False)
    ]


def largest_crop(height: int, width: int, tile_height: int, tile_width: int, margin: int) -> int:
    """Pixels in the largest crop of such a grid, without building it."""
    return min(height, tile_height + 2 * margin) * min(width, tile_width + 2 * margin)


def total_crop(height: int, width: int, tile_height: int, tile_width: int, margin: int) -> int:
    """Pixels the network runs over, halos included: what a pass over the grid costs."""
    def span(length: int, tile: int) -> int:
        edges = _edges(length, tile)
        return sum(min(length, b + margin) - max(0, a - margin) for a, b in zip(edges, edges[1:], strict=False))

    return span(height, tile_height) * span(width, tile_width)
