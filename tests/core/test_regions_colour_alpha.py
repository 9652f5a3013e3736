"""Region masks, colour preservation and transparency: the controls that decide what
part of the picture changes, and how."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support.pictures import dots, gradient, stripes

from core.color import rgb_to_yiq
from core.events import Result
from core.job import Job, JobError, Region, StyleImage
from core.masks import composite

FAST = dict(iterations=[12, 16], min_size=24)


def result_of(engine, job) -> Result:
    return list(engine.run(job))[-1]


def halves(height=48, width=64):
    left = np.zeros((height, width), np.float32)
    left[:, : width // 2] = 1
    return left, 1 - left


def test_outside_every_mask_the_content_is_kept_exactly(engine):
    left, _ = halves()
    job = Job(content=gradient(), regions=[Region([StyleImage(stripes())], mask=left)], strength=0.8, **FAST)
    image = result_of(engine, job).image
    assert np.array_equal(image[:, 32:], gradient()[:, 32:])
    assert np.abs(image[:, :32] - gradient()[:, :32]).mean() > 0.02


def test_each_region_takes_its_own_style(engine):
    """Red stripes on the left, green dots on the right: each half's colour follows its style."""
    left, right = halves()
    job = Job(
        content=gradient(),
        regions=[Region([StyleImage(stripes(color=(1, 0, 0)))], mask=left),
                 Region([StyleImage(dots(color=(0, 1, 0)))], mask=right)],
        strength=0.9, **FAST,
    )
    image = result_of(engine, job).image
    inner_left, inner_right = image[:, 4:28], image[:, 36:60]
    redness = lambda part: float(part[..., 0].mean() - part[..., 1].mean())  # noqa: E731
    assert redness(inner_left) > redness(gradient()[:, 4:28]) + 0.05
    assert redness(inner_right) < redness(gradient()[:, 36:60]) - 0.05


def test_guided_gram_distance_is_smaller_to_the_regions_own_style(engine_fp32):
    from core.losses import gram

    left, right = halves()
    a, b = stripes(color=(1, 1, 1)), dots(color=(1, 1, 1))
    job = Job(content=gradient(), regions=[Region([StyleImage(a)], mask=left), Region([StyleImage(b)], mask=right)],
              strength=0.9, **FAST)
    image = result_of(engine_fp32, job).image
    layers = ["relu1_1", "relu2_1"]

    def grams(array, mask=None):
        t = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))[None]
        feats = engine_fp32.features(t, layers)
        out = []
        for k in layers:
            m = None if mask is None else torch.nn.functional.interpolate(
                torch.from_numpy(mask)[None, None], size=feats[k].shape[-2:], mode="area")
            out.append(gram(feats[k], m))
        return out

    def distance(region_mask, style):
        return sum(float((g - s).square().mean() / s.square().mean())
                   for g, s in zip(grams(image, region_mask), grams(style), strict=True))

    assert distance(left, a) < distance(left, b)
    assert distance(right, b) < distance(right, a)


def test_feathered_mask_edges_blend_styled_and_content_pixels():
    styled, content = torch.ones(1, 3, 1, 3), torch.zeros(1, 3, 1, 3)
    cover = torch.tensor([0.0, 0.5, 1.0]).view(1, 1, 1, 3)
    assert composite(styled, content, cover)[0, 0, 0].tolist() == [0.0, 0.5, 1.0]


def test_a_mask_of_another_size_is_an_error_not_a_silent_resize(engine):
    job = Job(content=gradient(), regions=[Region([StyleImage(stripes())], mask=np.ones((20, 20), np.float32))])
    with pytest.raises(JobError, match="20x20 px but the content is 64x48 px"):
        list(engine.run(job))


def test_an_empty_mask_is_reported(engine):
    job = Job(content=gradient(), regions=[Region([StyleImage(stripes())], mask=np.zeros((48, 64), np.float32))])
    with pytest.raises(JobError, match="empty"):
        list(engine.run(job))


def chroma(image):
    t = torch.from_numpy(np.ascontiguousarray(image[..., :3].transpose(2, 0, 1)))[None]
    return rgb_to_yiq(t)[0, 1:].numpy()


def test_preserve_colours_by_luminance_keeps_the_contents_chroma(engine):
    colorful = stripes(color=(1.0, 0.1, 0.0))
    plain = result_of(engine, Job(content=gradient(), regions=[Region([StyleImage(colorful)])], strength=0.8, **FAST))
    kept = result_of(engine, Job(content=gradient(), regions=[Region([StyleImage(colorful)])], strength=0.8,
                                 preserve_colors="luminance", **FAST))
    drift_plain = np.abs(chroma(plain.image) - chroma(gradient())).mean()
    drift_kept = np.abs(chroma(kept.image) - chroma(gradient())).mean()
    # Only pixels whose luminance cannot carry the content's chroma inside the RGB
    # gamut (the ramp's saturated corners) are allowed to drift, and only a little.
    assert drift_kept < 0.03
    assert drift_plain > 4 * drift_kept
    luma = lambda im: 0.299 * im[..., 0] + 0.587 * im[..., 1] + 0.114 * im[..., 2]  # noqa: E731
    assert np.abs(luma(kept.image) - luma(gradient())).mean() > 0.01


@pytest.mark.parametrize("mode", ["stats", "histogram"])
def test_preserve_colours_by_recolouring_the_style_keeps_the_palette(engine, mode):
    colorful = stripes(color=(1.0, 0.0, 0.0))
    plain = result_of(engine, Job(content=gradient(), regions=[Region([StyleImage(colorful)])], strength=0.8, **FAST))
    kept = result_of(engine, Job(content=gradient(), regions=[Region([StyleImage(colorful)])], strength=0.8,
                                 preserve_colors=mode, **FAST))
    mean_shift = lambda im: np.abs(im[..., :3].mean((0, 1)) - gradient().mean((0, 1))).sum()  # noqa: E731
    assert mean_shift(kept.image) < 0.5 * mean_shift(plain.image)


def test_alpha_is_carried_through_untouched(engine):
    content = gradient(alpha=True)
    content[..., 3] = np.linspace(0, 1, 64, dtype=np.float32)[None, :]
    image = result_of(engine, Job(content=content, regions=[Region([StyleImage(stripes())])], **FAST)).image
    assert image.shape == (48, 64, 4)
    assert np.array_equal(image[..., 3], content[..., 3])


def test_colour_hidden_under_transparency_does_not_bleed_into_the_picture(engine):
    """Two layers that look the same in the editor give the same result, whatever colour
    sits under their transparent pixels."""
    a = gradient(alpha=True)
    a[:, 40:, 3] = 0
    b = a.copy()
    b[:, 40:, :3] = [1.0, 0.0, 1.0]
    job = lambda content: Job(content=content, regions=[Region([StyleImage(stripes())])], seed=1, **FAST)  # noqa: E731
    ra, rb = result_of(engine, job(a)).image, result_of(engine, job(b)).image
    assert np.array_equal(ra[:, :40], rb[:, :40])
