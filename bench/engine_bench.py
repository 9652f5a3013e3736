"""Engine figures: per-iteration speed against the machine's peak, time to quality
against the textbook configuration, and peak memory by size.

    .venv/bin/python bench/engine_bench.py [--quick] [--json PATH]

Every ratio is measured within one run, because absolute times drift from machine to
machine and with whatever else is running.  Weights are seeded random: the time of an
iteration does not depend on the weight values, and both sides of every comparison
use the same network, so the loss comparisons hold too.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.engine import StyleTransfer  # noqa: E402
from core.events import CancelToken, Progress, Result  # noqa: E402
from core.job import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, Job, Region, StyleImage  # noqa: E402
from core.schedule import iterations_per_stage, ladder  # noqa: E402
from core.vgg import LAYER_INDEX, LAYER_NAMES, build_features  # noqa: E402

WEIGHTS = "random:0"


def pictures(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth content picture and a textured style picture, both size x size."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    content = np.stack([x, y, 0.5 + 0.3 * np.sin(6 * x * y)], -1).astype(np.float32)
    coarse = rng.random((size // 8 + 1, size // 8 + 1, 3)).astype(np.float32)
    style = np.kron(coarse, np.ones((8, 8, 1), np.float32))[:size, :size]
    style = np.clip(style + 0.2 * rng.standard_normal(style.shape).astype(np.float32), 0, 1)
    return content, style


def job_at(size: int, **options: Any) -> Job:
    content, style = pictures(size)
    return Job(content=content, regions=[Region([StyleImage(style)])], **options)


# -- FLOPs -------------------------------------------------------------------------


def iteration_flops(height: int, width: int) -> float:
    """Forward through VGG19 to the deepest default layer, backward to the image only
    (about the forward's cost again: no weight gradients), plus the Gram matrices."""
    layers = set(DEFAULT_CONTENT_LAYERS) | set(DEFAULT_STYLE_LAYERS)
    deepest = max(LAYER_INDEX[n] for n in layers)
    features = build_features()
    h, w, conv = height, width, 0.0
    gram = 0.0
    for index, module in enumerate(features):
        if index > deepest:
            break
        if isinstance(module, torch.nn.Conv2d):
            conv += 2.0 * module.in_channels * module.out_channels * 9 * h * w
            channels = module.out_channels
        elif isinstance(module, torch.nn.MaxPool2d):
            h, w = h // 2, w // 2
        if LAYER_NAMES[index] in DEFAULT_STYLE_LAYERS:
            gram += 3 * 2.0 * channels * channels * h * w  # forward, and two products backward
    return 2 * conv + gram


def peak_matmul(dtype: torch.dtype, device: torch.device, n: int = 3072, repeats: int = 7) -> float:
    """The best of several large matrix products: what this device can do at most."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    times = []
    for _ in range(repeats):
        _sync(device)
        t = time.perf_counter()
        a @ b
        _sync(device)
        times.append(time.perf_counter() - t)
    return 2.0 * n**3 / min(times)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


# -- measurements -----------------------------------------------------------------


def seconds_per_iteration(engine: StyleTransfer, size: int, iterations: int) -> float:
    """Median time between iterations of a single-stage job, after one warm-up."""
    stamps = []
    for event in engine.run(job_at(size, stages=1, iterations=iterations + 1)):
        if isinstance(event, Progress):
            stamps.append(event.elapsed)
    return statistics.median(b - a for a, b in zip(stamps, stamps[1:], strict=False))


def speed_table(sizes: list[int], iterations: int) -> list[dict[str, Any]]:
    engine = StyleTransfer(WEIGHTS)
    dtype = engine.autocast or torch.float32
    peak = peak_matmul(dtype, engine.device)
    rows = []
    for size in sizes:
        seconds = seconds_per_iteration(engine, size, iterations)
        flops = iteration_flops(size, size)
        rows.append({
            "size": size, "precision": engine.precision, "device": str(engine.device), "s_per_iteration": seconds,
            "gflop_per_iteration": flops / 1e9, "achieved_gflops": flops / seconds / 1e9,
            "peak_gflops": peak / 1e9, "fraction_of_peak": flops / seconds / peak,
        })
    return rows


def _judged_run(engine: StyleTransfer, job: Job, judge: StyleTransfer, target: float,
                stop_after: float | None = None) -> dict[str, Any]:
    """Run `job`, judging every picture of its last stage with `judge` (fp32, full size).

    The judging time is left out of the run's clock.  `stop_after` cancels the run once
    it has used that many seconds of its own time.
    """
    reference = job_at(int(job.content.shape[0]))  # the default job at full size: what the loss is judged on
    cancel = CancelToken()
    judged = 0.0
    reached_at = None
    best = float("inf")
    for event in engine.run(job, cancel=cancel, image_every=1):
        if isinstance(event, Progress) and event.image is not None and event.stage == event.stages:
            t = time.perf_counter()
            picture = event.image.permute(1, 2, 0).float().cpu().numpy()
            loss = judge.evaluate(reference, picture)["total"]
            own_time = event.elapsed - judged
            judged += time.perf_counter() - t
            best = min(best, loss)
            if reached_at is None and loss <= target:
                reached_at = own_time
            if stop_after is not None and own_time >= stop_after:
                cancel.cancel("time is up")
        elif isinstance(event, Result):
            seconds = event.elapsed - judged
            final = judge.evaluate(reference, event.image)["total"]
    return {"seconds": seconds, "final_loss": final, "best_loss": min(best, final), "seconds_to_target": reached_at}


def time_to_quality(size: int, textbook_iterations: int) -> dict[str, Any]:
    """The textbook run (single scale, fp32, plain L-BFGS as in Gatys et al. and
    jcjohnson/neural-style, full size, content init) against the engine's default
    schedule; both judged by the same fp32 full-size loss.  The engine at one scale, for
    the default schedule's time, tells coarse to fine apart from the engine's L-BFGS."""
    textbook = StyleTransfer(WEIGHTS, precision="fp32", restarts=False)
    judge = textbook  # fp32 at full size: the textbook's own loss is already this
    textbook_result = None
    for event in textbook.run(job_at(size, stages=1, iterations=textbook_iterations)):
        if isinstance(event, Result):
            textbook_result = event
    textbook_seconds = textbook_result.elapsed
    target = judge.evaluate(job_at(size), textbook_result.image)["total"]

    engine = StyleTransfer(WEIGHTS)
    default = _judged_run(engine, job_at(size), judge, target)
    one_scale = _judged_run(engine, job_at(size, stages=1, iterations=textbook_iterations), judge, target,
                            stop_after=default["seconds"])

    def ratio(run: dict[str, Any]) -> float | None:
        return run["seconds_to_target"] / textbook_seconds if run["seconds_to_target"] is not None else None

    return {
        "size": size, "textbook_iterations": textbook_iterations, "textbook_seconds": textbook_seconds,
        "textbook_loss": target, "default_seconds_total": default["seconds"], "default_final_loss": default["final_loss"],
        "default_seconds_to_textbook_loss": default["seconds_to_target"], "ratio": ratio(default),
        "one_scale_seconds": one_scale["seconds"], "one_scale_best_loss": one_scale["best_loss"],
        "one_scale_seconds_to_textbook_loss": one_scale["seconds_to_target"], "one_scale_ratio": ratio(one_scale),
        "default_precision": engine.precision, "schedule": _schedule(size),
    }


def _schedule(size: int) -> list[list[int]]:
    """(side, iterations) of each stage of a default job at this size, for the printout."""
    sizes = ladder(size, size)
    return [[max(s), i] for s, i in zip(sizes, iterations_per_stage(len(sizes), None), strict=True)]


def precision_effect(size: int, iterations: int) -> dict[str, Any]:
    """The same default job in fp32 and in bf16, judged in fp32.

    Measured even where bf16 is only emulated: the arithmetic, and so the effect on the
    result, is the same; only the speed differs, and the table says which it was.
    """
    judge = StyleTransfer(WEIGHTS, precision="fp32")
    reduced = StyleTransfer(WEIGHTS, precision="bf16")
    out: dict[str, Any] = {"size": size, "iterations_per_stage": iterations, "reduced": "bf16",
                           "auto_picks": StyleTransfer(WEIGHTS).precision}
    results = {}
    for name, engine in (("fp32", judge), ("reduced", reduced)):
        result = list(engine.run(job_at(size, iterations=iterations)))[-1]
        results[name] = result.image
        out[f"{name}_seconds"] = result.elapsed
        out[f"{name}_loss"] = judge.evaluate(job_at(size), result.image)["total"]
    difference = np.abs(results["fp32"] - results["reduced"])
    out["mean_abs_pixel_difference"] = float(difference.mean())
    out["psnr_db"] = float(10 * np.log10(1.0 / max(float((difference**2).mean()), 1e-12)))
    return out


def memory_probe(size: int, iterations: int) -> None:
    """Run in a child process: one job at `size`, then report the peak resident memory."""
    engine = StyleTransfer(WEIGHTS)
    events = list(engine.run(job_at(size, stages=1, iterations=iterations)))
    peak = _peak_resident_bytes()
    if engine.device.type == "cuda":
        peak = torch.cuda.max_memory_allocated()
    print(json.dumps({"size": size, "peak_bytes": peak, "completed": isinstance(events[-1], Result)}))


def _peak_resident_bytes() -> int:
    """This process's own peak.  ru_maxrss is not it: Linux carries the high-water mark
    across fork and exec, so a child of a large parent reports the parent's size."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_table(sizes: list[int], budget_gb: float) -> dict[str, Any]:
    rows = []
    for size in sizes:
        out = subprocess.run([sys.executable, __file__, "--memory-probe", str(size)], capture_output=True, text=True)
        if out.returncode != 0:
            rows.append({"size": size, "error": out.stderr.strip().splitlines()[-1:]})
            continue
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    ok = [r for r in rows if "peak_bytes" in r]
    fit = None
    if len(ok) >= 2:
        pixels = np.array([r["size"] ** 2 for r in ok], float)
        peaks = np.array([r["peak_bytes"] for r in ok], float)
        slope, intercept = np.polyfit(pixels, peaks, 1)
        fit = {"bytes_per_pixel": slope, "fixed_bytes": intercept,
               "largest_square_side_in_budget": int(((budget_gb * 1e9 - intercept) / slope) ** 0.5)}
    return {"rows": rows, "budget_gb": budget_gb, "fit": fit}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes and few iterations: a smoke run")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--budget-gb", type=float, default=24.0)
    parser.add_argument("--skip", action="append", default=[], choices=["speed", "quality", "precision", "memory"])
    parser.add_argument("--memory-probe", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe:
        memory_probe(args.memory_probe, 2)
        return 0
    figures: dict[str, Any] = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    if "speed" not in args.skip:
        figures["speed"] = speed_table([128, 256] if args.quick else [256, 512, 1024], 2 if args.quick else 3)
        print_speed(figures["speed"])
    if "quality" not in args.skip:
        figures["quality"] = time_to_quality(*((128, 60) if args.quick else (512, 300)))
        print_quality(figures["quality"])
    if "precision" not in args.skip:
        figures["precision"] = precision_effect(*((128, 30) if args.quick else (256, 50)))
        print_precision(figures["precision"])
    if "memory" not in args.skip:
        figures["memory"] = memory_table([256, 512] if args.quick else [512, 1024, 2048], args.budget_gb)
        print_memory(figures["memory"])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))
        print(f"\nwrote {args.json}")
    return 0


def print_speed(rows: list[dict[str, Any]]) -> None:
    print("\nPer iteration (forward + backward to the image), default layers")
    print(f"{'size':>6} {'precision':>9} {'s/iter':>8} {'GFLOP':>8} {'GFLOP/s':>9} {'peak':>8} {'of peak':>8}")
    for r in rows:
        print(f"{r['size']:>6} {r['precision']:>9} {r['s_per_iteration']:>8.3f} {r['gflop_per_iteration']:>8.1f} "
              f"{r['achieved_gflops']:>9.1f} {r['peak_gflops']:>8.1f} {r['fraction_of_peak']:>8.0%}")


def print_quality(q: dict[str, Any]) -> None:
    print(f"\nTime to quality at {q['size']} px (loss judged in fp32 at full size)")
    print(f"  textbook: {q['textbook_iterations']} iterations, one scale, fp32, plain L-BFGS: "
          f"{q['textbook_seconds']:.1f} s, loss {q['textbook_loss']:.4f}")

    def reached(seconds: float | None, ratio: float | None) -> str:
        return f"{seconds:.1f} s = {ratio:.2f} of the textbook's time" if seconds is not None else "— (not reached)"

    stages = ", ".join(f"{n} at {side} px" for side, n in q["schedule"])
    print(f"  default schedule ({stages}; {q['default_precision']}): reached that loss after "
          + reached(q["default_seconds_to_textbook_loss"], q["ratio"]))
    print(f"    ran {q['default_seconds_total']:.1f} s in all, ending at loss {q['default_final_loss']:.4f}")
    print("  the engine at one scale, for the same time: reached it after "
          + reached(q["one_scale_seconds_to_textbook_loss"], q["one_scale_ratio"])
          + f"; best loss {q['one_scale_best_loss']:.4f}")


def print_precision(p: dict[str, Any]) -> None:
    print(f"\nPrecision at {p['size']} px, default schedule with {p['iterations_per_stage']} iterations a stage "
          f"(auto picks {p['auto_picks']} here)")
    print(f"  fp32:  {p['fp32_seconds']:.1f} s, loss {p['fp32_loss']:.4f}")
    speedup = p["fp32_seconds"] / p["reduced_seconds"]
    change = f"{speedup:.2f}x faster" if speedup >= 1 else f"{1 / speedup:.2f}x slower"
    print(f"  {p['reduced']}: {p['reduced_seconds']:.1f} s, loss {p['reduced_loss']:.4f} ({change})")
    print(f"  results differ by {p['mean_abs_pixel_difference'] * 255:.2f} / 255 on average, PSNR {p['psnr_db']:.1f} dB")


def print_memory(m: dict[str, Any]) -> None:
    print("\nPeak memory, one job of two iterations")
    for r in m["rows"]:
        if "peak_bytes" in r:
            print(f"  {r['size']:>5} px: {r['peak_bytes'] / 1e9:.2f} GB" + ("" if r["completed"] else " (did not complete)"))
        else:
            print(f"  {r['size']:>5} px: failed {r['error']}")
    if m["fit"]:
        f = m["fit"]
        print(f"  fit: {f['fixed_bytes'] / 1e9:.2f} GB + {f['bytes_per_pixel']:.0f} B/px; largest square in "
              f"{m['budget_gb']:g} GB: {f['largest_square_side_in_budget']} px")


if __name__ == "__main__":
    sys.exit(main())
