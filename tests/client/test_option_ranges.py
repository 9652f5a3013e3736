"""An option the request lets an editor send is one the engine runs, and one the request
refuses the engine refuses too: the two ranges are the same numbers."""

from __future__ import annotations

import math
from dataclasses import fields

import pytest
from restyle_client.request import STYLE_WEIGHT, Options, RequestError
from support.server import tiny_request

from core.job import JobError
from server.job_builder import build_job

# The server's own options: they shape what is sent back, and the engine never sees them.
SERVER_ONLY = {"preview_every", "preview_interval_ms", "preview_max_size", "mode"}


def edges(meta):
    """Each range's ends, and the nearest values past them, with whether they are in."""
    low, high = meta["low"], meta["high"]
    if meta["kind"] == "integer":
        return [(low, True), (high, True), (low - 1, False), (high + 1, False)]
    step = 1e-6 * max(1.0, abs(high))
    cases = [(high, True), (high + step, False), (low - step, False), (math.nan, False), (math.inf, False)]
    return cases + ([(low, False), (low + step, True)] if meta.get("low_open") else [(low, True)])


CASES = [
    pytest.param(f.name, value, inside, id=f"{f.name}={value}")
    for f in fields(Options)
    if f.name not in SERVER_ONLY
    for value, inside in (edges(f.metadata) if f.metadata["kind"] != "choice"
                          else [(choice, True) for choice in f.metadata["allowed"]] + [("other", False)])
] + [pytest.param("style weight", value, inside, id=f"style_weight={value}") for value, inside in edges(STYLE_WEIGHT)]


def request_with(name, value):
    request = tiny_request(width=64, height=64)  # square, so that the smallest size fits both sides
    if name == "style weight":
        request.regions[0].styles[0].weight = value
    else:
        setattr(request.options, name, value)
    return request


def request_accepts(request) -> bool:
    try:
        request.validate()
    except RequestError:
        return False
    return True


def engine_accepts(engine, request) -> bool:
    try:
        engine.check(build_job(request))
    except JobError as refusal:
        # A size at the top of the range needs more memory than a test machine has:
        # that is the memory budget speaking, not the option's range.
        return "memory budget" in str(refusal)
    return True


@pytest.mark.parametrize("name, value, inside", CASES)
def test_the_request_and_the_engine_draw_each_range_at_the_same_place(engine, name, value, inside):
    request = request_with(name, value)
    assert request_accepts(request) == inside
    assert engine_accepts(engine, request) == inside


def test_every_option_the_engine_sees_is_checked_here():
    checked = {name for name, *_ in (case.values for case in CASES)}
    assert checked == {f.name for f in fields(Options)} - SERVER_ONLY | {"style weight"}


def test_the_wire_carries_every_option_and_nothing_else():
    options = Options(size=512, strength=0.7, seed=3, iterations=20, init="noise")
    assert Options.from_wire(options.to_wire()) == options
    assert set(options.to_wire()) == {f.name for f in fields(Options)}


def test_the_protocol_document_states_each_options_range():
    """docs/protocol.md's table is what an implementer reads: its ranges are these."""
    from pathlib import Path

    from restyle_client.request import describe_range

    doc = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
    rows = {line.split("`")[1]: line for line in doc.splitlines() if line.startswith("| `")}
    for f in fields(Options):
        if f.metadata["kind"] == "choice":
            assert all(f"`{choice}`" in rows[f.name] for choice in f.metadata["allowed"]), f.name
        else:
            assert describe_range(f.metadata) in rows[f.name], f"{f.name}: {describe_range(f.metadata)}"
    assert f"weight` (default\n1) is its share of its region's blend, {describe_range(STYLE_WEIGHT)}" in doc
