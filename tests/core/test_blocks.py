"""A picture too large for the memory budget runs in blocks, and the artist cannot tell:
the same gradient, the same picture, no seams, and every feature still works."""

from __future__ import annotations

import contextlib
import dataclasses

import numpy as np
import pytest
import torch
from support import budgets
from support.pictures import gradient, stripes

from core import memory
from core.blocks import halo
from core.events import CancelToken, Progress, Result
from core.job import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, DrawJob, Job, JobError, Region, StyleImage, Weights
from core.losses import gram
from core.optimize import CompactLBFGS
from core.spill import Spill

MARGIN = halo([*DEFAULT_CONTENT_LAYERS, *DEFAULT_STYLE_LAYERS])
# Jobs that run many iterations use the network's shallower half, so that small pictures
# still make many blocks: relu3_1 needs 16 px of context where relu5_1 needs 80.
SHALLOW = dict(content_layers=["relu3_1"], style_layers=["relu1_1", "relu2_1", "relu3_1"])
SHALLOW_MARGIN = halo(["relu3_1"])


def budget_gb(height: int, width: int, blocks: int, margin: int = SHALLOW_MARGIN, optimizer: str = "lbfgs") -> float:
    layers = ["relu3_1"] if margin == SHALLOW_MARGIN else DEFAULT_CONTENT_LAYERS
    return budgets.budget_gb(height, width, blocks, margin, optimizer, layers)


def textured(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(gradient(height, width) + 0.15 * rng.standard_normal((height, width, 3)).astype(np.float32), 0, 1)


def events(stream) -> tuple[list[Progress], Result]:
    out = list(stream)
    assert isinstance(out[-1], Result)
    return out[:-1], out[-1]


@pytest.fixture(scope="module")
def engine_cached():
    """Its own engine with a style cache, so that each comparison computes the styles once."""
    from core.engine import StyleTransfer

    return StyleTransfer(weights="random:0", device="cpu", precision="fp32", style_cache={})


@pytest.fixture(scope="module")
def regions_job():
    """517 x 301: no side divides into blocks; two regions, one with a soft edge, and
    three styles blended."""
    height, width = 517, 301
    yy, xx = np.mgrid[0:height, 0:width]
    soft = np.clip((xx - 100) / 80.0, 0, 1).astype(np.float32)
    top = (yy < 200).astype(np.float32)
    regions = [Region([StyleImage(stripes(64)), StyleImage(stripes(64, vertical=True), 2.0)], mask=soft),
               Region([StyleImage(stripes(64, period=4))], mask=top, weight=0.5)]
    return Job(content=textured(height, width), regions=regions)


@pytest.mark.parametrize("term, weights", [
    ("content", Weights(1, 0, 0)), ("style", Weights(0, 1, 0)), ("tv", Weights(0, 0, 1)), ("total", Weights(1, 10, 1)),
])
def test_the_blocked_gradient_is_the_whole_pictures_gradient(engine_cached, regions_job, term, weights):
    job = regions_job
    job.weights = weights
    picture = textured(517, 301, seed=1)
    job.memory_gb = None
    whole_terms, whole, whole_blocks = engine_cached.gradient(job, picture)
    job.memory_gb = budget_gb(517, 301, 9, MARGIN)
    blocked_terms, blocked, blocks = engine_cached.gradient(job, picture)
    assert whole_blocks == 1 and blocks >= 9
    assert np.linalg.norm(blocked - whole) / np.linalg.norm(whole) < 1e-4
    for name, value in whole_terms.items():
        assert blocked_terms[name] == pytest.approx(value, rel=1e-5)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / max(float(np.mean((a - b) ** 2)), 1e-20)))


SAME_JOB_SIZE = (208, 176)


@pytest.fixture(scope="module", params=[("lbfgs", 5), ("adam", 12)], ids=["lbfgs", "adam"])
def same_job_twice(request, engine_fp32):
    """One job run whole and in blocks from the same seed.

    L-BFGS without a line search is chaotic: rounding differences of 1e-6 in the
    gradient (the sums are taken in another order) grow with every iteration, as they do
    between two whole runs at different thread counts.  Measured here: 80 dB after 3
    iterations, 54 dB after 6, 27 dB after 12, at the same loss.  Adam does not amplify
    them: 61 dB after 12.
    """
    optimizer, iterations = request.param
    content = textured(*SAME_JOB_SIZE)

    def run(budget):
        job = Job(content=content, regions=[Region([StyleImage(textured(64, 64, seed=5))])], stages=1,
                  iterations=iterations, strength=0.8, optimizer=optimizer, memory_gb=budget, **SHALLOW)
        return events(engine_fp32.run(job))

    return run(None), run(budget_gb(*SAME_JOB_SIZE, 6, optimizer=optimizer))


def test_a_blocked_job_paints_the_same_picture_as_a_whole_one(same_job_twice):
    (whole_progress, whole), (blocked_progress, blocked) = same_job_twice
    assert {p.blocks for p in whole_progress} == {1} and min(p.blocks for p in blocked_progress) >= 6
    assert blocked.losses["total"] == pytest.approx(whole.losses["total"], rel=0.01)
    assert psnr(blocked.image, whole.image) > 40


def test_block_borders_leave_no_seam(same_job_twice):
    """Each border's step between neighbouring pixels is compared with the steps of the
    rows (or columns) around it: a seam is a step out of line with its neighbourhood.
    Steps between neighbouring rows of this texture vary by about 5% from row to row, so
    that is the margin; independent tiles (Neural-Tile) make steps several times larger."""
    _, (progress, blocked) = same_job_twice
    optimizer = "lbfgs" if progress[-1].iterations == 5 else "adam"
    budget = budget_gb(*SAME_JOB_SIZE, 6, optimizer=optimizer) * memory.GB
    tile_height, tile_width = memory.plan(*SAME_JOB_SIZE, budget, optimizer, SHALLOW_MARGIN, ["relu3_1"]).tile
    picture = blocked.image
    rows = np.abs(np.diff(picture, axis=0)).mean(axis=(1, 2))  # rows[i]: between row i and i + 1
    cols = np.abs(np.diff(picture, axis=1)).mean(axis=(0, 2))
    borders = [(rows, r - 1) for r in range(tile_height, picture.shape[0], tile_height)]
    borders += [(cols, c - 1) for c in range(tile_width, picture.shape[1], tile_width)]
    assert len(borders) >= 3
    at_borders = np.mean([steps[i] for steps, i in borders])
    around = np.mean([np.r_[steps[i - 4:i], steps[i + 1:i + 5]].mean() for steps, i in borders])
    assert at_borders <= around * 1.05


def test_progress_says_how_many_blocks_an_iteration_runs_in(same_job_twice):
    (whole_progress, _), (blocked_progress, _) = same_job_twice
    assert blocked_progress[-1].blocks >= 6
    assert whole_progress[-1].blocks == 1


def test_a_large_style_image_gives_the_same_targets_in_blocks(engine_fp32):
    style = textured(300, 270, seed=3)
    tensor = torch.from_numpy(style.transpose(2, 0, 1).copy())[None]
    layers = list(DEFAULT_STYLE_LAYERS)
    whole = {k: gram(v) for k, v in engine_fp32.features(tensor, layers).items()}
    small = memory.blocked_bytes(300, 270, (64, 64), MARGIN, None)
    blocked = engine_fp32._grams(tensor, layers, "max", small)
    for layer in layers:
        assert torch.allclose(blocked[layer], whole[layer], rtol=1e-4, atol=1e-6)


def test_a_budget_too_small_for_one_block_is_refused_before_any_work(engine):
    job = Job(content=textured(64, 64), regions=[Region([StyleImage(stripes())])], memory_gb=0.05)
    with pytest.raises(JobError, match=r"needs at least .* GB even in the smallest blocks.*budget is 0\.05 GB"):
        next(engine.run(job))


def test_the_budget_must_be_a_positive_number(engine):
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        job = Job(content=textured(64, 64), regions=[Region([StyleImage(stripes())])], memory_gb=bad)
        with pytest.raises(JobError, match="memory budget must be a positive number of GB"):
            next(engine.run(job))


def test_the_plan_keeps_to_the_budget_with_the_largest_blocks_that_fit():
    height, width = 3000, 2000
    for budget in (3.0, 5.0, 8.0):
        plan = memory.plan(height, width, budget * memory.GB, "lbfgs", MARGIN)
        assert plan.blocked and plan.need <= budget * memory.GB
        taller = (plan.tile[0] + 16, plan.tile[1])
        wider = (plan.tile[0], plan.tile[1] + 16)
        assert all(memory.blocked_bytes(height, width, t, MARGIN, plan.optimizer, plan.history) > budget * memory.GB
                   or memory.count_blocks(height, width, t) == plan.blocks
                   for t in (taller, wider))
    assert not memory.plan(256, 256, 8 * memory.GB, "lbfgs", MARGIN).blocked


def test_lbfgs_history_gives_way_to_the_budget_in_half_precision_and_then_to_adam():
    height = width = 4096
    roomy = memory.plan(height, width, 60 * memory.GB, "lbfgs", MARGIN)
    tight = memory.plan(height, width, 16 * memory.GB, "lbfgs", MARGIN)
    tighter = memory.plan(height, width, 8 * memory.GB, "lbfgs", MARGIN)
    assert roomy.optimizer == "lbfgs" and roomy.history == 50 and not roomy.compact
    assert tight.optimizer == "lbfgs" and memory.MIN_LBFGS_HISTORY <= tight.history < 50 and tight.compact
    in_float32 = memory.blocked_bytes(height, width, tight.tile, MARGIN, "lbfgs", tight.history, compact=False)
    assert in_float32 > 16 * memory.GB >= tight.need  # the pairs fit only in half precision
    assert tighter.optimizer == "adam"


def _lbfgs_path(make_optimizer, steps: int = 25) -> list[torch.Tensor]:
    """Where L-BFGS goes on a small nonlinear problem, step by step."""
    x = torch.rand(1, 3, 9, 7, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    opt = make_optimizer(x)

    def closure():
        opt.zero_grad()
        loss = 10 * ((x[..., 1:] - x[..., :-1] ** 2) ** 2).sum() + ((1 - x) ** 2).sum() + (x.sin() * x).sum()
        loss.backward()
        return loss

    path = []
    for _ in range(steps):
        opt.step(closure)
        path.append(x.detach().clone())
    return path


def test_lbfgs_with_compact_pairs_takes_torchs_steps_and_keeps_them_in_half_the_bytes():
    torchs = _lbfgs_path(lambda x: torch.optim.LBFGS([x], lr=0.5, max_iter=1, history_size=5,
                                                     tolerance_grad=-1, tolerance_change=-1))
    exact = _lbfgs_path(lambda x: CompactLBFGS(x, 0.5, 5, dtype=torch.float32))
    assert all(torch.equal(a, b) for a, b in zip(torchs, exact, strict=True))  # the same algorithm, history wrapping
    compact: list[CompactLBFGS] = []
    halves = _lbfgs_path(lambda x: compact.append(CompactLBFGS(x, 0.5, 5)) or compact[0])
    assert len(compact[0].pairs) == 5 and all(y.dtype == s.dtype == torch.float16 for (y, _), (s, _), _ in compact[0].pairs)
    assert torch.allclose(halves[-1], torchs[-1], atol=5e-3)


@pytest.mark.parametrize("in_files", [False, True], ids=["state in memory", "state in files"])
def test_cancel_in_a_blocked_job_returns_the_current_picture(engine, in_files):
    optimizer = "adam" if in_files else "lbfgs"
    token = CancelToken()
    job = Job(content=textured(160, 144), regions=[Region([StyleImage(stripes())])], stages=1, iterations=50,
              optimizer=optimizer, memory_gb=budget_gb(160, 144, 4, optimizer=optimizer), **SHALLOW)
    seen = []
    with state_in_files(engine) if in_files else contextlib.nullcontext():
        for event in engine.run(job, token, image_every=1):
            if isinstance(event, Progress):
                seen.append(event.image.clone())
                if event.step == 2:
                    token.cancel()
            else:
                result = event
    assert result.cancelled and result.steps == 2
    assert np.abs(result.image - seen[-1].permute(1, 2, 0).numpy()).max() < 1e-6


def test_regions_alpha_and_colour_work_in_blocks(engine):
    height, width = 176, 160
    content = np.concatenate([textured(height, width), np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
                              .repeat(height, 0)], -1)
    mask = np.zeros((height, width), np.float32)
    mask[:, : width // 2] = 1
    job = Job(content=content, regions=[Region([StyleImage(stripes(color=(1, 0, 0)))], mask=mask)], stages=1,
              iterations=6, strength=0.9, preserve_colors="luminance", memory_gb=budget_gb(height, width, 4), **SHALLOW)
    progress, result = events(engine.run(job))
    assert progress[-1].blocks > 1
    assert np.array_equal(result.image[..., 3], content[..., 3])
    assert np.allclose(result.image[:, width // 2 + 2:, :3], content[:, width // 2 + 2:, :3], atol=1e-6)
    assert np.abs(result.image[:, : width // 2 - 2, :3] - content[:, : width // 2 - 2, :3]).mean() > 0.01


def test_drawing_mode_runs_in_blocks(engine):
    """Drawing mode's ladder reaches relu5_1, so its picture must be larger than one block."""
    job = DrawJob(content=textured(256, 224), iterations=2, memory_gb=budget_gb(256, 224, 4, MARGIN, "adam"))
    progress, result = events(engine.draw(job))
    assert max(p.blocks for p in progress) > 1 and result.image.shape == (256, 224, 3)


# --- the full-size state in files: what lets 8192 px run in a 4 GB budget ---------------------


@contextlib.contextmanager
def state_in_files(engine):
    """Every blocked stage of `engine` keeps its full-size state in files, as the plan
    has large pictures do, whatever the budget would pick for these small ones."""
    planned = type(engine)._stage_plan

    def spilled(prep, stage):
        plan = planned(engine, prep, stage)
        return dataclasses.replace(plan, spilled=True, optimizer="adam", history=0) if plan.blocked else plan

    engine._stage_plan = spilled
    try:
        yield
    finally:
        del engine._stage_plan


def test_with_its_state_in_files_the_blocked_gradient_is_still_the_whole_pictures(engine_cached, regions_job):
    job = regions_job
    job.weights = Weights(1, 10, 1)
    picture = textured(517, 301, seed=1)
    job.memory_gb = None
    whole_terms, whole, _ = engine_cached.gradient(job, picture)
    job.memory_gb = budget_gb(517, 301, 9, MARGIN)
    with state_in_files(engine_cached):
        terms, spilled, blocks = engine_cached.gradient(job, picture)
    assert blocks >= 9
    assert np.linalg.norm(spilled - whole) / np.linalg.norm(whole) < 1e-4
    for name, value in whole_terms.items():
        assert terms[name] == pytest.approx(value, rel=1e-5)


def test_a_job_with_its_state_in_files_paints_what_it_would_in_memory(engine):
    """Regions, alpha and colour included: the result is rendered a band at a time."""
    height, width = 176, 160
    content = np.concatenate([textured(height, width), np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
                              .repeat(height, 0)], -1)
    mask = np.zeros((height, width), np.float32)
    mask[:, : width // 2] = 1

    def run():
        job = Job(content=content, regions=[Region([StyleImage(stripes(color=(1, 0, 0)))], mask=mask)], stages=1,
                  iterations=6, strength=0.9, optimizer="adam", preserve_colors="luminance",
                  memory_gb=budget_gb(height, width, 4, optimizer="adam"), **SHALLOW)
        return events(engine.run(job, image_every=3))

    memory_progress, in_memory = run()
    with state_in_files(engine):
        progress, in_files = run()
    assert progress[-1].blocks >= 4
    assert in_files.losses["total"] == pytest.approx(in_memory.losses["total"], rel=0.01)
    assert psnr(in_files.image, in_memory.image) > 40
    assert np.array_equal(in_files.image[..., 3], content[..., 3])
    assert np.array_equal(in_files.image[:, width // 2 + 2:, :3], in_memory.image[:, width // 2 + 2:, :3])
    assert progress[-1].image.shape == (4, height, width)  # the preview, rendered in bands too
    assert psnr(progress[-1].image.permute(1, 2, 0).numpy(), in_files.image) > 40


def test_files_hold_the_state_without_leaving_anything_behind_or_in_memory(tmp_path):
    spill = Spill(str(tmp_path))
    picture = spill.zeros((1, 3, 2048, 2048))  # 48 MiB
    assert list(tmp_path.iterdir()) == [], "the files are unlinked as soon as they are mapped"
    before = resident_bytes()
    picture.add_(0.5)
    assert resident_bytes() - before > 40 * 2**20
    spill.release()
    assert resident_bytes() - before < 8 * 2**20
    assert float(picture.mean()) == 0.5


def resident_bytes() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))


def test_an_8192_px_picture_is_planned_within_4_gb_with_its_state_in_files_and_only_so():
    """The plan, not a run: an 8192 px iteration takes about 8 minutes here, so the run
    itself is measured by `bench/blocks_bench.py --huge` (3.74 GB in bench/README.md)."""
    side = 8192
    inputs = 2 * side * side * 12  # the job's RGB picture, and the engine's copy
    plan = memory.plan(side, side, 4 * memory.GB, "lbfgs", MARGIN, inputs=inputs)
    assert plan.spilled and plan.optimizer == "adam" and plan.need <= 4 * memory.GB
    with pytest.raises(JobError, match=r"needs at least 1[0-9]\.\d+ GB"):
        memory.plan(side, side, 4 * memory.GB, "lbfgs", MARGIN)  # a GPU's budget: the state stays on it
    with pytest.raises(JobError, match=r"needs at least 3\.\d+ GB .* give a budget of 3\.\d GB or more"):
        memory.plan(side, side, 2 * memory.GB, "lbfgs", MARGIN, inputs=inputs)


def test_the_state_stays_in_memory_where_it_fits_with_blocks_nearly_as_large():
    inputs = 2 * 2048 * 2048 * 12
    assert not memory.plan(2048, 2048, 4 * memory.GB, "lbfgs", MARGIN, inputs=inputs).spilled  # L-BFGS fits
    assert not memory.plan(1024, 1024, 2 * memory.GB, "adam", MARGIN, inputs=inputs / 4).spilled


def test_drawing_mode_runs_with_its_state_in_files(engine):
    job = DrawJob(content=textured(256, 224), iterations=2, memory_gb=budget_gb(256, 224, 4, MARGIN, "adam"))
    with state_in_files(engine):
        progress, result = events(engine.draw(job))
    frames = [p.image for p in progress if p.image is not None]
    assert max(p.blocks for p in progress) > 1 and result.image.shape == (256, 224, 3)
    assert frames and tuple(frames[-1].shape) == (3, 256, 224)
