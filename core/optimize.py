"""The optimisers, stepped one iteration at a time so that the engine can report
progress and honour a cancel between any two iterations."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from .events import CancelToken
from .spill import Spill

ADAM_LEARNING_RATE = 0.02
LBFGS_HISTORY = 50
RESTART_PATIENCE = 10
RESTART_MIN_GAIN = 1e-3
LossFn = Callable[[torch.Tensor], tuple[torch.Tensor, dict[str, torch.Tensor]]]
# Evaluates the loss terms at x and, when asked for the gradient, leaves d(total)/dx in
# x.grad: by autograd on the whole picture, or block by block (core/blocked.py).
Objective = Callable[[torch.Tensor, bool], tuple[torch.Tensor, dict[str, torch.Tensor]]]


class Interrupted(Exception):
    """An objective saw the cancel token part-way through one evaluation."""


def by_autograd(loss_fn: LossFn) -> Objective:
    def objective(x: torch.Tensor, want_grad: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if not want_grad:
            with torch.no_grad():
                return loss_fn(x)
        total, terms = loss_fn(x)
        total.backward()
        return total.detach(), {k: v.detach() for k, v in terms.items()}

    return objective


def _in_memory(name: str, image: torch.Tensor, learning_rate: float | None, history: int) -> torch.optim.Optimizer:
    if name == "lbfgs":
        # One iteration per step() so that progress and cancel happen between
        # iterations; the curvature history persists across step() calls.  The
        # tolerances are off: the iteration budget, not a threshold, ends a stage.
        return torch.optim.LBFGS(
            [image], lr=learning_rate or 1.0, max_iter=1, history_size=history, tolerance_grad=-1, tolerance_change=-1
        )
    if name == "adam":
        # The fused kernel updates in place: the unfused one holds two more full-size
        # vectors while it steps (1.6 GB at 8192 px), and is slower on the CPU.
        fused = image.device.type in ("cpu", "cuda")
        return torch.optim.Adam([image], lr=learning_rate or ADAM_LEARNING_RATE, fused=fused)
    raise ValueError(f"unknown optimizer {name!r}; use lbfgs or adam")


class CompactLBFGS:
    """torch's L-BFGS as the engine runs it (one iteration a step, no line search, the
    tolerances off), with each curvature pair kept in float16 scaled by its largest
    element: half the bytes, so a budget that squeezes the history holds twice the pairs.
    Measured at 256 px over three seeds (bench/README.md): 20 such pairs ended 1.9%
    below 10 float32 pairs, the same bytes, and 50 ended within the seeds' spread of 50
    in float32.  torch keeps its pairs in the picture's dtype, hence this class; with
    `dtype=torch.float32` it takes torch's steps bit for bit, which the tests hold it to.
    """

    def __init__(self, image: torch.Tensor, lr: float = 1.0, history: int = LBFGS_HISTORY,
                 dtype: torch.dtype = torch.float16) -> None:
        self.image, self.lr, self.history, self.dtype = image, lr, history, dtype
        self.pairs: list[tuple[_Packed, _Packed, torch.Tensor]] = []  # (y, s, 1 / y·s)
        self.direction: torch.Tensor | None = None
        self.previous: torch.Tensor | None = None
        self.t: float | torch.Tensor = lr
        self.h_diag: float | torch.Tensor = 1
        self.steps = 0

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.image.grad = None

    def _pack(self, v: torch.Tensor) -> _Packed:
        if self.dtype == torch.float32:
            return v, None
        scale = v.abs().max().clamp_min(torch.finfo(torch.float32).tiny)
        return (v / scale).to(self.dtype), scale

    @staticmethod
    def _unpack(packed: _Packed) -> torch.Tensor:
        v, scale = packed
        return v if scale is None else v.float().mul_(scale)

    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:
        with torch.enable_grad():
            loss = closure()
        assert self.image.grad is not None
        g = self.image.grad.reshape(-1)
        self.steps += 1
        if self.steps == 1:
            d = g.neg()
        else:
            assert self.direction is not None and self.previous is not None
            y = g.sub(self.previous)
            s = self.direction.mul(self.t)
            ys = y.dot(s)
            if ys > 1e-10:
                if len(self.pairs) == self.history:
                    self.pairs.pop(0)
                self.pairs.append((self._pack(y), self._pack(s), 1.0 / ys))
                self.h_diag = ys / y.dot(y)
            del y, s
            q = g.neg()
            al: list[torch.Tensor] = [torch.zeros(())] * len(self.pairs)
            for i in range(len(self.pairs) - 1, -1, -1):
                y_i, s_i, ro = self.pairs[i]
                al[i] = self._unpack(s_i).dot(q) * ro
                q.add_(self._unpack(y_i), alpha=-al[i])
            d = r = torch.mul(q, self.h_diag)
            del q
            for i, (y_i, s_i, ro) in enumerate(self.pairs):
                be = self._unpack(y_i).dot(r) * ro
                r.add_(self._unpack(s_i), alpha=al[i] - be)
        if self.previous is None:
            self.previous = g.clone()
        else:
            self.previous.copy_(g)
        self.t = min(1.0, 1.0 / g.abs().sum()) * self.lr if self.steps == 1 else self.lr
        self.direction = d
        if g.dot(d) > 1:  # torch's tolerance_change of -1: not a descent direction, no step
            return loss
        with torch.no_grad():
            self.image.add_(d.view_as(self.image), alpha=self.t)
        return loss


_Packed = tuple[torch.Tensor, "torch.Tensor | None"]


class BandedAdam:
    """Adam for a picture kept in files (core/spill.py): the same update as torch's, with
    its moments in files too, stepped a band of rows at a time so that only a band of
    the picture, its gradient and its moments is in memory at once."""

    def __init__(self, image: torch.Tensor, learning_rate: float, spill: Spill,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.image, self.lr, self.spill, self.betas, self.eps = image, learning_rate, spill, betas, eps
        self.exp_avg = spill.zeros(tuple(image.shape))
        self.exp_avg_sq = spill.zeros(tuple(image.shape))
        self.steps = 0

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.image.grad = None

    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:
        loss = closure()
        assert self.image.grad is not None
        self.steps += 1
        beta1, beta2 = self.betas
        correction1 = 1 - beta1**self.steps
        root_correction2 = (1 - beta2**self.steps) ** 0.5
        with torch.no_grad():
            for x, g, m, v in self.spill.bands(self.image.detach(), self.image.grad, self.exp_avg, self.exp_avg_sq):
                m.lerp_(g, 1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                x.addcdiv_(m, (v.sqrt() / root_correction2).add_(self.eps), value=-self.lr / correction1)
        return loss


def make_optimizer(
    name: str, image: torch.Tensor, learning_rate: float | None = None, history: int = LBFGS_HISTORY,
    spill: Spill | None = None, compact: bool = False,
) -> torch.optim.Optimizer | BandedAdam | CompactLBFGS:
    if spill is not None and name == "adam":
        return BandedAdam(image, learning_rate or ADAM_LEARNING_RATE, spill)
    if compact and name == "lbfgs":
        return CompactLBFGS(image, learning_rate or 1.0, history)
    return _in_memory(name, image, learning_rate, history)


def optimize(
    image: torch.Tensor,
    objective: Objective,
    iterations: int,
    optimizer: str,
    learning_rate: float | None,
    cancel: CancelToken,
    restarts: bool = True,
    history: int = LBFGS_HISTORY,
    spill: Spill | None = None,
    compact: bool = False,
) -> Iterator[tuple[int, dict[str, float]]]:
    """One stage of optimisation, in place on `image` (a contiguous leaf that requires
    grad); one yield per iteration with the loss terms, stopping early on cancel.

    The image is kept in [0, 1] after every step, so the loss the optimiser sees is the
    loss of a picture that can be delivered.  L-BFGS without a line search (as in
    jcjohnson/neural-style) is not monotone: a step can overshoot, and the last
    iterate was measured 20% worse than the best one.  So the stage ends on the best
    picture it evaluated (the last one included, at the cost of one forward pass).
    A cancelled stage keeps its current picture instead: the one the user last saw.

    Left alone, L-BFGS settles, then drifts upwards for a few dozen iterations as its
    curvature pairs go stale (the clamp makes them wrong for pinned pixels), jumps to
    several times its best loss, and spends more iterations recovering: the previews
    turn to noise meanwhile.  So after RESTART_PATIENCE iterations without a gain of
    RESTART_MIN_GAIN it starts afresh from its best picture.  Measured at 256 px, one
    scale: 1.4775 after 150 iterations against 1.5468 without restarts, and 1.4741
    after 300 against 1.4814.  `restarts=False` runs L-BFGS as the textbook does, so
    that bench/ can compare against it.
    """
    x = image
    last: dict[str, torch.Tensor] = {}
    opt = make_optimizer(optimizer, x, learning_rate, history, spill, compact)
    # The step measures the loss of the picture it starts from, so the best picture is
    # taken there, before the step moves it: one full-size buffer (805 MB at 8192 px),
    # allocated once.
    best = x.detach().clone() if spill is None else spill.copy(x.detach())
    best_loss = float("inf")

    def copy(target: torch.Tensor, source: torch.Tensor) -> None:
        with torch.no_grad():
            for a, b in [(target, source)] if spill is None else spill.bands(target, source):
                a.copy_(b)

    def closure() -> torch.Tensor:
        nonlocal best_loss
        opt.zero_grad(set_to_none=True)
        total, terms = objective(x, True)
        last.clear()
        last.update(terms)
        last["total"] = total
        if float(total) < best_loss:
            best_loss = float(total)
            copy(best, x.detach())
        return total

    since_best, reference = 0, float("inf")
    for iteration in range(1, iterations + 1):
        if cancel.cancelled:
            return  # a cancelled stage keeps its current picture: the one the user last saw
        try:
            opt.step(closure)
        except Interrupted:
            return  # the step was not taken: x is still the picture the user last saw
        with torch.no_grad():
            for (band,) in [(x,)] if spill is None else spill.bands(x.detach()):
                band.clamp_(0, 1)
        losses = {k: float(v.detach()) for k, v in last.items()}
        if losses["total"] < reference * (1 - RESTART_MIN_GAIN):
            since_best = 0
        else:
            since_best += 1
        reference = min(reference, losses["total"])
        if restarts and optimizer == "lbfgs" and since_best >= RESTART_PATIENCE:
            copy(x.detach(), best)
            opt = make_optimizer(optimizer, x, learning_rate, history, spill, compact)
            since_best = 0
        yield iteration, losses
    if cancel.cancelled:
        return
    try:  # the last step's picture has not been measured yet
        last_loss = float(objective(x, False)[0])
    except Interrupted:
        return
    if last_loss >= best_loss:
        copy(x.detach(), best)
