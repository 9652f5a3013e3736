"""How right the time estimates are: before a job, and from the end of its first stage on.

    .venv/bin/python bench/estimate_bench.py [--sizes 256,512] [--layer 1200x800] [--weights random:0]

Starts a real server in this process (it times a small job when it starts, as every
server does), then runs the default job (the engine's own schedule: 50 iterations for
each early stage, 100 for the last) on docs/images/coffee.png in the style of
docs/images/deep-field.png, once per size, one after the other.  For each it prints what
an editor would have been told before Start (from the `speed` in `capabilities`, with
`restyle_client.estimate`), the ETA the server sent at the end of every stage, and what
it took.  The first size is estimated from the calibration alone; later ones also from
the jobs before them.  Shared machines are noisy: read one run's figures together.
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image
from restyle_client import estimate
from restyle_client import events as ev
from restyle_client.client import Client
from restyle_client.request import Options, Pixels, Region, Request, Style

from server.config import ServerConfig
from server.service import StyleServer

IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images"


def pixels(path: Path, size: tuple[int, int] | None = None) -> Pixels:
    image = Image.open(path).convert("RGB")
    rgb = np.asarray(image if size is None else image.resize(size, Image.LANCZOS))
    return Pixels(rgb.shape[1], rgb.shape[0], 3, "u8", rgb.tobytes())


def speed_when_ready(client: Client, timeout: float = 120.0) -> estimate.Speed:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        speed = estimate.Speed.parse(client.hello(timeout=10).get("speed"))
        if speed is not None:
            return speed
        time.sleep(0.2)
    raise SystemExit("the server announced no speed")


def run(client: Client, content: Pixels, style: Pixels, size: int) -> dict:
    speed = speed_when_ready(client)
    predicted = estimate.seconds(estimate.job_work(content.width, content.height, size), speed)
    started = time.monotonic()
    client.submit(Request(content, [Region([Style(style)])], Options(size=size, preview_every=0)))
    stage_ends: list[tuple[int, float, float]] = []  # (stage, seconds since submit, eta)
    last: ev.Progress | None = None
    last_at = 0.0
    for event in client.events(timeout=3600):
        if isinstance(event, ev.Progress):
            if last is not None and event.stage != last.stage:
                stage_ends.append((last.stage, last_at, last.eta or 0.0))
            last, last_at = event, time.monotonic() - started
        if ev.is_final(event):
            break
    took = time.monotonic() - started
    return {"size": size, "predicted": predicted, "took": took, "speed": speed,
            "stage_ends": [(stage, at, eta, took - at) for stage, at, eta in stage_ends]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="256,512")
    parser.add_argument("--weights", default="random:0")
    parser.add_argument("--layer", default=None, metavar="WxH",
                        help="the photo resized to this layer size first (default: as it is, 600x400)")
    args = parser.parse_args()
    server = StyleServer(ServerConfig(bind="tcp://127.0.0.1:0", weights=args.weights))
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    server.ready.wait(120)
    layer = tuple(int(v) for v in args.layer.split("x")) if args.layer else None
    content, style = pixels(IMAGES / "coffee.png", layer), pixels(IMAGES / "deep-field.png")
    print(f"content {content.width}x{content.height}, device {server.device}, weights {args.weights}")
    try:
        with Client(server.endpoint) as client:
            for size in (int(s) for s in args.sizes.split(",")):
                figures = run(client, content, style, size)
                error = (figures["predicted"] - figures["took"]) / figures["took"]
                print(f"\n{size} px: predicted {figures['predicted']:.1f} s before Start, took {figures['took']:.1f} s "
                      f"({error:+.0%}); speed {figures['speed'].iteration_s:.3f} s/iteration + "
                      f"{figures['speed'].megapixel_s:.3f} s/megapixel")
                for stage, at, eta, left in figures["stage_ends"]:
                    print(f"  end of stage {stage} at {at:.1f} s: ETA {eta:.1f} s, really {left:.1f} s "
                          f"({(eta - left) / left:+.0%})")
    finally:
        server.stop()
        thread.join(60)


if __name__ == "__main__":
    main()
