"""The `restyle` command: stylize and draw at the shell, serve editors, make keys.

Bad input ends with one line on stderr and exit status 2, and nothing is written: every
output file is written beside its target and renamed into place when complete.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import signal
import sys
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import cli_serve
from .keys import KeysError

EXIT_BAD_INPUT = 2
EXIT_CANCELLED = 130


class UsageError(Exception):
    """Input the user can fix; printed as one line, exit status 2."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, unknown = parser.parse_known_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    if unknown:
        print(f"restyle {args.command}: unknown option {' '.join(unknown)} (see restyle {args.command} --help)",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return int(args.run(args))
    except UsageError as e:
        print(f"restyle {args.command}: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"restyle {args.command}: interrupted", file=sys.stderr)
        return EXIT_CANCELLED


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line, like every other refusal of the command line."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    from core.job import DrawJob, Job
    from core.schedule import DEFAULT_EARLY_ITERATIONS, DEFAULT_FINAL_ITERATIONS

    job, draw_job = _defaults(Job), _defaults(DrawJob)
    parser = _Parser(prog="restyle", description="Neural style transfer for Krita, GIMP and the shell.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    stylize = commands.add_parser("stylize", help="restyle a picture with one or more style images",
                                  description="Restyle CONTENT with the STYLE images and write OUT.")
    stylize.add_argument("content", help="the picture to restyle")
    stylize.add_argument("styles", nargs="*", metavar="STYLE", help="style images, blended (not needed with --region)")
    stylize.add_argument("-o", "--output", required=True,
                         help="where to write the result, in a folder that exists (.png keeps alpha and 16 bits)")
    stylize.add_argument("--style-weights", type=_floats, metavar="W,W,...", help="blend weights of the STYLE images")
    stylize.add_argument("--region", nargs=2, action="append", default=[], metavar=("MASK", "STYLE[,STYLE]"),
                         help="confine styles to a mask (its alpha, or its greyscale); repeatable; "
                              "pixels outside every mask keep the content")
    _add_engine_options(stylize, job)
    stylize.add_argument("--seed", type=_whole,
                         help=f"another seed, another variation (default {job['seed']}): 0 starts from the content "
                              "exactly, any other seed from the content under a faint grain, or seeds --init noise")
    stylize.add_argument("--iterations", type=_ints, metavar="N[,N...]",
                         help="iterations per stage, one number for all or one per stage (default "
                              f"{DEFAULT_EARLY_ITERATIONS} for each early stage, {DEFAULT_FINAL_ITERATIONS} for the last)")
    stylize.add_argument("--stages", type=_whole, help="number of coarse-to-fine stages (default: halve down to --min-size)")
    stylize.add_argument("--min-size", type=_whole, help="long side of the first stage in px")
    stylize.add_argument("--content-weight", type=_number, help="raw content weight (experts; overrides --strength)")
    stylize.add_argument("--style-weight", type=_number, help="raw style weight (experts; overrides --strength)")
    stylize.add_argument("--tv-weight", type=_number, help="raw total-variation weight (experts)")
    stylize.add_argument("--content-layers", type=_layers, metavar="LAYER[,..]",
                         help=f"default {','.join(job['content_layers'])}")
    stylize.add_argument("--style-layers", type=_layers, metavar="LAYER[:W][,..]",
                         help=f"default {','.join(job['style_layers'])} (equal weights)")
    stylize.add_argument("--preserve-colors", choices=_choices(Job, "preserve_colors"),
                         help="keep the content's colours: transfer luminance only, or recolour the style first")
    stylize.add_argument("--init", metavar="content|noise|blank|IMAGE",
                         help=f"where the optimisation starts (default {job['init']})")
    stylize.add_argument("--optimizer", choices=_choices(Job, "optimizer"),
                         help=f"lbfgs reaches a lower loss in as many iterations; adam keeps less in memory "
                              f"(default {job['optimizer']})")
    stylize.add_argument("--learning-rate", type=_positive, help="Adam's step size (default: fitted to the size)")
    stylize.add_argument("--pooling", choices=_choices(Job, "pooling"), help=POOLING_HELP.format(job["pooling"]))
    stylize.add_argument("--save-every", type=_whole, default=0, metavar="N",
                         help="also write the picture every N iterations, as OUT-stepNNNNN.png")
    cli_serve.add_remote_arguments(stylize)
    stylize.set_defaults(run=_run_stylize)

    draw = commands.add_parser("draw", help="drawing mode: rebuild a picture from white paper, shapes first",
                               description="Draw CONTENT (optionally in a STYLE), writing frames and an animation.")
    draw.add_argument("content", help="the picture to draw")
    draw.add_argument("styles", nargs="?", metavar="STYLE", help="optional style image")
    draw.add_argument("-o", "--output", required=True, help="the finished drawing, in a folder that exists")
    draw.add_argument("--frames", help="folder for the frames (default OUT's name + '-frames')")
    draw.add_argument("--animation", help="animated .webp or .gif (default OUT's name + '.webp')")
    draw.add_argument("--iterations", type=_whole, help=f"iterations per drawing stage (default {draw_job['iterations']})")
    draw.add_argument("--frame-every", type=_whole, metavar="N",
                      help=f"one frame every N iterations (default {draw_job['frame_every']})")
    draw.add_argument("--pooling", choices=_choices(DrawJob, "pooling"), help=POOLING_HELP.format(draw_job["pooling"]))
    _add_engine_options(draw, draw_job)
    draw.set_defaults(run=_run_draw)

    serve = commands.add_parser("serve", help="run the style server that Krita and GIMP talk to")
    cli_serve.add_serve_arguments(serve)
    serve.set_defaults(run=cli_serve.run_serve)

    keys = commands.add_parser("keys", help="make CurveZMQ keys for serving beyond this machine")
    cli_serve.add_keys_arguments(keys)
    keys.set_defaults(run=cli_serve.run_keys)
    return parser


POOLING_HELP = "how the network shrinks its feature maps: max is the textbook's, avg gives smoother texture (default {})"


def _defaults(job_type: type) -> dict[str, Any]:
    """A job's defaults as the engine writes them, so the command line never restates them."""
    return {f.name: f.default for f in dataclasses.fields(job_type) if f.default is not dataclasses.MISSING}


def _choices(job_type: type, name: str) -> list[str]:
    """The names a job's field takes, from the `Literal` the engine types it with."""
    hint = typing.get_type_hints(job_type)[name]
    literal = next(t for t in (hint, *typing.get_args(hint)) if typing.get_origin(t) is typing.Literal)
    return list(typing.get_args(literal))


def _add_engine_options(parser: argparse.ArgumentParser, defaults: dict[str, Any]) -> None:
    from core.job import Precision

    parser.add_argument("--size", type=_whole, help="long side of the result in px (default: the content's size)")
    parser.add_argument("--strength", type=_number,
                        help=f"0 keeps the content, 1 is style almost only (default {defaults['strength']})")
    parser.add_argument("--style-scale", type=_number,
                        help="style image size relative to the result: larger gives larger brush strokes "
                             f"(default {defaults['style_scale']})")
    machine = parser.add_argument_group("the machine and the network (not the style's weights)")
    machine.add_argument("--device", help="cuda, mps or cpu (default: the best there is)")
    machine.add_argument("--precision", choices=typing.get_args(Precision),
                         help="arithmetic of the network: auto picks bf16 or fp16 where the device computes it "
                              "natively, else fp32 (default auto)")
    cli_serve.add_memory_argument(machine, "most memory the job may use (default: what the device has free); a "
                                           "picture that does not fit runs in blocks, to the same result, more slowly")
    machine.add_argument("--weights", metavar="NETWORK",
                         help="the VGG19 network's trained weights: 'default' (torchvision's file, 548 MB, from "
                              "the torch hub cache), a .pth file, or random:SEED (tests only)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


_number = cli_serve.finite_number
_positive = cli_serve.positive_number


def _whole(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 0, got {text!r}")
    return value


def _floats(text: str) -> list[float]:
    return [_number(v) for v in text.split(",")]


def _ints(text: str) -> list[int]:
    return [_whole(v) for v in text.split(",")]


def _layers(text: str) -> dict[str, float]:
    layers: dict[str, float] = {}
    for item in text.split(","):
        name, _, weight = item.partition(":")
        try:
            layers[name.strip()] = _number(weight) if weight else 1.0
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(f"bad layer weight in {item!r}") from None
    return layers


def _given(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    """The flags the user gave, by the job field they set; the rest keep the engine's default."""
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


# -- stylize -----------------------------------------------------------------------


@dataclasses.dataclass
class _StylizeInput:
    content: Any  # imagefiles.Picture
    styles: list[tuple[str, Any, float]]  # (name, pixels, weight)
    regions: list[tuple[Any, list[tuple[str, Any, float]]]]  # (mask, styles)
    init: Any  # a mode's name, or pixels


def _run_stylize(args: argparse.Namespace) -> int:
    from .imagefiles import ImageFileError, check_output

    output = Path(args.output)
    if args.server:
        _check_remote(args)
    try:
        keys = cli_serve.client_keys_from_args(args)
    except KeysError as e:
        raise UsageError(str(e)) from None
    try:
        check_output(output)
        given = _read_stylize_input(args)
    except ImageFileError as e:
        raise UsageError(str(e)) from None
    job = _stylize_job(args, given)
    if args.server:
        return _stylize_remote(args, job, given, output, keys)
    return _stylize_here(args, job, given, output)


def _read_stylize_input(args: argparse.Namespace) -> _StylizeInput:
    from .imagefiles import load_image, load_mask, load_picture

    if args.region and args.styles:
        raise UsageError("give styles either as STYLE arguments or with --region MASK STYLE, not both")
    if not args.region and not args.styles:
        raise UsageError("give at least one STYLE image (or --region MASK STYLE)")
    if args.style_weights and len(args.style_weights) != len(args.styles):
        raise UsageError(f"{len(args.style_weights)} --style-weights for {len(args.styles)} style images")
    content = load_picture(args.content)
    style_weights = args.style_weights or [1.0] * len(args.styles)
    styles = [(Path(p).stem, load_image(p), w) for p, w in zip(args.styles, style_weights, strict=True)]
    regions = [(load_mask(mask), [(Path(p).stem, load_image(p), 1.0) for p in spec.split(",") if p])
               for mask, spec in args.region]
    init = args.init if args.init in (None, *_init_modes()) else load_image(args.init)
    return _StylizeInput(content, styles, regions, init)


def _init_modes() -> list[str]:
    from core.job import Job

    return _choices(Job, "init")


def _stylize_job(args: argparse.Namespace, given: _StylizeInput) -> Any:
    """The engine's job from the flags given: the one description both paths start from."""
    from core.balance import weights_for
    from core.job import Job, JobError, Region, StyleImage

    regions = (
        [Region([StyleImage(img, w, name) for name, img, w in given.styles])] if given.styles
        else [Region([StyleImage(img, w, name) for name, img, w in group], mask=mask) for mask, group in given.regions]
    )
    fields = _given(args, ["size", "strength", "style_scale", "preserve_colors", "optimizer", "learning_rate",
                           "min_size", "stages", "seed", "pooling", "memory_gb", "content_layers", "style_layers"])
    if args.iterations:
        fields["iterations"] = args.iterations[0] if len(args.iterations) == 1 else args.iterations
    if given.init is not None:
        fields["init"] = given.init
    raw = _given(args, ["content_weight", "style_weight", "tv_weight"])
    if raw:
        try:
            base = weights_for(fields.get("strength", Job.strength))
        except JobError as e:
            raise UsageError(str(e)) from None
        fields["weights"] = dataclasses.replace(base, **{k.removesuffix("_weight"): v for k, v in raw.items()})
    return Job(content=given.content.pixels, regions=regions, **fields)


def _stylize_here(args: argparse.Namespace, job: Any, given: _StylizeInput, output: Path) -> int:
    from core.job import JobError

    from .imagefiles import save_image

    encoding = given.content.encoding
    engine = _engine(args)
    try:
        result = _follow(lambda token: engine.run(job, token, image_every=args.save_every), args,
                         on_image=lambda ev: save_image(_frame_path(output, ev.step), _as_array(ev.image), encoding))
    except JobError as e:
        raise UsageError(str(e)) from None
    save_image(output, result.image, encoding)
    _report(args, output, result)
    return EXIT_CANCELLED if result.cancelled else 0


def _check_remote(args: argparse.Namespace) -> None:
    """Refuse, before anything is read or sent, the flags that cannot reach a server.

    A server's request (`restyle_client.request.Options`) has no place for these; the
    device, weights and memory are the server operator's to set.
    """
    operator = [_flag(n) for n in ("device", "precision", "weights", "memory_gb") if getattr(args, n) is not None]
    if operator:
        raise UsageError(f"{', '.join(operator)} cannot be used with --server: the server's operator sets "
                         f"{'them' if len(operator) > 1 else 'it'} (restyle serve {' '.join(operator)})")
    unsent = [_flag(n) for n in ("stages", "min_size", "pooling", "learning_rate", "content_layers", "style_layers",
                                 "content_weight", "style_weight", "tv_weight") if getattr(args, n) is not None]
    unsent += ["--save-every"] if args.save_every else []
    if unsent:
        them = "them" if len(unsent) > 1 else "it"
        raise UsageError(f"{', '.join(unsent)} cannot be used with --server: a server's request has no place for "
                         f"{them}; leave {them} out or run without --server")
    if args.init not in (None, *_init_modes()):
        raise UsageError("--init IMAGE cannot be used with --server: a server starts from the content, noise or "
                         "blank paper only")
    if args.iterations and len(args.iterations) > 1:
        raise UsageError("--iterations with a count per stage cannot be used with --server: a server's request "
                         "takes one count for every stage")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _stylize_remote(args: argparse.Namespace, job: Any, given: _StylizeInput, output: Path, keys: dict) -> int:
    from restyle_client import events as ev
    from restyle_client.client import ServerUnavailable
    from restyle_client.request import Options, Region, Request, RequestError, Style

    from .imagefiles import save_image
    from .pixels import from_array, to_array
    from .remote import RemoteError, remote_stylize

    size = _fitted(job.content.shape, job.size)
    sample = given.content.encoding.sample.value
    wire_regions = [
        Region([Style(from_array(s.image, sample), s.weight, s.name) for s in region.styles],
               mask=None if region.mask is None else from_array(_resized(region.mask[..., None], size), sample))
        for region in job.regions
    ]
    # The engine's size becomes the content's own, so the server's full-size result is the size asked for.
    options = Options(size=None, strength=job.strength, style_scale=job.style_scale,
                      preserve_colors=job.preserve_colors, seed=job.seed,
                      iterations=job.iterations, init=job.init, optimizer=job.optimizer, preview_every=0)
    request = Request(content=from_array(_resized(job.content, size), sample), regions=wire_regions, options=options)
    try:
        request.validate()
        bar = _Bar(args.quiet)
        result = remote_stylize(args.server, request, on_event=lambda e: bar.update_remote(e, ev),
                                on_cancel=lambda: _say_cancelling(bar), on_hello=lambda c: _say_server(args, c), **keys)
        bar.close()
    except (RequestError, RemoteError, ServerUnavailable) as e:
        raise UsageError(str(e)) from None
    save_image(output, to_array(result.pixels), given.content.encoding)
    if not args.quiet:
        print(f"wrote {output}" + (" (cancelled: the picture as it was)" if result.cancelled else ""), file=sys.stderr)
    return EXIT_CANCELLED if result.cancelled else 0


def _say_server(args: argparse.Namespace, capabilities: dict) -> None:
    """The same line as the in-process path's: where the job runs, and on what weights,
    so that "random weights, for tests only" reaches the artist either way."""
    if not args.quiet:
        print(f"server {args.server}: device {capabilities.get('device')}, {capabilities.get('precision')}, "
              f"weights: {capabilities.get('weights')}", file=sys.stderr)


def _say_cancelling(bar: _Bar) -> None:
    bar.close()
    print("cancelling: waiting for the picture so far (Ctrl-C again stops at once)", file=sys.stderr)


def _fitted(shape: tuple[int, ...], size: int | None) -> tuple[int, int]:
    from core.images import output_size
    from core.job import JobError

    try:
        return output_size(shape[0], shape[1], size)
    except JobError as e:
        raise UsageError(str(e)) from None


def _resized(array: Any, size: tuple[int, int]) -> Any:
    """The engine's own resizing, so a picture sent at the job's size matches the one run here."""
    import torch

    from core.images import resize, to_array, to_tensor

    if array.shape[:2] == size:
        return array
    with torch.no_grad():
        return to_array(resize(to_tensor(array, torch.device("cpu")), size))


# -- draw --------------------------------------------------------------------------


def _run_draw(args: argparse.Namespace) -> int:
    from core.job import DrawJob, JobError, StyleImage

    from .imagefiles import ANIMATION_FORMATS, ImageFileError, check_output, load_image, load_picture

    output = Path(args.output)
    frames_dir = Path(args.frames) if args.frames else output.with_name(output.stem + "-frames")
    animation = Path(args.animation) if args.animation else output.with_suffix(".webp")
    try:
        check_output(output)
        check_output(animation, ANIMATION_FORMATS)
        _check_frames_folder(frames_dir)
        if animation.resolve() == output.resolve():
            raise UsageError(f"{output}: the drawing and its animation would be the same file; give --animation")
        content = load_picture(args.content)
        styles = [StyleImage(load_image(args.styles), 1.0, Path(args.styles).stem)] if args.styles else []
    except ImageFileError as e:
        raise UsageError(str(e)) from None
    if args.frame_every is not None and args.frame_every < 1:
        raise UsageError("--frame-every must be at least 1")
    fields = _given(args, ["size", "strength", "style_scale", "iterations", "frame_every", "pooling", "memory_gb"])
    job = DrawJob(content=content.pixels, styles=styles, **fields)
    engine = _engine(args)
    frames: list[Any] = []
    try:
        result = _follow(lambda token: engine.draw(job, token), args, on_image=lambda ev: frames.append(_as_array(ev.image)))
    except JobError as e:
        raise UsageError(str(e)) from None
    _write_drawing(output, frames_dir, animation, frames, result.image, content.encoding)
    if not args.quiet:
        print(f"wrote {output}, {len(frames)} frames in {frames_dir}, and {animation}", file=sys.stderr)
    return EXIT_CANCELLED if result.cancelled else 0


def _check_frames_folder(frames_dir: Path) -> None:
    from .imagefiles import ImageFileError, check_folder

    if frames_dir.exists() and not frames_dir.is_dir():
        raise ImageFileError(f"{frames_dir}: is a file; the frames need a folder")
    parent = frames_dir.parent if str(frames_dir.parent) else Path(".")
    check_folder(frames_dir if frames_dir.is_dir() else parent, frames_dir)


def _write_drawing(output: Path, frames_dir: Path, animation: Path, frames: list, image: Any, encoding: Any) -> None:
    """The frames, the animation and the drawing; a failure half-way takes back what it wrote."""
    from .imagefiles import save_animation, save_image

    made_folder = not frames_dir.exists()
    written: list[Path] = []
    try:
        frames_dir.mkdir(exist_ok=True)
        for index, frame in enumerate(frames, 1):
            save_image(frames_dir / f"frame-{index:04d}.png", frame, encoding)
            written.append(frames_dir / f"frame-{index:04d}.png")
        save_animation(animation, frames + [image] * 8)  # linger on the finished drawing
        written.append(animation)
        save_image(output, image, encoding)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        if made_folder:
            shutil.rmtree(frames_dir, ignore_errors=True)
        raise


# -- shared ------------------------------------------------------------------------


def _engine(args: argparse.Namespace) -> Any:
    from core.engine import StyleTransfer
    from core.job import JobError
    from core.weights import WeightsError

    try:
        engine = StyleTransfer(**_given(args, ["weights", "device", "precision"]))
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
    """A tqdm bar over the job's work, not its iterations: an iteration of the last stage
    weighs several of the first, so the percentage and the time left hold throughout.
    The stage, its size and the loss stand beside it, in-process and from a server alike."""

    STEPS = 1000

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: Any = None

    def update(self, fraction: float, stage: str, loss: float | None) -> None:
        if self.quiet:
            return
        if self.bar is None:
            from tqdm import tqdm

            # smoothing=0: time left from the average pace so far, as the engine reckons it.
            self.bar = tqdm(total=self.STEPS, file=sys.stderr, dynamic_ncols=True, smoothing=0,
                            bar_format="{desc}{percentage:3.0f}%|{bar}| {elapsed}<{remaining}{postfix}")
        self.bar.set_description(stage, refresh=False)
        if loss is not None:
            self.bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
        self.bar.update(max(0, round(fraction * self.STEPS) - self.bar.n))

    def update_local(self, event: Any) -> None:
        self.update(event.fraction, _stage_text(event.stage, event.stages, event.size, event.iteration,
                                                event.iterations, event.blocks), event.losses.get("total"))

    def update_remote(self, event: Any, ev: Any) -> None:
        if isinstance(event, ev.Progress):
            self.update(event.fraction, _stage_text(event.stage, event.stages, event.size, event.iteration,
                                                    event.iterations, event.blocks), event.losses.get("total"))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _stage_text(stage: int, stages: int, size: tuple[int, int] | None, iteration: int, iterations: int,
                blocks: int) -> str:
    where = f" {size[1]}x{size[0]}" if size else ""
    split = f" in {blocks} blocks" if blocks > 1 else ""
    return f"stage {stage}/{stages}{where}{split}, iteration {iteration}/{iterations}"

if __name__ == "__main__":
    sys.exit(main())
