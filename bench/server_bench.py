"""Server figures: round-trip latency, preview overhead, style cache, fairness under load.

    .venv/bin/python bench/server_bench.py [--size 64] [--iterations 12] [--weights random:0]

Runs a real server in a thread of this process on a loopback port the OS picks, and
real clients.  Times drift from machine to machine (and with whatever else runs), so
read the ratios within one run.  Prints a table.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import threading
import time
from pathlib import Path

import zmq
from restyle_client import events as ev
from restyle_client.client import Client
from restyle_client.request import Options, Pixels, Region, Request, Style

from server.config import ServerConfig
from server.service import StyleServer


def noise(width: int, height: int, seed: int) -> Pixels:
    return Pixels(width, height, 3, "u8", random.Random(seed).randbytes(width * height * 3))


def request(size: int, iterations: int, style_seed: int, preview_every: int = 0, seed: int = 0) -> Request:
    return Request(
        content=noise(size, size * 3 // 4, seed),
        regions=[Region([Style(noise(size, size, style_seed))])],
        options=Options(iterations=iterations, preview_every=preview_every, preview_max_size=size, seed=seed),
    )


def run_job(client: Client, req: Request) -> tuple[float, int]:
    """Seconds from submit to result, and how many previews arrived."""
    start = time.perf_counter()
    client.submit(req)
    previews = 0
    for event in client.events(timeout=600):
        previews += isinstance(event, ev.Preview)
        if ev.is_final(event):
            assert isinstance(event, ev.Result) and not event.cancelled, event
    return time.perf_counter() - start, previews


def ping_latency(endpoint: str, count: int) -> list[float]:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.connect(endpoint)
    from restyle_client.protocol import Ping, encode

    times = []
    for i in range(count):
        start = time.perf_counter()
        sock.send_multipart(encode(Ping(i)))
        sock.recv_multipart()
        times.append(time.perf_counter() - start)
    sock.close(linger=0)
    return times[5:]


def concurrent(endpoint: str, clients: int, jobs_each: int, size: int, iterations: int) -> tuple[float, list[float]]:
    """Wall time for all jobs, and each client's mean time to its results."""
    finish: dict[int, list[float]] = {c: [] for c in range(clients)}
    start = time.perf_counter()

    def one(c: int) -> None:
        with Client(endpoint) as client:
            client.hello()
            for j in range(jobs_each):
                client.submit(request(size, iterations, style_seed=100, seed=c * 100 + j))
            for event in client.events(timeout=600):
                if ev.is_final(event):
                    finish[c].append(time.perf_counter() - start)

    threads = [threading.Thread(target=one, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, [statistics.mean(v) for v in finish.values()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="content width in px (default 64)")
    parser.add_argument("--iterations", type=int, default=12)
    parser.add_argument("--weights", default="random:0")
    parser.add_argument("--device", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    server = StyleServer(ServerConfig(bind="tcp://127.0.0.1:0", weights=args.weights, device=args.device))
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    server.ready.wait()
    rows: list[tuple[str, str]] = []
    try:
        endpoint = server.endpoint
        assert endpoint is not None
        lat = sorted(ping_latency(endpoint, 305))
        rows.append(("ping round trip, median", f"{statistics.median(lat) * 1e3:.3f} ms"))
        rows.append(("ping round trip, p95", f"{lat[int(len(lat) * 0.95)] * 1e3:.3f} ms"))

        with Client(endpoint) as client:
            client.hello()
            run_job(client, request(args.size, 2, style_seed=1))  # warm up the engine
            first, _ = run_job(client, request(args.size, args.iterations, style_seed=2))
            second, _ = run_job(client, request(args.size, args.iterations, style_seed=2))
            rows.append(("job with a new style (cache miss)", f"{first:.3f} s"))
            rows.append(("same style again (cache hit)", f"{second:.3f} s ({second / first:.2f}x)"))
            cache = client.status()["cache"]
            rows.append(
                ("style cache", f"{cache['hits']} hits, {cache['misses']} misses, {cache['bytes'] / 1e6:.1f} MB")
            )

            off, on = [], []
            for _ in range(args.repeats):  # alternated, so drift in machine load hits both alike
                off.append(run_job(client, request(args.size, args.iterations, 3))[0])
                on.append(run_job(client, request(args.size, args.iterations, 3, preview_every=1)))
            t_off, t_on = statistics.median(off), statistics.median(t for t, _ in on)
            rows.append(("previews off", f"{t_off:.3f} s (median of {', '.join(f'{t:.2f}' for t in off)})"))
            rows.append(
                (
                    f"previews every step ({on[0][1]} previews in the job)",
                    f"{t_on:.3f} s ({(t_on / t_off - 1) * 100:+.1f} %; median of {', '.join(f'{t:.2f}' for t, _ in on)})",
                )
            )

        for n in (1, 2, 4):
            wall, means = concurrent(endpoint, n, 2, args.size, args.iterations)
            jobs = 2 * n
            spread = max(means) / min(means)
            rows.append(
                (
                    f"{n} client(s) x 2 jobs",
                    f"{jobs / wall:.2f} jobs/s, mean finish per client "
                    f"{min(means):.2f}..{max(means):.2f} s (spread {spread:.2f}x)",
                )
            )
    finally:
        server.stop()
        thread.join()

    print(f"\nRestyle server, device {server.device}, {server.engine.weights_label}")
    print(f"content {args.size}x{args.size * 3 // 4} px, {args.iterations} iterations per job\n")
    width = max(len(k) for k, _ in rows)
    print(f"| {'measure'.ljust(width)} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for key, value in rows:
        print(f"| {key.ljust(width)} | {value} |")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"device": str(server.device), "size": args.size,
                                         "iterations": args.iterations, "figures": dict(rows)}, indent=2))


if __name__ == "__main__":
    main()
