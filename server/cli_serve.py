"""The `restyle serve`, `restyle keys` and `restyle stylize --server` parts of the CLI.

`server/cli.py` owns the command line as a whole and calls in here, so the server's
options live next to the server.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from restyle_client import DEFAULT_ENDPOINT

from .config import Limits, ServerConfig
from .keys import KeysError, load_client_keys, make_keys

log = logging.getLogger("restyle.server")
MIB = 1024 * 1024


def add_memory_argument(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--memory-gb", type=_positive_gb, metavar="GB", help=help)


def finite_number(text: str) -> float:
    """A number that is one: 'inf' and 'nan' would pass float() and break a limit later."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    return value


def positive_number(text: str, unit: str = "") -> float:
    try:
        value = finite_number(text)
    except argparse.ArgumentTypeError:
        value = 0.0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number{unit}, got {text!r}")
    return value


def _positive_gb(text: str) -> float:
    return positive_number(text, " of GB")


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    limits, config = Limits(), ServerConfig()
    parser.add_argument(
        "--bind",
        default=DEFAULT_ENDPOINT,
        metavar="ENDPOINT",
        help=f"where to listen (default {DEFAULT_ENDPOINT}); tcp://HOST:0 picks a free port, "
        "ipc:///path works too; anything but loopback needs --keys",
    )
    parser.add_argument(
        "--weights", default="default", help="VGG19 weights: 'default', a .pth file, or random:SEED (tests only)"
    )
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best there is)")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    add_memory_argument(parser, "most memory one job may use on the device (default: what the device has free); "
                                "larger pictures run in blocks, to the same result, more slowly")
    parser.add_argument("--max-pixels", type=int, default=limits.max_pixels,
                        help=f"largest layer, in pixels (default {limits.max_pixels})")
    parser.add_argument("--max-message-mb", type=finite_number, default=limits.max_message_bytes / MIB,
                        help=f"largest message in MiB (default {limits.max_message_bytes // MIB})")
    parser.add_argument("--max-jobs-per-client", type=int, default=limits.max_jobs_per_client)
    parser.add_argument("--max-jobs", type=int, default=limits.max_jobs_total, help="queued or running, all clients")
    parser.add_argument("--max-unread-mb", type=finite_number, default=limits.max_unread_bytes / MIB,
                        help="unread messages held per client before its new jobs are refused as busy (default %(default)g MiB)")
    parser.add_argument(
        "--devices",
        type=_device_list,
        default=None,
        metavar="LIST",
        help="one worker per device, comma-separated, e.g. cuda:0,cuda:1; cpu,cpu splits the cores in two "
        "(default: --device alone)",
    )
    parser.add_argument(
        "--ray",
        default=None,
        metavar="ADDRESS",
        help="run jobs on Ray actors: 'auto' starts a local Ray instance, HOST:PORT joins a cluster's head "
        "(needs Ray beside Restyle: pip install 'ray>=2.8'; docs/cluster.md)",
    )
    parser.add_argument(
        "--ray-cpu-workers", type=int, default=None, metavar="N",
        help="with --ray: N workers on CPUs (default: one per GPU of the cluster)",
    )
    parser.add_argument(
        "--ray-cpus-per-worker", type=int, default=config.ray_cpus_per_worker, metavar="N",
        help="with --ray-cpu-workers: cores (torch threads) per worker (default %(default)s)",
    )
    parser.add_argument(
        "--ray-object-store-mb", type=finite_number, default=None, metavar="MB",
        help="with --ray auto: the local instance's object store (default: Ray's)",
    )
    parser.add_argument("--cache-mb", type=finite_number, default=config.cache_bytes / MIB,
                        help="memory for cached style targets (default %(default)g MiB)")
    parser.add_argument("--heartbeat-interval", type=finite_number, default=config.heartbeat_interval,
                        help="seconds between client pings (default %(default)g)")
    parser.add_argument("--heartbeat-timeout", type=finite_number, default=config.heartbeat_timeout,
                        help="seconds of silence before a client's jobs are cancelled (default %(default)g)")
    parser.add_argument(
        "--keys",
        type=Path,
        default=None,
        metavar="DIR",
        help="CurveZMQ key folder from `restyle keys`: encrypt and admit only its clients",
    )
    parser.add_argument(
        "--ready-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="write the endpoint here once listening (for scripts and tests)",
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def _device_list(text: str) -> list[str]:
    devices = [d.strip() for d in text.split(",")]
    if not all(devices):
        raise argparse.ArgumentTypeError(f"expected devices separated by commas, e.g. cuda:0,cuda:1, got {text!r}")
    return devices


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    return ServerConfig(
        bind=args.bind,
        weights=args.weights,
        device=args.device,
        precision=args.precision,
        memory_gb=args.memory_gb,
        limits=Limits(
            max_pixels=args.max_pixels,
            max_message_bytes=int(args.max_message_mb * MIB),
            max_jobs_per_client=args.max_jobs_per_client,
            max_jobs_total=args.max_jobs,
            max_unread_bytes=int(args.max_unread_mb * MIB),
        ),
        cache_bytes=int(args.cache_mb * MIB),
        heartbeat_interval=args.heartbeat_interval,
        heartbeat_timeout=args.heartbeat_timeout,
        keys=args.keys,
        devices=args.devices,
        ray=args.ray,
        ray_cpu_workers=args.ray_cpu_workers,
        ray_cpus_per_worker=args.ray_cpus_per_worker,
        ray_object_store_bytes=None if args.ray_object_store_mb is None else int(args.ray_object_store_mb * MIB),
    )


def run_serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    from core.job import JobError
    from core.weights import WeightsError  # torch loads only for commands that need it

    from .service import StyleServer
    from .workers import ClusterError

    try:
        config = config_from_args(args)
        server = StyleServer(config)
    except (KeysError, WeightsError, JobError, ValueError, ClusterError) as exc:
        print(f"restyle serve: {exc}", file=sys.stderr)
        return 2

    def on_signal(signum: int, frame: Any) -> None:
        log.info("%s received", signal.Signals(signum).name)
        server.stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    announcer = threading.Thread(target=_announce, args=(server, args.ready_file), daemon=True)
    announcer.start()
    try:
        server.serve()
    except Exception as exc:  # a bind failure is the usual one: address in use
        print(f"restyle serve: cannot listen on {config.bind}: {exc}", file=sys.stderr)
        return 1
    return 0


def _announce(server: Any, ready_file: Path | None) -> None:
    server.ready.wait()
    if server.endpoint is None:
        return
    for worker in server.capabilities()["workers"]:
        log.info("worker %s: device %s on %s", worker["name"], worker["device"], worker["node"])
    log.info("precision %s, weights: %s", server.capabilities()["precision"], server.weights_label)
    if server.config.keys:
        log.info("CurveZMQ on: admitting the keys in %s", server.config.keys / "authorized")
    print(f"listening on {server.endpoint}", flush=True)
    if ready_file is not None:
        tmp = ready_file.with_name(ready_file.name + ".tmp")
        tmp.write_text(server.endpoint + "\n")
        os.replace(tmp, ready_file)


def add_keys_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, help="key folder (made if missing)")
    parser.add_argument(
        "--client",
        action="append",
        default=[],
        metavar="NAME",
        help="make a key pair for this client and allow it (repeatable)",
    )


def run_keys(args: argparse.Namespace) -> int:
    try:
        made = make_keys(args.folder, args.client)
    except (KeysError, OSError) as exc:
        print(f"restyle keys: {exc}", file=sys.stderr)
        return 2
    for path in made:
        print(f"wrote {path}")
    if not made:
        print(f"nothing new: {args.folder} already has these keys")
    print(f"start the server with: restyle serve --keys {args.folder} --bind tcp://0.0.0.0:PORT")
    print(f"give each client {args.folder / 'server.key'} and its own clients/NAME.key_secret")
    return 0


def add_remote_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server",
        default=None,
        metavar="ENDPOINT",
        help="send the job to a running `restyle serve` instead of running it here",
    )
    parser.add_argument(
        "--server-keys",
        type=Path,
        default=None,
        metavar="DIR",
        help="CurveZMQ key folder holding server.key and clients/NAME.key_secret",
    )
    parser.add_argument(
        "--client-name", metavar="NAME", help="which client key pair in --server-keys to use (default: default)"
    )


def client_keys_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments for `remote_stylize`/`Client` from the remote options."""
    if args.server is None and (args.server_keys is not None or args.client_name is not None):
        raise KeysError("--server-keys and --client-name are for --server; give the server's endpoint too")
    if args.server_keys is None:
        if args.client_name is not None:
            raise KeysError("--client-name needs --server-keys DIR, the folder that holds its key")
        return {}
    server_public, pair = load_client_keys(args.server_keys, args.client_name or "default")
    return {"server_public_key": server_public, "client_keys": pair}


def main(argv: list[str] | None = None) -> int:
    """`python -m server.cli_serve [serve options]`: the server alone, without the full CLI."""
    parser = argparse.ArgumentParser(prog="restyle serve", description="Run the Restyle style server.")
    add_serve_arguments(parser)
    return run_serve(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
