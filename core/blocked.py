"""The whole picture's loss and its exact gradient, computed one block at a time.

Every term of the loss is a sum over positions: the content error, the total
variation, and each Gram matrix (a sum of outer products of feature vectors).  Only the
style loss is not linear in those sums, so it takes two passes (docs/engine.md,
"Large pictures"):

1. Without autograd, run every block and add up each style layer's Gram matrix over the
   positions the block owns.  From the finished matrices, the style loss and its
   gradient with respect to each Gram matrix: one C x C matrix per layer and region.
2. Run each block again with autograd.  The Gram matrix's share of the gradient at a
   position is then known in closed form (the pass-1 matrix times the feature vector),
   so it is handed to autograd directly, together with the content and total-variation
   terms of the positions the block owns.  Each block's gradient is added into one
   full-size gradient.

The sum is the gradient of the whole picture: nothing is approximated, so there are no
seams, and peak memory follows the block's size rather than the picture's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch

from .blocks import Block
from .device import trim_heap
from .events import CancelToken
from .job import Weights
from .losses import EPS, StyleLoss, gram_norm, positions_by_channels
from .optimize import Interrupted
from .spill import Spill
from .vgg import feature_size, stride

Features = Callable[[torch.Tensor, Sequence[str]], dict[str, torch.Tensor]]


@dataclass
class StyleRegion:
    weight: float
    loss: StyleLoss  # targets, layer weights, and masks at each layer's full size


def blocked_grams(
    image: torch.Tensor, layers: Sequence[str], features: Features, blocks: Sequence[Block]
) -> dict[str, torch.Tensor]:
    """Gram matrices of a picture too large to run whole: a big style image, say."""
    sums: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for block in blocks:
            feats = features(image[(..., *block.crop)], layers)
            for layer in layers:
                f = _owned_matrix(feats[layer], block, layer)
                sums[layer] = sums[layer] + f.T @ f if layer in sums else f.T @ f
            del feats
            trim_heap()  # blocks of a few shapes would grow the heap past one block's need
    size = (image.shape[-2], image.shape[-1])
    return {layer: sums[layer] / _positions(layer, size) for layer in layers}


def _positions(layer: str, size: tuple[int, int]) -> int:
    h, w = feature_size(layer, size)
    return h * w


def _owned(features: torch.Tensor, block: Block, layer: str) -> torch.Tensor:
    rows, cols = block.owned(layer)
    return features[..., rows, cols]


def _owned_in(full: torch.Tensor, block: Block, layer: str) -> torch.Tensor:
    """The positions a block owns in a layer-sized map of the whole picture."""
    s = stride(layer)
    return full[..., block.top // s:block.bottom // s, block.left // s:block.right // s]


def _owned_matrix(features: torch.Tensor, block: Block, layer: str) -> torch.Tensor:
    return positions_by_channels(_owned(features, block, layer).float())


def _owned_weights(mask: torch.Tensor, block: Block, layer: str) -> torch.Tensor:
    """A layer-sized mask's values at the positions this block owns, as a column."""
    return _owned_in(mask, block, layer)[0, 0].float().reshape(-1, 1)


class BlockedObjective:
    """The same loss as the whole-picture objective in core/engine.py, block by block.

    Called with x, it returns the total and the terms; with `want_grad` it also leaves
    d(total)/dx in x.grad.  Between blocks it checks the cancel token, so that a cancel
    is honoured within one block even when a single iteration takes minutes.
    """

    def __init__(
        self,
        features: Features,
        size: tuple[int, int],
        blocks: Sequence[Block],
        content: torch.Tensor | None,
        content_layers: Mapping[str, float],
        regions: Sequence[StyleRegion],
        weights: Weights,
        cancel: CancelToken | None = None,
        spill: Spill | None = None,
    ) -> None:
        self.features = features
        self.spill = spill  # where the full-size buffers live, when not in memory
        self.blocks = list(blocks)
        self.regions = list(regions)
        self.style_layers = sorted({layer for r in self.regions for layer in r.loss.targets})
        self.content_layers = dict(content_layers) if content is not None else {}
        self.layers = sorted(set(self.style_layers) | set(self.content_layers))
        self.weights = weights
        self.cancel = cancel or CancelToken()
        self.region_total = sum(r.weight for r in self.regions)
        self._norms = [
            {layer: gram_norm(_positions(layer, size), r.loss.mask(layer)) for layer in r.loss.targets}
            for r in self.regions
        ]
        self._gradient: torch.Tensor | None = None
        self._content_targets: list[dict[str, torch.Tensor]] = []
        self._content_maps: dict[str, torch.Tensor] = {}  # the same, in files, when spilled
        self._content_scale: dict[str, float] = {}
        if content is not None:
            self._take_content(content)

    def _take_content(self, content: torch.Tensor) -> None:
        """The content's features at the positions each block owns, and their energy."""
        layers = list(self.content_layers)
        energy = dict.fromkeys(layers, 0.0)
        count = dict.fromkeys(layers, 0)
        with torch.no_grad():
            for block in self.blocks:
                feats = self.features(content[(..., *block.crop)], layers)
                owned = {layer: _owned(feats[layer], block, layer).float() for layer in layers}
                for layer, target in owned.items():
                    energy[layer] += float(target.square().sum())
                    count[layer] += target.numel()
                    if self.spill is not None:
                        if layer not in self._content_maps:
                            f = feats[layer]
                            size = feature_size(layer, tuple(content.shape[-2:]))
                            self._content_maps[layer] = self.spill.zeros((1, f.shape[1], *size))
                        _owned_in(self._content_maps[layer], block, layer).copy_(target)
                if self.spill is None:
                    self._content_targets.append({layer: target.clone() for layer, target in owned.items()})
                del feats, owned
                self._release()
        # relative_mse: the mean squared error over the energy (the mean squared target).
        self._content_scale = {
            layer: self.content_layers[layer] / (count[layer] * (energy[layer] / count[layer] + EPS)) for layer in layers
        }

    def __call__(self, x: torch.Tensor, want_grad: bool = True) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        image = x.detach()
        height, width = image.shape[-2:]
        grams, content, tv, kept = self._first_pass(image, keep_last=want_grad)
        style, gram_grads = self._style(grams)
        w = self.weights
        total = w.content * content + w.style * style + w.tv * tv
        if want_grad:
            # One buffer for every evaluation: a full-size picture, not reallocated each time.
            if self._gradient is None or self._gradient.shape != image.shape:
                self._gradient = torch.empty_like(image) if self.spill is None else self.spill.zeros(tuple(image.shape))
            gradient = self._gradient
            for (band,) in self._bands(gradient):
                band.zero_()
            last = len(self.blocks) - 1
            for index in [last, *range(last)]:  # the last block's forward pass is kept from pass 1
                self._check_cancel()
                block = self.blocks[index]
                crop, feats = kept if index == last else self._forward(image, block)
                kept = None
                gradient[(..., *block.crop)] += self._backward(crop, feats, index, block, gram_grads, (height, width))
                del crop, feats  # before the next block's forward pass
                self._release()
            x.grad = gradient
        terms = {"content": content, "style": style, "tv": tv} if self.regions else {"content": content, "tv": tv}
        return total, terms

    def _release(self) -> None:
        """Between blocks of a stage kept to its budget: the files' pages, and the heap's."""
        if self.spill is not None:
            self.spill.release()
            trim_heap()

    def _bands(self, tensor: torch.Tensor) -> Iterator[tuple[torch.Tensor, ...]]:
        return iter([(tensor,)]) if self.spill is None else self.spill.bands(tensor)

    def _check_cancel(self) -> None:
        if self.cancel.cancelled:
            raise Interrupted

    def _first_pass(
        self, image: torch.Tensor, keep_last: bool
    ) -> tuple[list[dict[str, torch.Tensor]], torch.Tensor, torch.Tensor, tuple[torch.Tensor, dict[str, torch.Tensor]] | None]:
        """The Gram sums and the content and TV terms over every block.  With
        `keep_last`, the last block runs with autograd and its graph is handed on, so that
        pass 2 does not run that block forward again: one block's forward pass less per
        iteration, in the memory pass 2 needs for a block anyway."""
        sums: list[dict[str, torch.Tensor]] = [{} for _ in self.regions]
        content = torch.zeros((), device=image.device)
        tv = torch.zeros((), device=image.device)
        kept = None
        with torch.no_grad():
            for index, block in enumerate(self.blocks):
                self._check_cancel()
                if keep_last and index == len(self.blocks) - 1:
                    with torch.enable_grad():
                        crop, feats = kept = self._forward(image, block)
                else:
                    crop = image[(..., *block.crop)]
                    feats = self.features(crop, self.layers)
                for layer in self.style_layers:
                    f = _owned_matrix(feats[layer], block, layer)
                    plain = None
                    for region, total in zip(self.regions, sums, strict=True):
                        mask = region.loss.mask(layer)
                        if mask is None:
                            plain = f.T @ f if plain is None else plain
                            part = plain
                        else:
                            fw = f * _owned_weights(mask, block, layer)
                            part = fw.T @ fw
                        total[layer] = total[layer] + part if layer in total else part
                content = content + self._content_part(feats, index, block)
                tv = tv + _tv_part(crop, block, image.shape[-2:])
                del feats
                self._release()
        grams = [{layer: total[layer] / norms[layer] for layer in total} for total, norms in zip(sums, self._norms, strict=True)]
        return grams, content, tv, kept

    def _content_part(self, feats: Mapping[str, torch.Tensor], index: int, block: Block) -> torch.Tensor:
        part = torch.zeros((), device=next(iter(feats.values())).device)
        if self.spill is not None:
            targets = {layer: _owned_in(target, block, layer) for layer, target in self._content_maps.items()}
        else:
            targets = self._content_targets[index] if self._content_targets else {}
        for layer, target in targets.items():
            part = part + (_owned(feats[layer], block, layer).float() - target).square().sum() * self._content_scale[layer]
        return part

    def _style(self, grams: list[dict[str, torch.Tensor]]) -> tuple[torch.Tensor, list[dict[str, torch.Tensor]]]:
        """The style loss of the finished Gram matrices, and d(weighted loss)/d(Gram),
        symmetrised and divided by each sum's norm: what pass 2 multiplies features by."""
        if not self.regions:
            return torch.zeros(()), []  # no style term: drawing mode's content-only stages
        leaves = [{layer: g.detach().requires_grad_(True) for layer, g in region.items()} for region in grams]
        with torch.enable_grad():
            style = sum(r.weight * r.loss.compare(g) for r, g in zip(self.regions, leaves, strict=True)) / self.region_total
            assert isinstance(style, torch.Tensor)
            (self.weights.style * style).backward()
        factors = [
            {layer: (g.grad + g.grad.T) / norms[layer] for layer, g in leaf.items()}  # type: ignore[operator]
            for leaf, norms in zip(leaves, self._norms, strict=True)
        ]
        return style.detach(), factors

    def _forward(self, image: torch.Tensor, block: Block) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        crop = image[(..., *block.crop)].clone().requires_grad_(True)
        return crop, self.features(crop, self.layers)

    def _backward(
        self, crop: torch.Tensor, feats: Mapping[str, torch.Tensor], index: int, block: Block,
        factors: list[dict[str, torch.Tensor]], size: tuple[int, int],
    ) -> torch.Tensor:
        """The block's share of the whole picture's gradient, from its forward graph."""
        outputs: list[torch.Tensor] = []
        grads: list[torch.Tensor] = []
        for layer in self.style_layers:
            owned = _owned(feats[layer], block, layer)
            if owned.numel() == 0:
                continue  # a last sliver of rows smaller than this layer's stride owns none of its positions
            outputs.append(owned)
            with torch.no_grad():
                f = positions_by_channels(owned.float())
                plain = None
                push = torch.zeros_like(f)
                for region, factor in zip(self.regions, factors, strict=True):
                    if layer not in factor:
                        continue
                    mask = region.loss.mask(layer)
                    if mask is None:
                        plain = factor[layer] if plain is None else plain + factor[layer]
                    else:
                        w2 = _owned_weights(mask, block, layer).square()
                        push += w2 * (f @ factor[layer])
                if plain is not None:
                    push += f @ plain
                h, w = owned.shape[-2:]
                grads.append(push.reshape(1, h, w, -1).permute(0, 3, 1, 2).to(owned.dtype))
        scalar = self.weights.content * self._content_part(feats, index, block) + self.weights.tv * _tv_part(crop, block, size)
        torch.autograd.backward([scalar, *outputs], [torch.ones_like(scalar), *grads])
        assert crop.grad is not None
        return crop.grad


def _tv_part(crop: torch.Tensor, block: Block, size: Sequence[int]) -> torch.Tensor:
    """The total variation of the neighbour pairs whose first pixel the block owns.

    tv_loss is a mean over all pairs of the picture, so each pair is counted once, by
    the block that owns its first pixel; the crop's halo holds the pair's second pixel.
    """
    height, width = int(size[0]), int(size[1])
    top, left = block.top - block.crop_top, block.left - block.crop_left
    rows, cols = block.bottom - block.top, block.right - block.left
    right = min(cols + 1, width - block.left)  # one past the owned columns, where there is one
    below = min(rows + 1, height - block.top)
    dx = crop[..., top:top + rows, left + 1:left + right] - crop[..., top:top + rows, left:left + right - 1]
    dy = crop[..., top + 1:top + below, left:left + cols] - crop[..., top:top + below - 1, left:left + cols]
    channels = crop.shape[1]
    return dx.square().sum() / (channels * height * (width - 1)) + dy.square().sum() / (channels * (height - 1) * width)
