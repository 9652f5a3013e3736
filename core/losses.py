"""The three loss terms, each normalised so that its size says the same thing at every
resolution and every layer.

Units (docs/engine.md has the derivation):
- content: squared feature error relative to the content's own feature energy,
  averaged over elements, so 1.0 means "as far off as a black picture";
- style: squared Gram-matrix error relative to the style Gram's energy, with Gram
  matrices averaged over positions, so neither image size nor channel count moves it;
- total variation: mean squared difference between neighbouring pixels, in [0, 1]
  colour units, at the current stage's resolution.
Gatys et al. sum raw squared errors instead, which ties the right weights to one size.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

EPS = 1e-8


class _Gram(torch.autograd.Function):
    """F^T F / n for positions-by-channels F, with a backward of one product.

    Autograd's own backward of `f.T @ f` takes two products and adds them; the Gram
    matrix is symmetric, so one product of F with the symmetrised gradient is the same.
    """

    @staticmethod
    def forward(ctx, f: torch.Tensor, n: torch.Tensor | float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(f)
        ctx.n = n
        return f.T @ f / n

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (f,) = ctx.saved_tensors
        return f @ ((grad + grad.T) / ctx.n), None


def positions_by_channels(features: torch.Tensor) -> torch.Tensor:
    """(1, C, H, W) as an (H*W, C) matrix, without a copy when the features are
    channels_last.

    A transposing copy here cost more than the Gram product itself at full size, and
    its gradient, laid out differently from the network's, made autograd's sum of the
    two gradients at every style layer a slow strided add.
    """
    channels = features.shape[1]
    return features.permute(0, 2, 3, 1).reshape(-1, channels)


def gram(features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Channel correlations averaged over (mask-weighted) positions, in fp32.

    Features may arrive in bf16 under autocast; the products are summed over every
    position, so they are taken in fp32 to keep the small differences the loss is made of.
    """
    f = positions_by_channels(features.float())
    if mask is None:
        return _Gram.apply(f, gram_norm(f.shape[0], None))
    return _Gram.apply(f * mask.float().reshape(-1, 1), gram_norm(f.shape[0], mask))


def gram_norm(positions: int, mask: torch.Tensor | None) -> float | torch.Tensor:
    """What a Gram sum is divided by: the positions, each counted by its squared mask
    weight (a guided Gram matrix weights the features, so their products carry w²)."""
    return float(positions) if mask is None else mask.float().square().sum() + EPS


def relative_mse(value: torch.Tensor, target: torch.Tensor, energy: torch.Tensor) -> torch.Tensor:
    return (value - target).square().mean() / (energy + EPS)


class ContentLoss(nn.Module):
    def __init__(self, targets: Mapping[str, torch.Tensor], weights: Mapping[str, float]) -> None:
        super().__init__()
        self.targets = {k: v.detach().float() for k, v in targets.items()}
        self.energy = {k: v.square().mean() for k, v in self.targets.items()}
        self.weights = dict(weights)

    def forward(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        total = torch.zeros((), device=next(iter(self.targets.values())).device)
        for layer, target in self.targets.items():
            total = total + self.weights[layer] * relative_mse(features[layer].float(), target, self.energy[layer])
        return total


class StyleLoss(nn.Module):
    """Guided Gram loss for one region; an unmasked region is the plain Gatys loss."""

    def __init__(
        self,
        targets: Mapping[str, torch.Tensor],
        weights: Mapping[str, float],
        masks: Mapping[str, torch.Tensor] | None = None,
    ) -> None:
        super().__init__()
        self.targets = dict(targets)
        self.energy = {k: v.square().mean() for k, v in targets.items()}
        self.weights = dict(weights)
        self.masks = dict(masks) if masks is not None else None

    def mask(self, layer: str) -> torch.Tensor | None:
        return self.masks[layer] if self.masks is not None else None

    def forward(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.compare({layer: gram(features[layer], self.mask(layer)) for layer in self.targets})

    def compare(self, grams: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The loss of finished Gram matrices, however they were summed up."""
        total = torch.zeros((), device=next(iter(self.targets.values())).device)
        for layer, target in self.targets.items():
            total = total + self.weights[layer] * relative_mse(grams[layer], target, self.energy[layer])
        return total


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return dx.square().mean() + dy.square().mean()
