"""Shared fixtures: one engine with seeded random weights, and small test pictures.

A VGG with random weights still responds to texture, so every claim about losses,
masks and colour can be checked without the real weights (which need a download).
"""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Tests run in parallel with nothing; two threads match the CI machine and keep
    # OpenMP from oversubscribing when a subprocess engine runs beside this one.
    os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="session")
def engine():
    from core.engine import StyleTransfer

    return StyleTransfer(weights="random:0", device="cpu")


@pytest.fixture(scope="session")
def engine_fp32():
    from core.engine import StyleTransfer

    return StyleTransfer(weights="random:0", device="cpu", precision="fp32")
