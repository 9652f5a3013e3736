"""A server with a memory budget runs pictures larger than the budget in blocks, and
tells its clients so; its default limits admit the layers artists paint at."""

from __future__ import annotations

from restyle_client import events as ev
from support.budgets import budget_gb
from support.server import connect, running_server_process, tiny_request

from core.blocks import halo
from core.job import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS
from server.config import Limits


def test_a_picture_over_the_servers_budget_runs_in_blocks_and_progress_says_so():
    budget = budget_gb(288, 256, 2, halo([*DEFAULT_CONTENT_LAYERS, *DEFAULT_STYLE_LAYERS]))
    with running_server_process(weights="random:0", memory_gb=f"{budget:.4f}") as handle, connect(handle.endpoint) as client:
        job = client.submit(tiny_request(width=256, height=288, iterations=2, preview_every=0))
        events = list(client.events(timeout=240))
        progress = [e for e in events if isinstance(e, ev.Progress) and e.job_id == job]
        result = events[-1]
        assert isinstance(result, ev.Result) and not result.cancelled
        assert (result.pixels.width, result.pixels.height) == (256, 288)
        assert progress[-1].blocks >= 2  # the last stage is the full size, over the budget
        assert progress[0].blocks == 1  # the first, half the size, fits whole


def test_the_default_limits_admit_an_8192_px_rgba_16_bit_layer_with_a_style_as_large():
    layer = 8192 * 8192
    assert Limits().max_pixels >= layer
    assert Limits().max_message_bytes >= 2 * layer * 4 * 2
