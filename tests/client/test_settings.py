"""From what a person chose in either editor to the request, and the controls both offer."""

from __future__ import annotations

import pytest
from restyle_client import settings
from restyle_client.request import PRESERVE_COLORS, Options, Pixels, RequestError, Style
from restyle_client.settings import JobError, Previews, Settings


def rgba(width, height):
    return Pixels(width, height, 4, "u8", bytes(width * height * 4))


def mask(width, height, value=255):
    return Pixels(width, height, 1, "u8", bytes([value]) * (width * height))


def build(content, styles, masked=(), chosen=None, previews=Previews.NONE, names=None):
    regions = settings.regions_of(styles, list(masked))
    return settings.build_request(content, regions, chosen or Settings(), previews, names)


def test_quality_presets_never_upscale_a_small_layer():
    standard = settings.DEFAULT_QUALITY
    assert settings.QUALITIES[standard][1] == 1024
    assert settings.quality_size(standard, 3000, 2000) == 1024
    assert settings.quality_size(standard, 800, 600) is None
    assert settings.quality_size(len(settings.QUALITIES) - 1, 5000, 5000) is None  # full size


def test_the_request_carries_the_persons_settings():
    chosen = Settings(strength=0.8, style_scale=2.0, size=256, preserve_colors="luminance", seed=7, iterations=30)
    o = build(rgba(40, 30), [Style(rgba(8, 8))], chosen=chosen).options
    assert (o.strength, o.style_scale, o.size, o.preserve_colors, o.seed, o.iterations) == (
        0.8,
        2.0,
        256,
        "luminance",
        7,
        30,
    )


def test_the_main_styles_apply_everywhere_and_each_masked_region_under_its_mask():
    request = build(rgba(40, 30), [Style(rgba(8, 8), name="Sky")], [(mask(40, 30), [Style(rgba(8, 8), name="Bricks")])])
    assert [r.mask is None for r in request.regions] == [True, False]
    assert [s.name for r in request.regions for s in r.styles] == ["Sky", "Bricks"]


def test_regions_alone_are_enough():
    request = build(rgba(10, 10), [], [(mask(10, 10), [Style(rgba(8, 8))])])
    assert len(request.regions) == 1 and request.regions[0].mask is not None


def test_no_style_at_all_is_refused():
    with pytest.raises(RequestError, match="at least one region"):
        build(rgba(10, 10), [])


def test_a_mask_of_the_wrong_size_is_refused_before_sending():
    with pytest.raises(RequestError, match="masks must match the content"):
        build(rgba(10, 10), [], [(mask(9, 10), [Style(rgba(8, 8))])])


def test_a_mask_that_selects_nothing_is_refused_by_the_name_the_editor_shows():
    masked = [(mask(10, 10, 0), [Style(rgba(8, 8))])]
    with pytest.raises(JobError, match="^The mask of region 1 does not cover any of the content layer"):
        build(rgba(10, 10), [], masked)
    with pytest.raises(JobError, match="^The mask of the region “Sky” does not cover"):
        build(rgba(10, 10), [], masked, names=["the region “Sky”"])


def test_live_previews_come_often_enough_for_a_short_job_to_show_one():
    short = build(rgba(10, 10), [Style(rgba(8, 8))], chosen=Settings(iterations=20), previews=Previews.LIVE)
    long = build(rgba(10, 10), [Style(rgba(8, 8))], previews=Previews.LIVE)
    assert (short.options.preview_every, long.options.preview_every) == (1, 5)
    assert long.options.preview_interval_ms == 250 and long.options.preview_max_size == Options().preview_max_size


def test_kept_frames_come_at_the_layers_size_up_to_a_cap():
    frames = build(rgba(300, 200), [Style(rgba(8, 8))], chosen=Settings(mode="draw"), previews=Previews.FRAMES)
    assert frames.options.preview_every == settings.FRAME_EVERY and frames.options.preview_max_size == 300
    huge = settings.preview_options(Previews.FRAMES, None, rgba(9000, 10))
    assert huge["preview_max_size"] == settings.MAX_FRAME_SIDE


def test_without_previews_none_are_asked_for():
    assert build(rgba(10, 10), [Style(rgba(8, 8))]).options.preview_every == 0


def test_the_controls_defaults_are_the_requests_defaults():
    options, chosen = Options(), Settings()
    assert (chosen.strength, chosen.style_scale, chosen.seed) == (options.strength, options.style_scale, options.seed)
    assert settings.STRENGTH.default == options.strength and settings.STYLE_SCALE.default == options.style_scale


def test_every_value_a_control_offers_is_one_the_request_takes():
    for strength in (settings.STRENGTH.minimum, settings.STRENGTH.maximum):
        for scale in (settings.STYLE_SCALE.minimum, settings.STYLE_SCALE.maximum):
            for colors, _label in settings.PRESERVE_COLORS:
                chosen = Settings(strength=strength, style_scale=scale, preserve_colors=colors)
                chosen.seed, chosen.iterations = int(settings.SEED.maximum), int(settings.ITERATIONS.maximum)
                build(rgba(10, 10), [Style(rgba(8, 8))], chosen=chosen)
    assert [value for value, _label in settings.PRESERVE_COLORS] == list(PRESERVE_COLORS)
