"""A wire `Request` becomes an engine job, and the engine's picture becomes a reply.

The engine may work below the content's size (`options.size`); the reply is always at
the content's full resolution, in its sample type and channel count, with its alpha
copied unchanged, so the editor can put the layer back exactly where it came from.
"""

from __future__ import annotations

import numpy as np
import torch
from restyle_client.request import Pixels, Request
from torch.nn import functional as F

from core.job import DrawJob, Job, Region, StyleImage

from . import pixels as px

EngineJob = Job | DrawJob


def build_job(request: Request) -> EngineJob:
    o = request.options
    content = px.to_array(request.content)
    if o.mode == "draw":
        region = request.regions[0]
        kwargs = {} if o.iterations is None else {"iterations": o.iterations}
        return DrawJob(
            content=content,
            styles=[_style(s) for s in region.styles],
            size=o.size,
            strength=o.strength,
            style_scale=o.style_scale,
            frame_every=max(1, o.preview_every),
            **kwargs,
        )
    regions = [
        Region(
            styles=[_style(s) for s in region.styles],
            mask=None if region.mask is None else px.to_mask(region.mask),
        )
        for region in request.regions
    ]
    return Job(
        content=content,
        regions=regions,
        size=o.size,
        strength=o.strength,
        style_scale=o.style_scale,
        preserve_colors=o.preserve_colors,  # type: ignore[arg-type]
        init=o.init,  # type: ignore[arg-type]
        optimizer=o.optimizer,  # type: ignore[arg-type]
        iterations=o.iterations,
        seed=o.seed,
        full_resolution=True,
    )


def _style(style) -> StyleImage:
    return StyleImage(image=px.to_array(style.pixels), weight=style.weight, name=style.name or "style")


def full_size_reply(image: np.ndarray, content: Pixels) -> Pixels:
    """The engine's (H, W, C) picture as pixels shaped and typed like the content."""
    if image.shape[0] != content.height or image.shape[1] != content.width:
        tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).unsqueeze(0)
        tensor = F.interpolate(tensor, size=(content.height, content.width), mode="bicubic", align_corners=False)
        image = tensor.clamp(0, 1).squeeze(0).permute(1, 2, 0).numpy()
    image = image[:, :, : content.channels]
    reply = px.from_array(image, content.sample)
    if content.channels == 4:
        reply = px.replace_alpha(reply, content)
    return reply


def downscaled(image: torch.Tensor, max_size: int) -> Pixels:
    """A (C, H, W) or (1, C, H, W) tensor in [0, 1] as u8 pixels no larger than `max_size` on its long side.

    Runs where the tensor lives (the GPU when there is one), so only the small picture
    crosses to the CPU.
    """
    if image.dim() == 4:
        image = image[0]
    channels, height, width = image.shape
    scale = min(1.0, max_size / max(height, width))
    if scale < 1.0:
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        image = F.interpolate(image[None].float(), size=size, mode="area")[0]
    u8 = (image.float().clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).contiguous().cpu()
    h, w = u8.shape[0], u8.shape[1]
    return Pixels(width=w, height=h, channels=channels, sample="u8", data=u8.numpy().tobytes())
