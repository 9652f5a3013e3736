"""Preserving the content's colours (Gatys et al. 2017, section 5).

Two ways, as in the paper: transfer luminance only and put the content's chroma back
afterwards, or recolour the style image to the content's colour distribution before
transfer ("stats" matches mean and covariance, "histogram" each channel's histogram).
"""

from __future__ import annotations

import torch

# YIQ keeps luminance in one channel and colour in two, with an exact inverse.
_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114],
                            [0.595716, -0.274453, -0.321263],
                            [0.211456, -0.522591, 0.311135]])
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)


def rgb_to_yiq(rgb: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,bjhw->bihw", _RGB_TO_YIQ.to(rgb), rgb)


def yiq_to_rgb(yiq: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,bjhw->bihw", _YIQ_TO_RGB.to(yiq), yiq)


def luminance(rgb: torch.Tensor) -> torch.Tensor:
    """Grey RGB with the picture's luminance, for the network to see."""
    return rgb_to_yiq(rgb)[:, :1].expand(-1, 3, -1, -1).clamp(0, 1)


def with_chroma_of(gray: torch.Tensor, color_source: torch.Tensor) -> torch.Tensor:
    """The luminance of `gray` with the chroma (I and Q) of `color_source`."""
    y = rgb_to_yiq(gray)[:, :1]
    iq = rgb_to_yiq(color_source)[:, 1:]
    return yiq_to_rgb(torch.cat([y, iq], 1)).clamp(0, 1)


def match_stats(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Affinely recolour `source` so its RGB mean and covariance equal the target's."""
    s = source.flatten(2)[0].double()
    t = target.flatten(2)[0].double()
    mu_s, mu_t = s.mean(1, keepdim=True), t.mean(1, keepdim=True)
    eye = torch.eye(3, dtype=torch.float64) * 1e-5
    cov_s = torch.cov(s) + eye
    cov_t = torch.cov(t) + eye
    transform = _sqrtm(cov_t) @ torch.linalg.inv(_sqrtm(cov_s))
    out = transform @ (s - mu_s) + mu_t
    return out.view_as(source[0]).unsqueeze(0).to(source.dtype).clamp(0, 1)


def _sqrtm(m: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(m)
    return vectors @ torch.diag(values.clamp_min(0).sqrt()) @ vectors.T


def match_histogram(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Give each channel of `source` the value distribution of the same channel of `target`."""
    out = torch.empty_like(source)
    for ch in range(3):
        src = source[0, ch].flatten()
        ref = torch.sort(target[0, ch].flatten()).values
        order = torch.argsort(src)
        ranks = torch.empty_like(order)
        ranks[order] = torch.arange(src.numel(), device=src.device)
        positions = ranks.to(torch.float64) * (ref.numel() - 1) / max(src.numel() - 1, 1)
        out[0, ch] = ref[positions.round().long()].view_as(source[0, ch])
    return out
