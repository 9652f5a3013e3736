"""All the benchmarks in one command: engine figures, then server figures.

    .venv/bin/python bench/run.py [--quick]

Prints each table and writes every figure to bench/results/latest.json (and a copy named
after the date).  Ratios, not absolute times, are what carry from machine to machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes and few iterations: a smoke run")
    args = parser.parse_args()
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    engine_json = results / f"engine-{stamp}.json"
    server_json = results / f"server-{stamp}.json"
    quick = ["--quick"] if args.quick else []
    code = subprocess.call([sys.executable, str(HERE / "engine_bench.py"), *quick, "--json", str(engine_json)])
    server_size = ["--size", "64", "--iterations", "8"] if args.quick else ["--size", "256", "--iterations", "20"]
    code |= subprocess.call([sys.executable, str(HERE / "server_bench.py"), *server_size, "--json", str(server_json)])
    combined = {}
    for name, path in (("engine", engine_json), ("server", server_json)):
        if path.exists():
            combined[name] = json.loads(path.read_text())
    (results / "latest.json").write_text(json.dumps(combined, indent=2))
    print(f"\nall figures: {results / 'latest.json'}")
    return code


if __name__ == "__main__":
    sys.exit(main())
