"""Large pictures in blocks: peak memory under a budget, the cost of blocking, and an A4
page at 300 dpi run to the end.

    .venv/bin/python bench/blocks_bench.py [--budget-gb 4] [--huge] [--a4]

Each size runs in a fresh process, so that each peak is its own (VmHWM; on CUDA, torch's
peak allocation).  The time ratio is measured within one process, blocked and whole in
turn, because absolute times drift with whatever else runs on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import memory  # noqa: E402
from core.blocks import halo  # noqa: E402
from core.engine import StyleTransfer  # noqa: E402
from core.events import Progress, Result  # noqa: E402
from core.job import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, Job, JobError, Region, StyleImage  # noqa: E402

WEIGHTS = "random:0"
HERE = Path(__file__).resolve().parent
MARGIN = halo([*DEFAULT_CONTENT_LAYERS, *DEFAULT_STYLE_LAYERS])


def pictures(height: int, width: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth content picture with some structure, and a 512 px textured style."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    content = np.empty((height, width, 3), np.float32)
    content[..., 0] = x
    content[..., 1] = y
    content[..., 2] = 0.5 + 0.3 * np.sin(12 * x * y)
    coarse = rng.random((65, 65, 3)).astype(np.float32)
    style = np.kron(coarse, np.ones((8, 8, 1), np.float32))[:512, :512]
    style = np.clip(style + 0.2 * rng.standard_normal(style.shape).astype(np.float32), 0, 1)
    return content, style


def _peak_bytes(engine: StyleTransfer) -> int:
    if engine.device.type == "cuda":
        return int(torch.cuda.max_memory_allocated())
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _record_plans(engine: StyleTransfer) -> list[memory.Plan]:
    """The plans the engine picks, stage by stage, as it picks them."""
    planned, plans = engine._stage_plan, []
    engine._stage_plan = lambda prep, stage: plans.append(planned(prep, stage)) or plans[-1]  # type: ignore[method-assign]
    return plans


def probe(size: int, budget_gb: float, iterations: int) -> dict[str, Any]:
    """Run in a child process: one full-size stage of a job, then its peak memory."""
    engine = StyleTransfer(WEIGHTS)
    plans = _record_plans(engine)
    content, style = pictures(size, size)
    job = Job(content=content, regions=[Region([StyleImage(style)])], stages=1, iterations=iterations, memory_gb=budget_gb)
    blocks, seconds = 1, []
    last = time.perf_counter()
    for event in engine.run(job):
        if isinstance(event, Progress):
            now = time.perf_counter()
            seconds.append(now - last)
            last = now
            blocks = event.blocks
    assert isinstance(event, Result)
    plan = plans[-1]
    return {"size": size, "budget_gb": budget_gb, "peak_bytes": _peak_bytes(engine), "blocks": blocks,
            "tile": plan.tile, "optimizer": plan.optimizer, "history": plan.history, "estimate_bytes": plan.need,
            "in_files": plan.spilled, "compact": plan.compact, "seconds_per_iteration": seconds,
            "completed": not event.cancelled}


def memory_rows(sizes: list[int], budget_gb: float, iterations: dict[int, int]) -> list[dict[str, Any]]:
    """Each size at the budget; a size the budget cannot hold is also run at the smallest
    budget that can (rounded up to 0.5 GB), to show where that is."""
    runs = []
    for size in sizes:
        runs.append((size, budget_gb))
        held = 2 * size * size * 12 + 2 * 512 * 512 * 12  # the RGB content and the engine's copy, the style
        need = memory.smallest_budget(size, size, "lbfgs", MARGIN, inputs=held) / memory.GB
        if need > budget_gb:
            runs.append((size, np.ceil(need * 2) / 2))
    rows = []
    for size, budget in runs:
        command = [sys.executable, __file__, "--probe", str(size), str(budget), str(iterations.get(size, 2))]
        out = subprocess.run(command, capture_output=True, text=True)
        if out.returncode != 0:
            rows.append({"size": size, "budget_gb": budget, "error": out.stderr.strip().splitlines()[-1:]})
        else:
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print_row(rows[-1])
    return rows


def print_row(r: dict[str, Any]) -> None:
    if "error" in r:
        print(f"  {r['size']:>5} px, budget {r['budget_gb']:g} GB: failed {r['error']}", flush=True)
        return
    per = r["seconds_per_iteration"]
    print(f"  {r['size']:>5} px, budget {r['budget_gb']:g} GB: peak {r['peak_bytes'] / 1e9:.2f} GB "
          f"(estimate {r['estimate_bytes'] / 1e9:.2f}), {r['blocks']} blocks of {r['tile']}, {r['optimizer']}"
          f"{', state in files' if r.get('in_files') else ''}"
          f"{' ' + str(r['history']) + ' pairs' if r['optimizer'] == 'lbfgs' else ''}"
          f"{' in float16' if r.get('compact') else ''}, "
          f"{per[-1]:.1f} s for the last iteration", flush=True)


def time_ratio(size: int, budget_gb: float, repeats: int) -> dict[str, Any]:
    """Seconds per gradient, whole and in blocks, alternated in one process.  The jobs
    say Adam, whose small state lets the whole side fit this machine's memory at 2048 px
    (with L-BFGS's history counted it would be planned in blocks too); one gradient is
    the same work whatever the optimiser."""
    engine = StyleTransfer(WEIGHTS)
    content, style = pictures(size, size)
    image = np.clip(content + 0.05, 0, 1)
    engine.style_cache = {}  # type: ignore[assignment]  # a dict is a cache: both sides skip the style pass
    times: dict[float | None, list[float]] = {None: [], budget_gb: []}
    blocks: dict[float | None, int] = {}
    for _ in range(repeats):
        for budget in times:
            job = Job(content=content, regions=[Region([StyleImage(style)])], optimizer="adam", memory_gb=budget)
            start = time.perf_counter()
            _, _, blocks[budget] = engine.gradient(job, image)
            times[budget].append(time.perf_counter() - start)
    if blocks[None] != 1:
        raise RuntimeError(f"the whole side ran in {blocks[None]} blocks: this machine has too little memory free")
    return {"size": size, "budget_gb": budget_gb, "blocks": blocks[budget_gb], "whole_seconds": times[None],
            "blocked_seconds": times[budget_gb], "ratio": float(np.median(times[budget_gb]) / np.median(times[None]))}


def optimizer_cost(size: int, iterations: int, seeds: tuple[int, ...] = (0, 1, 2)) -> list[dict[str, Any]]:
    """What the optimiser's state buys: one scale, the same job, L-BFGS with its full
    history, with the smallest the budget may leave it and with its pairs kept in half
    precision, and Adam; each from three seeds, since L-BFGS's path is sensitive enough
    that rounding alone moves where it ends."""
    engine = StyleTransfer(WEIGHTS)
    content, style = pictures(size, size)
    rows = []
    for name, optimizer, history, kept in (
        ("L-BFGS, 50 pairs", "lbfgs", 50, None), ("L-BFGS, 10 pairs", "lbfgs", 10, None),
        ("L-BFGS, 50 pairs in bfloat16", "lbfgs", 50, "bfloat16"),
        ("L-BFGS, 50 pairs in float16, scaled per vector", "lbfgs", 50, "float16"),
        ("L-BFGS, 20 pairs in bfloat16 (the bytes of 10 in float32)", "lbfgs", 20, "bfloat16"),
        ("Adam", "adam", 0, None),
    ):
        losses, start = [], time.perf_counter()
        for seed in seeds:  # another seed starts from the content under another faint grain
            job = Job(content=content, regions=[Region([StyleImage(style)])], stages=1, iterations=iterations,
                      optimizer=optimizer, seed=seed)
            with _history_kept_in(kept):
                result = _run_with_plan(engine, job, memory.Plan(None, 1, optimizer, history, 0.0))
            losses.append(engine.evaluate(job, result.image)["total"])
        rows.append({"optimizer": name, "losses": losses, "loss": float(np.mean(losses)),
                     "seconds": (time.perf_counter() - start) / len(seeds)})
    return rows


@contextlib.contextmanager
def _history_kept_in(dtype: str | None) -> Iterator[None]:
    """torch's L-BFGS with each new curvature pair rounded to `dtype` once the step
    that made it is done, which is what a history kept in half precision would hold
    (the step itself used the pair unrounded): the loss it costs is measured here
    before any such optimiser is written.  float16 is scaled by each
    vector's largest element, as an implementation would, since gradient differences
    fall below its smallest normal number; bfloat16 has float32's range."""
    if dtype is None:
        yield
        return
    original = torch.optim.LBFGS
    half = getattr(torch, dtype)

    def rounded(v: torch.Tensor) -> torch.Tensor:
        if half is torch.bfloat16:
            return v.to(half).float()
        scale = v.abs().max().clamp_min(1e-30)
        return (v / scale).to(half).float() * scale

    class RoundedHistory(original):  # type: ignore[misc, valid-type]
        def step(self, closure):  # type: ignore[no-untyped-def]
            loss = super().step(closure)
            state = self.state[self._params[0]]
            for pairs in (state.get("old_dirs", []), state.get("old_stps", [])):
                if pairs:
                    pairs[-1] = rounded(pairs[-1])
            return loss

    torch.optim.LBFGS = RoundedHistory  # type: ignore[misc]
    try:
        yield
    finally:
        torch.optim.LBFGS = original  # type: ignore[misc]


def _run_with_plan(engine: StyleTransfer, job: Job, plan: memory.Plan) -> Result:
    """The job with this optimiser state, whatever the budget would pick."""
    engine._stage_plan = lambda prep, stage: plan  # type: ignore[method-assign]
    try:
        *_, result = engine.run(job)
    finally:
        del engine._stage_plan
    assert isinstance(result, Result)
    return result


def a4(budget_gb: float, final_iterations: int) -> dict[str, Any]:
    """An A4 page at 300 dpi, the default schedule with a short full-size stage."""
    from core.schedule import DEFAULT_EARLY_ITERATIONS, ladder

    height, width = A4_SIZE
    content, style = pictures(height, width)
    stages = len(ladder(height, width))
    iterations = [DEFAULT_EARLY_ITERATIONS] * (stages - 1) + [final_iterations]
    engine = StyleTransfer(WEIGHTS)
    plans = _record_plans(engine)
    job = Job(content=content, regions=[Region([StyleImage(style)])], iterations=iterations, memory_gb=budget_gb)
    start = time.perf_counter()
    stage_log: list[dict[str, Any]] = []
    for event in engine.run(job):
        if isinstance(event, Progress):
            if not stage_log or stage_log[-1]["stage"] != event.stage:
                stage_log.append({"stage": event.stage, "size": event.size, "blocks": event.blocks, "start": event.elapsed})
            stage_log[-1]["end"] = event.elapsed
            stage_log[-1]["loss"] = event.losses["total"]
        else:
            result = event
    wall = time.perf_counter() - start
    from PIL import Image

    out = HERE / "results"
    out.mkdir(exist_ok=True)
    picture = (result.image * 255 + 0.5).astype(np.uint8)
    Image.fromarray(picture).save(out / "a4-blocked.png")
    tile = plans[-1].tile
    return {"wall_seconds": wall, "peak_bytes": _peak_bytes(engine), "stages": stage_log, "budget_gb": budget_gb,
            "image": str(out / "a4-blocked.png"), "tile": tile,
            "border_ranks": border_ranks(picture, tile) if tile is not None else []}


def border_ranks(picture: np.ndarray, tile: tuple[int, int], reach: int = 400) -> list[float]:
    """For each block border, where its step between neighbouring pixels ranks among the
    lines of the same pooling grid within `reach` px: VGG's pooling leaves a faint grid in
    any Gatys picture, so a border is a seam only if it stands out from that grid."""
    picture = np.asarray(picture, np.float64)
    ranks = []
    for axis, size in ((0, tile[0]), (1, tile[1])):
        steps = np.abs(np.diff(picture, axis=axis)).mean(axis=tuple(a for a in range(3) if a != axis))
        borders = range(size, picture.shape[axis], size)
        for border in borders:
            spacing = min(64, border & -border)  # the coarsest pooling grid the border lies on
            near = [steps[line - 1] for line in range(spacing, len(steps), spacing)
                    if line not in borders and abs(line - border) <= reach]
            ranks.append(float(np.mean(np.array(near) < steps[border - 1])))
    return ranks


A4_SIZE = (3508, 2480)
CROP = (slice(1216, 1600), slice(1152, 1536))  # 384 x 384 px around where four blocks of the last stage meet (1408, 1248)


def a4_baseline() -> dict[str, Any]:
    """Today's editor default for the same page: the job run at 1024 px, scaled up to the
    layer's size; then the same crop from both, at full size, for bench/README.md."""
    from PIL import Image

    content, style = pictures(*A4_SIZE)
    engine = StyleTransfer(WEIGHTS)
    job = Job(content=content, regions=[Region([StyleImage(style)])], size=1024, full_resolution=True)
    start = time.perf_counter()
    *_, result = engine.run(job)
    assert isinstance(result, Result)
    wall = time.perf_counter() - start
    images = HERE / "images"
    images.mkdir(exist_ok=True)
    scaled = (result.image[CROP] * 255 + 0.5).astype(np.uint8)
    Image.fromarray(scaled).save(images / "a4-crop-1024-scaled.png")
    blocked = np.asarray(Image.open(HERE / "results" / "a4-blocked.png"))[CROP]
    Image.fromarray(blocked).save(images / "a4-crop-blocked.png")
    return {"wall_seconds": wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget-gb", type=float, default=4.0)
    parser.add_argument("--huge", action="store_true", help="also 8192 px, one iteration")
    parser.add_argument("--a4", action="store_true", help="also run an A4 page at 300 dpi to the end (about 13 minutes alone here)")
    parser.add_argument("--a4-baseline", action="store_true",
                        help="after --a4: the same page at 1024 px scaled up, and a crop of both into bench/images/")
    parser.add_argument("--skip", action="append", default=[], choices=["memory", "ratio", "optimiser"])
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--probe", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        try:
            print(json.dumps(probe(int(args.probe[0]), float(args.probe[1]), int(args.probe[2]))))
        except JobError as refused:
            print(f"refused: {refused}", file=sys.stderr)
            return 2
        return 0
    figures: dict[str, Any] = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    if "memory" not in args.skip:
        print(f"Peak memory with a {args.budget_gb:g} GB budget, each size in a fresh process, one full-size stage")
        sizes = [1024, 2048, 4096] + ([8192] if args.huge else [])
        figures["memory"] = memory_rows(sizes, args.budget_gb, {8192: 1})
    if "ratio" not in args.skip:
        print("\nTime per iteration (one gradient), in blocks against whole, in one process")
        figures["ratio"] = []
        for size, budget in ((1024, args.budget_gb), (2048, args.budget_gb)):
            row = time_ratio(size, budget, 2)
            figures["ratio"].append(row)
            print(f"  {size} px: whole {np.median(row['whole_seconds']):.1f} s, {row['blocks']} blocks "
                  f"{np.median(row['blocked_seconds']):.1f} s: {row['ratio']:.2f}x", flush=True)
    if "optimiser" not in args.skip:
        print("\nThe optimiser's state and the loss, 256 px, one scale, 150 iterations, seeds 0, 1, 2")
        figures["optimiser"] = optimizer_cost(256, 150)
        for row in figures["optimiser"]:
            each = ", ".join(f"{loss:.4f}" for loss in row["losses"])
            print(f"  {row['optimizer']}: mean loss {row['loss']:.4f} ({each}), {row['seconds']:.0f} s a run", flush=True)
    if args.a4:
        print(f"\nA4 at 300 dpi (2480 x 3508 px), default schedule, 10 full-size iterations, {8:g} GB budget")
        figures["a4"] = a4(8.0, 10)
        a = figures["a4"]
        for s in a["stages"]:
            print(f"  stage {s['stage']} {s['size'][1]}x{s['size'][0]}: {s['blocks']} blocks, "
                  f"{s['end'] - s['start']:.0f} s, loss {s['loss']:.4f}")
        print(f"  wall {a['wall_seconds'] / 60:.1f} min, peak {a['peak_bytes'] / 1e9:.2f} GB; picture: {a['image']}")
        if a["border_ranks"]:
            ranks = sorted(a["border_ranks"])
            print(f"  the last stage's {len(ranks)} block borders rank at {', '.join(f'{r:.0%}' for r in ranks)} "
                  "of the pooling-grid lines near them (a seam would rank at the top)")
    if args.a4_baseline:
        figures["a4_baseline"] = a4_baseline()
        print(f"\nThe same page at 1024 px, scaled up: {figures['a4_baseline']['wall_seconds'] / 60:.1f} min; "
              f"crops in {HERE / 'images'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
