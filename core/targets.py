"""Style targets: the Gram matrices a style image asks for, computed once and reused.

A style's targets depend only on the style's pixels, the size it is used at, the layers
and the network, so they are keyed on exactly that; a server hands in a cache shared by
every job, and a second job with the same style skips the style's feature pass.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch


class TargetCache(Protocol):
    def get(self, key: Hashable) -> StyleTargets | None: ...

    def __setitem__(self, key: Hashable, value: StyleTargets) -> None: ...


@dataclass
class StyleTargets:
    grams: dict[str, torch.Tensor]

    @property
    def nbytes(self) -> int:
        return sum(g.numel() * g.element_size() for g in self.grams.values())


def fingerprint(image: torch.Tensor) -> str:
    """The pixels' hash, read in place: a copy of a large style's bytes would cost as
    much memory as the style."""
    array = image.detach().cpu().contiguous().numpy()
    return hashlib.blake2b(array.reshape(-1).view(np.uint8), digest_size=16).hexdigest()


def style_targets(
    image: torch.Tensor,
    size: tuple[int, int],
    layers: Sequence[str],
    grams: Callable[[torch.Tensor, tuple[int, int], Sequence[str]], dict[str, torch.Tensor]],
    network_key: Hashable,
    cache: TargetCache | None = None,
) -> StyleTargets:
    """The Gram matrices at `layers` of the style used at `size`, from the cache when
    this very style was seen at that size before; `grams` resizes and computes them
    (whole or in blocks: the cache cannot tell).  The key is the style as given, so a
    hit skips the resize too: at an 8192 px stage the resized style alone is 805 MB."""
    key = (network_key, fingerprint(image), tuple(image.shape), tuple(size), tuple(sorted(layers)))
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            return hit
    with torch.no_grad():
        targets = StyleTargets(grams(image, size, layers))
    if cache is not None:
        cache[key] = targets
    return targets


def blend(targets: Sequence[StyleTargets], weights: Sequence[float]) -> dict[str, torch.Tensor]:
    """Several styles at once: their Gram matrices averaged with the blend weights."""
    total = float(sum(weights))
    layers = targets[0].grams.keys()
    return {
        layer: sum(t.grams[layer] * (w / total) for t, w in zip(targets, weights, strict=True))  # type: ignore[misc]
        for layer in layers
    }
