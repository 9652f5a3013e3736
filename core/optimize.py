"""The optimisers, stepped one iteration at a time so that the engine can report
progress and honour a cancel between any two iterations."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from .events import CancelToken

ADAM_LEARNING_RATE = 0.02
LossFn = Callable[[torch.Tensor], tuple[torch.Tensor, dict[str, torch.Tensor]]]


def make_optimizer(name: str, image: torch.Tensor, learning_rate: float | None = None) -> torch.optim.Optimizer:
    if name == "lbfgs":
        # One iteration per step() so that progress and cancel happen between
        # iterations; the curvature history persists across step() calls.  The
        # tolerances are off: the iteration budget, not a threshold, ends a stage.
        return torch.optim.LBFGS(
            [image], lr=learning_rate or 1.0, max_iter=1, history_size=50, tolerance_grad=-1, tolerance_change=-1
        )
    if name == "adam":
        return torch.optim.Adam([image], lr=learning_rate or ADAM_LEARNING_RATE)
    raise ValueError(f"unknown optimizer {name!r}; use lbfgs or adam")


def optimise(
    image: torch.Tensor,
    loss_fn: LossFn,
    iterations: int,
    optimizer: str,
    learning_rate: float | None,
    cancel: CancelToken,
) -> Iterator[tuple[int, dict[str, float]]]:
    """One stage of optimisation, in place on `image` (a contiguous leaf that requires
    grad); one yield per iteration with the loss terms, stopping early on cancel."""
    x = image
    last: dict[str, torch.Tensor] = {}
    opt = make_optimizer(optimizer, x, learning_rate)

    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        total, terms = loss_fn(x)
        total.backward()
        last.clear()
        last.update(terms)
        last["total"] = total
        return total

    for iteration in range(1, iterations + 1):
        if cancel.cancelled:
            return
        opt.step(closure)
        if optimizer == "adam":
            with torch.no_grad():
                x.clamp_(0, 1)
        yield iteration, {k: float(v.detach()) for k, v in last.items()}
