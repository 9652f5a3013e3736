"""Several workers: throughput with 1 and 2 workers, in-process and on Ray, and what Ray
adds to a job (its dispatch time and a preview's way from the worker to the client).

    .venv/bin/python bench/workers_bench.py [--size 64] [--iterations 8] [--jobs 12] [--skip-ray]

Each worker gets one thread (one core), so on a 2-core machine two workers can at most
double the throughput: the ratio is the figure.  Real servers run in a thread of this
process on loopback ports the OS picks; the Ray ones on a local Ray instance that is
shut down after each.  Prints a table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import torch  # noqa: E402
from restyle_client import events as ev  # noqa: E402
from support.server import connect, running_server_thread, tiny_request  # noqa: E402

RAY_OBJECT_STORE = 100 * 1024 * 1024


@contextmanager
def server(kind: str, workers: int) -> Iterator[Any]:
    torch.set_num_threads(1)  # one core per worker, here as in the Ray actors
    common = {"calibrate": False, "heartbeat_interval": 2.0, "heartbeat_timeout": 60.0}
    if kind == "ray":
        import ray

        config = {"ray": "auto", "ray_cpu_workers": workers, "ray_object_store_bytes": RAY_OBJECT_STORE}
        try:
            with running_server_thread(**common, **config) as s:
                yield s
        finally:
            ray.shutdown()
    else:
        with running_server_thread(**common, devices=["cpu"] * workers) as s:
            torch.set_num_threads(1)
            yield s


def throughput(endpoint: str, jobs: int, size: int, iterations: int, clients: int = 4) -> float:
    """Jobs per second for `jobs` jobs sent by `clients` clients at once."""
    done = threading.Barrier(clients + 1)
    start = [0.0]

    def one(c: int) -> None:
        with connect(endpoint) as client:
            done.wait()
            ids = [client.submit(tiny_request(size, size * 3 // 4, iterations=iterations, seed=c * 100 + j))
                   for j in range(jobs // clients)]
            ended = 0
            for event in client.events(timeout=900):
                if ev.is_final(event):
                    assert isinstance(event, ev.Result) and not event.cancelled, event
                    ended += 1
            assert ended == len(ids)

    threads = [threading.Thread(target=one, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    done.wait()
    start[0] = time.perf_counter()
    for t in threads:
        t.join()
    return (jobs // clients * clients) / (time.perf_counter() - start[0])


def dispatch_and_preview(s: Any, rounds: int, size: int) -> tuple[float, float]:
    """Median seconds from submit to the first progress of a one-iteration job on an idle
    server, and from a worker's preview to its client (worker side stamped at the server's
    hand-off for in-process, plus Ray's own hop for actors: see `ray_hop`)."""
    handed: dict[tuple[str, int], float] = {}
    post = s._post

    def stamped(entry: Any, message: ev.Event) -> None:
        if isinstance(message, ev.Preview):
            handed[(message.job_id, len(handed))] = time.perf_counter()
        post(entry, message)

    for worker in s.workers:
        worker._post = stamped
    firsts, previews = [], []
    with connect(s.endpoint) as client:
        for r in range(rounds):
            started = time.perf_counter()
            job = client.submit(tiny_request(size, size * 3 // 4, iterations=1, seed=r))
            for event in client.events(timeout=120):
                if isinstance(event, ev.Progress) and len(firsts) == r:
                    firsts.append(time.perf_counter() - started)
            handed.clear()
            job = client.submit(tiny_request(size, size * 3 // 4, iterations=6, seed=r, preview_every=1))
            for event in client.events(timeout=120):
                if isinstance(event, ev.Preview):
                    arrived = time.perf_counter()
                    key = next(k for k in handed if k[0] == job)
                    previews.append(arrived - handed.pop(key))
    return statistics.median(firsts), statistics.median(previews)


def ray_hop(rounds: int, size: int) -> float:
    """Median seconds for a preview-sized item to stream from an actor to this process."""
    import ray

    @ray.remote(num_cpus=1)
    class Probe:
        def stream(self, n: int, nbytes: int):
            for _ in range(n):
                time.sleep(0.02)
                yield time.time(), b"\0" * nbytes

    probe = Probe.remote()
    hops = []
    for ref in probe.stream.options(num_returns="streaming").remote(rounds, size * size * 3 // 4 * 3):
        sent, _ = ray.get(ref)
        hops.append(time.time() - sent)
    return statistics.median(hops[1:])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=64, help="content's long side, px (default %(default)s)")
    parser.add_argument("--iterations", type=int, default=8, help="per stage (default %(default)s)")
    parser.add_argument("--jobs", type=int, default=12, help="jobs per throughput run (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=10, help="jobs for the latency medians (default %(default)s)")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    figures: dict[str, Any] = {"size": args.size, "iterations": args.iterations, "jobs": args.jobs}
    kinds = ["in-process"] + ([] if args.skip_ray else ["ray"])
    for kind in kinds:
        for workers in (1, 2):
            with server(kind, workers) as s:
                throughput(s.endpoint, 4, args.size, args.iterations)  # warm: first jobs build caches
                rate = throughput(s.endpoint, args.jobs, args.size, args.iterations)
                figures[f"{kind} {workers}"] = {"jobs_per_s": rate}
                if workers == 1:
                    first, preview = dispatch_and_preview(s, args.rounds, args.size)
                    figures[f"{kind} {workers}"].update(first_progress_s=first, preview_s=preview)
                    if kind == "ray":
                        figures["ray hop s"] = ray_hop(args.rounds * 3, args.size)
            print(f"{kind}, {workers} worker(s): {rate:.3f} jobs/s", flush=True)

    print(f"\nThroughput, {args.jobs} jobs of {args.size}x{args.size * 3 // 4} px, {args.iterations} iterations a stage, "
          "4 clients, one thread per worker")
    print("| workers | jobs/s | ratio to 1 worker |")
    print("|---|---|---|")
    for kind in kinds:
        one = figures[f"{kind} 1"]["jobs_per_s"]
        for workers in (1, 2):
            rate = figures[f"{kind} {workers}"]["jobs_per_s"]
            print(f"| {kind}, {workers} | {rate:.3f} | {rate / one:.2f} |")
    print("\nWhat a worker adds to a job (medians of", args.rounds, "jobs, idle server)")
    print("| | submit to first progress, ms | preview, worker to client, ms |")
    print("|---|---|---|")
    for kind in kinds:
        f = figures[f"{kind} 1"]
        hop = figures.get("ray hop s", 0.0) if kind == "ray" else 0.0
        print(f"| {kind} | {f['first_progress_s'] * 1000:.1f} | {(f['preview_s'] + hop) * 1000:.1f} |")
    if "ray hop s" in figures:
        print(f"(Ray's streaming hop alone, actor to server, a preview-sized item: {figures['ray hop s'] * 1000:.1f} ms)")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
