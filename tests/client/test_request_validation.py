"""The request type refuses what cannot run, with a message that says what to fix."""

from __future__ import annotations

import pytest
from restyle_client.request import Options, Pixels, Region, RequestError
from support.server import noise_pixels, tiny_request


def test_a_small_valid_request_passes():
    tiny_request().validate()


def test_pixel_data_of_the_wrong_length_is_refused_with_both_sizes():
    request = tiny_request()
    request.content = Pixels(40, 32, 3, "u8", bytes(10))
    with pytest.raises(RequestError, match="10 bytes.*needs 3840"):
        request.validate()


def test_an_unknown_sample_type_is_refused():
    request = tiny_request()
    request.content = Pixels(2, 2, 3, "f16", bytes(24))
    with pytest.raises(RequestError, match="f16"):
        request.validate()


def test_a_request_without_styles_is_refused():
    request = tiny_request()
    request.regions = [Region(styles=[])]
    with pytest.raises(RequestError, match="no style"):
        request.validate()


@pytest.mark.parametrize(
    "options, words",
    [
        (Options(strength=2.0), "strength"),
        (Options(preserve_colors="sepia"), "preserve_colors"),
        (Options(mode="paint"), "mode"),
        (Options(iterations=100_001), "iterations"),
        (Options(size=True), "size"),  # a bool is not a size
    ],
)
def test_out_of_range_options_are_refused_by_name(options, words):
    request = tiny_request()
    request.options = options
    with pytest.raises(RequestError, match=words):
        request.validate()


def test_job_ids_are_short_and_plain():
    request = tiny_request()
    request.job_id = "../../etc/passwd"
    with pytest.raises(RequestError, match="job id"):
        request.validate()


def test_drawing_mode_takes_no_mask():
    request = tiny_request(mode="draw")
    request.regions[0].mask = noise_pixels(40, 32, 1)
    with pytest.raises(RequestError, match="mask"):
        request.validate()


def test_the_client_package_imports_without_numpy_or_torch():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['numpy'] = None; sys.modules['torch'] = None\n"
        "import restyle_client, restyle_client.client, restyle_client.protocol, restyle_client.events\n"
        "print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


@pytest.mark.parametrize("job_id", ["abc\n", "\nabc", "a" * 65, ""])
def test_a_job_id_is_checked_whole(job_id):
    request = tiny_request()
    request.job_id = job_id
    with pytest.raises(RequestError, match="job id"):
        request.validate()


def test_a_refusal_quotes_at_most_a_line_of_what_was_sent():
    request = tiny_request()
    request.options = Options(preserve_colors="x" * 100_000)
    with pytest.raises(RequestError) as refusal:
        request.validate()
    assert len(str(refusal.value)) < 200 and "preserve_colors" in str(refusal.value)
