"""The `restyle` command: stylize and draw at the shell, serve editors, make keys.

Bad input ends with one line on stderr and exit status 2, and nothing is written: every
output file is written beside its target and renamed into place when complete.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import cli_serve

EXIT_BAD_INPUT = 2
EXIT_CANCELLED = 130


class UsageError(Exception):
    """Input the user can fix; printed as one line, exit status 2."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(args.run(args))
    except UsageError as e:
        print(f"restyle {args.command}: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"restyle {args.command}: interrupted", file=sys.stderr)
        return EXIT_CANCELLED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="restyle", description="Neural style transfer for Krita, GIMP and the shell.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    stylize = commands.add_parser("stylize", help="restyle a picture with one or more style images",
                                  description="Restyle CONTENT with the STYLE images and write OUT.")
    stylize.add_argument("content", help="the picture to restyle")
    stylize.add_argument("styles", nargs="*", metavar="STYLE", help="style images, blended (not needed with --region)")
    stylize.add_argument("-o", "--output", required=True, help="where to write the result (.png keeps alpha)")
    stylize.add_argument("--style-weights", type=_floats, metavar="W,W,...", help="blend weights of the STYLE images")
    stylize.add_argument("--region", nargs=2, action="append", default=[], metavar=("MASK", "STYLE[,STYLE]"),
                         help="confine styles to a mask (its alpha, or its greyscale); repeatable; "
                              "pixels outside every mask keep the content")
    _add_engine_options(stylize)
    stylize.add_argument("--size", type=int, help="long side of the result in px (default: the content's size)")
    stylize.add_argument("--iterations", type=_ints, metavar="N[,N...]", help="iterations per stage (one number for all)")
    stylize.add_argument("--stages", type=int, help="number of coarse-to-fine stages (default: halve down to --min-size)")
    stylize.add_argument("--min-size", type=int, help="long side of the first stage in px (default 128)")
    stylize.add_argument("--content-weight", type=float, help="raw content weight (experts; overrides --strength)")
    stylize.add_argument("--style-weight", type=float, help="raw style weight (experts; overrides --strength)")
    stylize.add_argument("--tv-weight", type=float, help="raw total-variation weight (experts)")
    stylize.add_argument("--content-layers", type=_layers, metavar="LAYER[,..]", help="default relu4_2")
    stylize.add_argument("--style-layers", type=_layers, metavar="LAYER[:W][,..]",
                         help="default relu1_1,relu2_1,relu3_1,relu4_1,relu5_1 (equal weights)")
    stylize.add_argument("--preserve-colors", default="none", choices=["none", "luminance", "stats", "histogram"],
                         help="keep the content's colours: transfer luminance only, or recolour the style first")
    stylize.add_argument("--init", default="content", metavar="content|noise|blank|IMAGE",
                         help="where the optimisation starts (default content)")
    stylize.add_argument("--optimizer", default="lbfgs", choices=["lbfgs", "adam"])
    stylize.add_argument("--learning-rate", type=float, help="Adam's step size (default 0.02)")
    stylize.add_argument("--pooling", default="max", choices=["max", "avg"])
    stylize.add_argument("--save-every", type=int, default=0, metavar="N",
                         help="also write the picture every N iterations, as OUT-stepNNNNN.png")
    cli_serve.add_remote_arguments(stylize)
    stylize.set_defaults(run=_run_stylize)

    draw = commands.add_parser("draw", help="drawing mode: rebuild a picture from white paper, shapes first",
                               description="Draw CONTENT (optionally in a STYLE), writing frames and an animation.")
    draw.add_argument("content", help="the picture to draw")
    draw.add_argument("styles", nargs="?", metavar="STYLE", help="optional style image")
    draw.add_argument("-o", "--output", required=True, help="the finished drawing (.png)")
    draw.add_argument("--frames", help="folder for the frames (default OUT's name + '-frames')")
    draw.add_argument("--animation", help="animated .webp or .gif (default OUT's name + '.webp')")
    draw.add_argument("--size", type=int, help="long side in px (default: the content's size)")
    draw.add_argument("--iterations", type=int, default=60, help="iterations per drawing stage (default 60)")
    draw.add_argument("--frame-every", type=int, default=5, metavar="N", help="one frame every N iterations")
    draw.add_argument("--pooling", default="max", choices=["max", "avg"])
    _add_engine_options(draw)
    draw.set_defaults(run=_run_draw)

    serve = commands.add_parser("serve", help="run the style server that Krita and GIMP talk to")
    cli_serve.add_serve_arguments(serve)
    serve.set_defaults(run=cli_serve.run_serve)

    keys = commands.add_parser("keys", help="make CurveZMQ keys for serving beyond this machine")
    cli_serve.add_keys_arguments(keys)
    keys.set_defaults(run=cli_serve.run_keys)
    return parser


def _add_engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strength", type=float, default=0.5, help="0 keeps the content, 1 is style almost only (default 0.5)")
    parser.add_argument("--style-scale", type=float, default=1.0,
                        help="style image size relative to the result: larger gives larger brush strokes (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", help="cuda, mps or cpu (default: the best there is)")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    cli_serve.add_memory_argument(parser, "most memory the job may use (default: what the device has free); a "
                                          "picture that does not fit runs in blocks, to the same result, more slowly")
    parser.add_argument("--weights", default="default",
                        help="VGG19 weights: 'default' (torchvision's, from the torch hub cache), a .pth file, "
                             "or random:SEED (tests only)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None


def _ints(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas, got {text!r}") from None


def _layers(text: str) -> dict[str, float]:
    layers: dict[str, float] = {}
    for item in text.split(","):
        name, _, weight = item.partition(":")
        try:
            layers[name.strip()] = float(weight) if weight else 1.0
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad layer weight in {item!r}") from None
    return layers


# -- stylize -----------------------------------------------------------------------


def _run_stylize(args: argparse.Namespace) -> int:
    from .imagefiles import ImageFileError, image_format, load_image, load_mask

    output = Path(args.output)
    try:
        image_format(output)
        content = load_image(args.content)
        if args.region and args.styles:
            raise UsageError("give styles either as STYLE arguments or with --region MASK STYLE, not both")
        if not args.region and not args.styles:
            raise UsageError("give at least one STYLE image (or --region MASK STYLE)")
        if args.style_weights and len(args.style_weights) != len(args.styles):
            raise UsageError(f"{len(args.style_weights)} --style-weights for {len(args.styles)} style images")
        style_weights = args.style_weights or [1.0] * len(args.styles)
        styles = [(Path(p).stem, load_image(p), w) for p, w in zip(args.styles, style_weights, strict=True)]
        regions = [(load_mask(mask), [(Path(p).stem, load_image(p), 1.0) for p in spec.split(",") if p])
                   for mask, spec in args.region]
        init: Any = args.init if args.init in ("content", "noise", "blank") else load_image(args.init)
    except ImageFileError as e:
        raise UsageError(str(e)) from None
    if args.save_every < 0:
        raise UsageError("--save-every must be 0 (off) or a positive number of iterations")

    if args.server:
        if args.memory_gb is not None:
            raise UsageError("--memory-gb cannot be used with --server: the server's operator sets its budget "
                             "(restyle serve --memory-gb)")
        return _stylize_remote(args, content, styles, regions, output)
    return _stylize_here(args, content, styles, regions, init, output)


def _stylize_here(args: argparse.Namespace, content: Any, styles: list, regions: list, init: Any, output: Path) -> int:
    from core.balance import weights_for
    from core.job import Job, JobError, Region, StyleImage, Weights

    from .imagefiles import save_image

    job_regions = (
        [Region([StyleImage(img, w, name) for name, img, w in styles])] if styles
        else [Region([StyleImage(img, w, name) for name, img, w in group], mask=mask) for mask, group in regions]
    )
    weights = None
    if args.content_weight is not None or args.style_weight is not None or args.tv_weight is not None:
        base = weights_for(args.strength) if 0 <= args.strength <= 1 else Weights(1.0, 1.0, 1.0)
        weights = Weights(
            content=base.content if args.content_weight is None else args.content_weight,
            style=base.style if args.style_weight is None else args.style_weight,
            tv=base.tv if args.tv_weight is None else args.tv_weight,
        )
    iterations = args.iterations[0] if args.iterations and len(args.iterations) == 1 else args.iterations
    job = Job(
        content=content, regions=job_regions, size=args.size, strength=args.strength, weights=weights,
        style_scale=args.style_scale, preserve_colors=args.preserve_colors, init=init, optimizer=args.optimizer,
        learning_rate=args.learning_rate, iterations=iterations, min_size=args.min_size, stages=args.stages,
        seed=args.seed, pooling=args.pooling, memory_gb=args.memory_gb,
    )
    if args.content_layers:
        job.content_layers = list(args.content_layers)
    if args.style_layers:
        job.style_layers = args.style_layers
    engine = _engine(args)
    try:
        result = _follow(lambda token: engine.run(job, token, image_every=args.save_every), args, on_image=lambda ev: save_image(_frame_path(output, ev.step), _as_array(ev.image)))
    except JobError as e:
        raise UsageError(str(e)) from None
    save_image(output, result.image)
    _report(args, output, result)
    return EXIT_CANCELLED if result.cancelled else 0


def _stylize_remote(args: argparse.Namespace, content: Any, styles: list, regions: list, output: Path) -> int:
    from restyle_client import events as ev
    from restyle_client.client import ServerUnavailable
    from restyle_client.request import Options, Region, Request, RequestError, Style

    from .imagefiles import save_image
    from .keys import KeysError
    from .pixels import from_array, to_array
    from .remote import RemoteError, remote_stylize

    def style(name: str, img: Any, weight: float) -> Style:
        return Style(from_array(img, "u8"), weight, name)

    wire_regions = (
        [Region([style(*s) for s in styles])] if styles
        else [Region([style(*s) for s in group], mask=from_array(mask[..., None], "u8")) for mask, group in regions]
    )
    options = Options(
        size=args.size, strength=args.strength, style_scale=args.style_scale, preserve_colors=args.preserve_colors,
        seed=args.seed, iterations=args.iterations[-1] if args.iterations else None,
        init=args.init if args.init in ("content", "noise", "blank") else "content", optimizer=args.optimizer,
        preview_every=0,
    )
    request = Request(content=from_array(content, "u16"), regions=wire_regions, options=options)
    try:
        request.validate()
        keys = cli_serve.client_keys_from_args(args)
        bar = _Bar(args.quiet)
        result = remote_stylize(args.server, request, on_event=lambda e: bar.update_remote(e, ev), **keys)
        bar.close()
    except (RequestError, RemoteError, ServerUnavailable, KeysError) as e:
        raise UsageError(str(e)) from None
    save_image(output, to_array(result.pixels))
    if not args.quiet:
        print(f"wrote {output}" + (" (cancelled: the picture as it was)" if result.cancelled else ""), file=sys.stderr)
    return EXIT_CANCELLED if result.cancelled else 0


# -- draw --------------------------------------------------------------------------


def _run_draw(args: argparse.Namespace) -> int:
    from core.job import DrawJob, JobError, StyleImage

    from .imagefiles import ImageFileError, image_format, load_image, save_animation, save_image

    output = Path(args.output)
    frames_dir = Path(args.frames) if args.frames else output.with_name(output.stem + "-frames")
    animation = Path(args.animation) if args.animation else output.with_suffix(".webp")
    try:
        image_format(output)
        if image_format(animation) not in ("WEBP", "GIF"):
            raise UsageError(f"{animation}: the animation must be .webp or .gif")
        content = load_image(args.content)
        styles = [StyleImage(load_image(args.styles), 1.0, Path(args.styles).stem)] if args.styles else []
    except ImageFileError as e:
        raise UsageError(str(e)) from None
    if args.frame_every < 1:
        raise UsageError("--frame-every must be at least 1")
    job = DrawJob(content=content, styles=styles, size=args.size, strength=args.strength,
                  style_scale=args.style_scale, iterations=args.iterations, seed=args.seed,
                  frame_every=args.frame_every, pooling=args.pooling, memory_gb=args.memory_gb)
    engine = _engine(args)
    frames: list[Any] = []
    try:
        result = _follow(lambda token: engine.draw(job, token), args, on_image=lambda ev: frames.append(_as_array(ev.image)))
    except JobError as e:
        raise UsageError(str(e)) from None
    frames_dir.mkdir(parents=True, exist_ok=True)
    for index, frame in enumerate(frames, 1):
        save_image(frames_dir / f"frame-{index:04d}.png", frame)
    save_animation(animation, frames + [result.image] * 8)  # linger on the finished drawing
    save_image(output, result.image)
    if not args.quiet:
        print(f"wrote {output}, {len(frames)} frames in {frames_dir}, and {animation}", file=sys.stderr)
    return EXIT_CANCELLED if result.cancelled else 0


# -- shared ------------------------------------------------------------------------


def _engine(args: argparse.Namespace) -> Any:
    from core.engine import StyleTransfer
    from core.job import JobError
    from core.weights import WeightsError

    try:
        engine = StyleTransfer(weights=args.weights, device=args.device, precision=args.precision)
    except (WeightsError, JobError) as e:
        raise UsageError(str(e)) from None
    if not args.quiet:
        print(f"device {engine.device}, {engine.precision}, weights: {engine.weights_label}", file=sys.stderr)
    return engine


def _follow(start: Any, args: argparse.Namespace, on_image: Any) -> Any:
    """Drive the engine to its Result, drawing the bar.

    The first Ctrl-C cancels the job through its token, so the engine ends with the
    picture as it was and the result is still written; a second one stops at once.
    """
    from core.events import CancelToken, Result

    token = CancelToken()

    def interrupt(signum: int, frame: Any) -> None:
        token.cancel("interrupted")
        signal.signal(signal.SIGINT, previous)

    previous = signal.signal(signal.SIGINT, interrupt)
    bar = _Bar(args.quiet)
    try:
        for event in start(token):
            if isinstance(event, Result):
                return event
            bar.update_local(event)
            if event.image is not None:
                on_image(event)
    finally:
        bar.close()
        signal.signal(signal.SIGINT, previous)
    raise UsageError("the engine stopped without a result")


def _as_array(image: Any) -> Any:
    from core.images import to_array

    return to_array(image.unsqueeze(0))  # progress pictures are (C, H, W)


def _frame_path(output: Path, step: int) -> Path:
    return output.with_name(f"{output.stem}-step{step:05d}{output.suffix}")


def _report(args: argparse.Namespace, output: Path, result: Any) -> None:
    if args.quiet:
        return
    losses = ", ".join(f"{k} {v:.4g}" for k, v in result.losses.items())
    state = "cancelled, wrote the picture as it was" if result.cancelled else "done"
    print(f"{state}: {output} after {result.steps} iterations in {result.elapsed:.1f} s ({losses})", file=sys.stderr)


class _Bar:
    """A tqdm bar over the whole job's iterations, with the stage and loss beside it."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: Any = None

    def _ensure(self, total: int) -> Any:
        if self.bar is None and not self.quiet:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="it", file=sys.stderr, dynamic_ncols=True)
        return self.bar

    def update_local(self, event: Any) -> None:
        bar = self._ensure(event.steps)
        if bar is not None:
            blocks = f" in {event.blocks} blocks" if event.blocks > 1 else ""
            bar.set_description(f"stage {event.stage}/{event.stages} {event.size[1]}x{event.size[0]}{blocks}")
            bar.set_postfix(loss=f"{event.losses.get('total', 0):.4g}", refresh=False)
            bar.update(event.step - bar.n)

    def update_remote(self, event: Any, ev: Any) -> None:
        if isinstance(event, ev.Progress):
            bar = self._ensure(event.steps)
            if bar is not None:
                blocks = f" in {event.blocks} blocks" if event.blocks > 1 else ""
                bar.set_description(f"stage {event.stage}/{event.stages}{blocks}")
                bar.update(event.step - bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


if __name__ == "__main__":
    sys.exit(main())
