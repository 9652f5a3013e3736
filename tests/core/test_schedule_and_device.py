"""The coarse-to-fine ladder, the optimiser's memory, and where the engine runs."""

from __future__ import annotations

import pytest
import torch

from core.device import autocast_dtype, pick_device
from core.job import JobError
from core.losses import StyleLoss, gram
from core.optimize import make_optimizer
from core.schedule import iterations_per_stage, ladder


def test_the_ladder_doubles_up_to_the_output_size():
    assert ladder(600, 800) == [(150, 200), (300, 400), (600, 800)]
    sizes = ladder(600, 800, min_size=100)
    assert sizes[-1] == (600, 800) and sizes[0] == (75, 100)
    assert all(b[1] == 2 * a[1] for a, b in zip(sizes, sizes[1:], strict=False))
    assert ladder(600, 800, stages=2) == [(300, 400), (600, 800)]


def test_no_stage_is_too_small_for_the_deepest_layer():
    assert min(min(s) for s in ladder(40, 400, min_size=8)) >= 16
    with pytest.raises(JobError, match="at least 16 px"):
        ladder(10, 100)


def test_iterations_can_be_set_per_stage():
    assert iterations_per_stage(3, 50) == [50, 50, 50]
    assert iterations_per_stage(2, [10, 20]) == [10, 20]
    with pytest.raises(JobError):
        iterations_per_stage(2, [10])


def test_lbfgs_builds_curvature_history_on_normalised_losses():
    """Raw Gatys losses are so small that L-BFGS's curvature test fails and it quietly
    turns into gradient descent; normalised losses keep its history filling."""
    from core.engine import StyleTransfer

    engine = StyleTransfer(weights="random:0", device="cpu", precision="fp32")
    style = torch.rand(1, 3, 48, 48)
    layers = ["relu1_1", "relu2_1", "relu3_1"]
    with torch.no_grad():
        targets = {k: gram(v) for k, v in engine.features(style, layers).items()}
    loss = StyleLoss(targets, {k: 1 / 3 for k in layers})
    x = torch.rand(1, 3, 48, 48, requires_grad=True)
    opt = make_optimizer("lbfgs", x)

    def closure():
        opt.zero_grad()
        value = loss(engine.features(x, layers))
        value.backward()
        return value

    for _ in range(6):
        opt.step(closure)
    assert len(opt.state[x]["old_dirs"]) >= 4


def test_the_cpu_is_chosen_when_there_is_no_gpu():
    if torch.cuda.is_available() or torch.backends.mps.is_available():
        pytest.skip("this machine has a GPU")
    assert pick_device(None).type == "cpu"
    with pytest.raises(JobError, match="no CUDA GPU"):
        pick_device("cuda")


def test_precision_can_be_forced_and_auto_uses_native_bf16_only():
    cpu = torch.device("cpu")
    assert autocast_dtype(cpu, "fp32") is None
    assert autocast_dtype(cpu, "bf16") == torch.bfloat16
    assert autocast_dtype(cpu, "auto") in (None, torch.bfloat16)
    with pytest.raises(JobError):
        autocast_dtype(cpu, "int4")
