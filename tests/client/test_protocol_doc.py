"""docs/protocol.md is the specification: every example in it must hold against the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import msgpack
import pytest
from restyle_client import events as ev
from restyle_client.protocol import MESSAGE_TYPES, decode, encode
from restyle_client.request import SAMPLE_BYTES

from core.balance import weights_for
from server.config import Limits
from server.service import REJECTED

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
EXAMPLES = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", DOC.read_text(), re.S)]
ERROR_CODES = re.findall(r"^\| `([a-z_]+)` \|", DOC.read_text().split("### 3.8")[1].split("### 3.9")[0], re.M)


def example(kind: str) -> dict:
    return next(e for e in EXAMPLES if e["type"] == kind)


def frames_for(header: dict) -> list[bytes]:
    """The header as msgpack, followed by pixel frames of exactly the declared lengths."""
    pixels = [
        bytes(d["width"] * d["height"] * d["channels"] * SAMPLE_BYTES[d["sample"]]) for d in header.get("frames", [])
    ]
    return [msgpack.packb(header, use_bin_type=True), *pixels]


def test_the_document_has_an_example_of_every_message_type():
    assert {e["type"] for e in EXAMPLES} == set(MESSAGE_TYPES)


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"{i}-{e['type']}" for i, e in enumerate(EXAMPLES)])
def test_every_example_decodes_and_encodes_back_to_the_same_message(example):
    frames = frames_for(example)
    message = decode(frames)
    again = encode(message)
    assert msgpack.unpackb(again[0], raw=False) == example
    assert [bytes(f) for f in again[1:]] == frames[1:]


def test_the_cancelled_example_is_a_result_that_says_it_was_cancelled():
    example = next(e for e in EXAMPLES if e["type"] == "cancelled")
    message = decode(frames_for(example))
    assert isinstance(message, ev.Result) and message.cancelled
    assert message.reason == "cancelled by the client"


def test_the_progress_examples_total_is_the_terms_weighted_at_the_submit_examples_strength():
    losses = example("progress")["losses"]
    weights = weights_for(example("submit")["options"]["strength"])
    weighted = weights.content * losses["content"] + weights.style * losses["style"] + weights.tv * losses["tv"]
    assert losses["total"] == pytest.approx(weighted)
    assert losses["total"] != pytest.approx(losses["content"] + losses["style"] + losses["tv"])


def test_the_capabilities_example_announces_every_limit_at_its_default():
    assert example("capabilities")["limits"] == Limits().as_dict()


def test_every_refusal_the_status_counts_as_rejected_is_a_documented_error_code():
    assert set(REJECTED) <= set(ERROR_CODES)
    assert {"bad_message", "unknown_type", "bad_field", "bad_pixels", "busy"} <= set(ERROR_CODES)
