"""Memory budgets for tests that need a picture to run in blocks."""

from __future__ import annotations

from collections.abc import Sequence

from core import memory


def budget_gb(height: int, width: int, blocks: int, margin: int, optimizer: str = "lbfgs",
              content_layers: Sequence[str] = ("relu4_2",)) -> float:
    """The largest budget (to 1%) under which the picture runs in at least `blocks` blocks."""
    budget = memory.estimate_bytes(height, width, optimizer)
    while True:
        budget *= 0.99
        plan = memory.plan(height, width, budget, optimizer, margin, content_layers)
        if plan.blocks >= blocks:
            assert plan.optimizer == optimizer
            return budget / memory.GB
