"""The Gram matrix is computed the fast way but must mean exactly what Gatys et al. wrote:
channel correlations averaged over (mask-weighted) positions, with the gradient of that."""

from __future__ import annotations

import pytest
import torch

from core.losses import gram


def _by_definition(features: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    f = features.double().reshape(features.shape[1], -1)
    w = torch.ones(f.shape[1], dtype=torch.float64) if mask is None else mask.double().reshape(-1)
    return (f * w) @ (f * w).T / (w.square().sum())


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("masked", [False, True])
def test_the_gram_matrix_and_its_gradient_follow_the_definition(layout, masked):
    gen = torch.Generator().manual_seed(3)
    features = torch.rand((1, 6, 5, 7), generator=gen).contiguous(memory_format=layout)
    mask = torch.rand((1, 1, 5, 7), generator=gen) if masked else None
    weights = torch.rand((6, 6), generator=gen)

    fast = features.clone().requires_grad_(True)
    (gram(fast, mask) * weights).sum().backward()
    slow = features.double().requires_grad_(True)
    (_by_definition(slow, mask) * weights.double()).sum().backward()

    assert torch.allclose(gram(features, mask).double(), _by_definition(features, mask), atol=1e-6)
    assert torch.allclose(fast.grad.double(), slow.grad, atol=1e-6)


def test_the_gram_matrix_does_not_depend_on_the_picture_size():
    tile = torch.rand((1, 4, 8, 8), generator=torch.Generator().manual_seed(0))
    assert torch.allclose(gram(tile), gram(tile.repeat(1, 1, 3, 3)), atol=1e-6)
