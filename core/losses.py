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


def gram(features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Channel correlations averaged over (mask-weighted) positions, in fp32.

    Features may arrive in bf16 under autocast; the products are summed over every
    position, so they are taken in fp32 to keep the small differences the loss is made of.
    """
    f = features.float().flatten(2)[0]
    if mask is None:
        return f @ f.T / f.shape[1]
    w = mask.float().flatten()
    fw = f * w
    return fw @ fw.T / (w.square().sum() + EPS)


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

    def forward(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        total = torch.zeros((), device=next(iter(self.targets.values())).device)
        for layer, target in self.targets.items():
            mask = self.masks[layer] if self.masks is not None else None
            g = gram(features[layer], mask)
            total = total + self.weights[layer] * relative_mse(g, target, self.energy[layer])
        return total


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return dx.square().mean() + dy.square().mean()
