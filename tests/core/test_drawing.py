"""Drawing mode: the picture appears the way a person draws it, from white paper,
large shapes first and detail last, as a stream of frames."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support.pictures import gradient, stripes
from torch.nn import functional as F

from core.events import CancelToken, Progress, Result
from core.job import DrawJob, JobError, StyleImage


def blurred(image: np.ndarray, factor: int = 8) -> np.ndarray:
    t = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
    return F.avg_pool2d(t, factor).numpy()


def content_with_shapes() -> np.ndarray:
    image = gradient(64, 64)
    image[16:48, 8:28] = [0.1, 0.1, 0.8]
    image[24:40, 36:60] = [0.9, 0.8, 0.1]
    return image


def test_frames_stream_from_white_paper_towards_the_content(engine):
    content = content_with_shapes()
    events = list(engine.draw(DrawJob(content=content, iterations=8, frame_every=4)))
    frames = [e.image for e in events if isinstance(e, Progress) and e.image is not None]
    result = events[-1]
    assert isinstance(result, Result) and not result.cancelled
    assert len(frames) == 10  # 5 layers x 8 iterations, a frame every 4
    first = frames[0].permute(1, 2, 0).numpy()
    assert first.mean() > 0.8  # still mostly paper
    distance = lambda im: float(np.abs(blurred(im) - blurred(content)).mean())  # noqa: E731
    assert distance(result.image) < 0.6 * distance(first)


def test_large_shapes_settle_before_fine_detail(engine):
    """After the deep-layer stage the coarse picture is already closer to the content
    than the fine detail is; the shallow stages then close the gap in detail."""
    content = content_with_shapes()
    events = list(engine.draw(DrawJob(content=content, iterations=10, frame_every=10)))
    frames = [e.image.permute(1, 2, 0).numpy() for e in events if isinstance(e, Progress) and e.image is not None]
    paper = np.ones_like(content)

    def progress_made(image, factor):
        coarse_error = np.abs(blurred(image, factor) - blurred(content, factor)).mean()
        return 1 - coarse_error / np.abs(blurred(paper, factor) - blurred(content, factor)).mean()

    early, final = frames[1], frames[-1]
    assert progress_made(early, 16) > progress_made(early, 1)
    assert progress_made(final, 1) > progress_made(early, 1)


def test_a_style_turns_the_drawing_into_a_stylised_drawing(engine):
    content = gradient(48, 48)
    plain = list(engine.draw(DrawJob(content=content, iterations=6)))[-1].image
    styled = list(engine.draw(DrawJob(content=content, styles=[StyleImage(stripes())], strength=0.9, iterations=6)))[-1].image
    stripe_energy = lambda im: float(np.abs(np.diff(im, axis=0)).mean())  # noqa: E731
    assert stripe_energy(styled) > stripe_energy(plain)


def test_a_cancelled_drawing_returns_the_drawing_so_far(engine):
    token = CancelToken()
    result = None
    for event in engine.draw(DrawJob(content=gradient(48, 48), iterations=10), cancel=token):
        if isinstance(event, Progress) and event.step == 3:
            token.cancel()
        if isinstance(event, Result):
            result = event
    assert result is not None and result.cancelled and result.steps == 3
    assert result.image.shape == (48, 48, 3)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(size=8), "size must be"),
        (dict(size=-5), "size must be .*, got -5"),
        (dict(content=np.zeros((1, 1, 3), np.float32)), "the picture is 1x1 px"),
        (dict(iterations=1_000_000_000), "iterations must be between 0 and 100000"),
    ],
)
def test_drawing_refuses_what_stylizing_refuses_with_the_same_words(engine, change, message):
    job = DrawJob(content=content_with_shapes(), iterations=2)
    for key, value in change.items():
        setattr(job, key, value)
    with pytest.raises(JobError, match=message):
        list(engine.draw(job))


def test_a_drawing_that_fails_half_way_still_returns_its_picture(engine, monkeypatch):
    calls = {"n": 0}
    features = engine.features

    def failing_later(image, layers, pooling="max"):
        calls["n"] += 1
        if calls["n"] > 6:
            raise RuntimeError("out of memory")
        return features(image, layers, pooling)

    monkeypatch.setattr(engine, "features", failing_later)
    events = list(engine.draw(DrawJob(content=content_with_shapes(), iterations=4)))
    result = events[-1]
    assert isinstance(result, Result) and result.cancelled and "out of memory" in result.reason
    assert result.steps > 0 and result.image.shape == (64, 64, 3)
