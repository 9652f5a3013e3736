"""The style-transfer engine: Gatys et al.'s optimisation, run coarse to fine.

`StyleTransfer` loads the network once and runs any number of jobs; each job is a
generator of events (core/events.py), which is the seam every front end uses.  The
optimised image lives in RGB [0, 1]; only the network's copy is normalised.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import alpha as alpha_ops
from . import color, memory
from . import drawing as drawing_ladder
from .balance import weights_for
from .blocked import BlockedObjective, StyleRegion, blocked_grams
from .blocks import grid, halo, total_crop
from .device import autocast_dtype, keep_buffers_in_heap, pick_device
from .events import CancelToken, Event, Progress, Result
from .images import MIN_SIDE, check_image, fit_long_side, output_size, resize, to_array, to_tensor
from .job import MAX_SEED, MAX_STYLE_WEIGHT, STYLE_SCALE, DrawJob, Job, JobError, Region, StyleImage, Weights
from .losses import ContentLoss, StyleLoss, gram, tv_loss
from .masks import check_mask, composite, coverage
from .optimize import Objective, by_autograd, optimize
from .pace import PaceMeter
from .schedule import iterations_per_stage, ladder
from .spill import Spill
from .targets import TargetCache, blend, style_targets
from .vgg import ScaledAvgPool2d, VGGFeatures, check_layers, feature_size
from .weights import load_features

SEED_GRAIN = 0.05  # the grain a non-zero seed adds to a content start, in [0, 1] units
CALIBRATION_SIDE = 256
CALIBRATION_ITERATIONS = 8


@dataclass
class _Region:
    styles: list[torch.Tensor]
    blend_weights: list[float]
    mask: torch.Tensor | None  # (1, 1, H, W) at the content's full size
    weight: float


@dataclass
class _Prepared:
    """A job checked and turned into tensors once, before any stage runs."""

    original: torch.Tensor  # content RGB exactly as given
    filled: torch.Tensor  # content RGB with the colour under transparency replaced
    seen: torch.Tensor  # what the network is shown: `filled`, or its luminance
    alpha: torch.Tensor | None
    regions: list[_Region]
    out_size: tuple[int, int]
    weights: Weights
    content_layers: dict[str, float]
    style_layers: dict[str, float]
    luminance_only: bool
    budget: float | None  # bytes the job may use; None where the device cannot tell
    # What the job's pictures hold in memory, where a stage too large for the budget can
    # keep its full-size state in files instead (the CPU); None where it cannot.
    input_bytes: float | None

    @property
    def full_size(self) -> tuple[int, int]:
        return (self.original.shape[-2], self.original.shape[-1])


@dataclass
class _Stage:
    """One run of the optimiser: at one size, against one set of layers."""

    size: tuple[int, int]
    iterations: int
    optimizer: str
    learning_rate: float | None
    content_layers: dict[str, float]
    style_layers: dict[str, float]
    weights: Weights


class StyleTransfer:
    def __init__(
        self,
        weights: str = "default",
        device: str | None = None,
        precision: str = "auto",
        style_cache: TargetCache | None = None,
        restarts: bool = True,
        memory_gb: float | None = None,
    ) -> None:
        memory.check_budget(memory_gb)
        self.memory_gb = memory_gb
        self.device = pick_device(device)
        self.autocast = autocast_dtype(self.device, precision)
        self.precision = "fp32" if self.autocast is None else str(self.autocast).replace("torch.", "")
        loaded = load_features(weights)
        self.weights_label = loaded.label
        self.style_cache = style_cache
        self.restarts = restarts
        self.pace = PaceMeter()
        channels_last = self.device.type in ("cpu", "cuda")
        features = loaded.features.to(self.device)
        if channels_last:
            features = features.to(memory_format=torch.channels_last)
        # Both poolings share one set of convolution weights.
        avg = nn.Sequential(*[ScaledAvgPool2d() if isinstance(m, nn.MaxPool2d) else m for m in features])
        # .to() again for the normalisation buffers, which VGGFeatures makes on the CPU.
        self._networks = {"max": VGGFeatures(features, channels_last).to(self.device),
                          "avg": VGGFeatures(avg, channels_last).to(self.device)}
        self._key = (weights, self.precision)
        if self.device.type == "cpu":
            keep_buffers_in_heap()

    def features(self, image: torch.Tensor, layers: Sequence[str], pooling: str = "max") -> dict[str, torch.Tensor]:
        with self._autocast():
            return self._networks[pooling](image, layers)

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast)

    # -- stylize ---------------------------------------------------------------------

    def run(
        self,
        job: Job,
        cancel: CancelToken | None = None,
        image_every: int = 0,
    ) -> Iterator[Event]:
        """Stylize: yields a Progress per iteration and ends with one Result, also on cancel."""
        prep = self._prepare(job)
        final_size = prep.full_size if job.full_resolution else prep.out_size
        sizes, iterations = _schedule(job, prep)
        if _unchanged(job, prep.weights):
            # It comes back as it was given, the colour under partial transparency included.
            content = prep.original if prep.alpha is None else torch.cat([prep.original, prep.alpha], 1)
            yield Result(to_array(resize(content, final_size, up="bilinear")), False, {}, 0.0, 0)
            return
        stages = [_Stage(size, count, job.optimizer, job.learning_rate, prep.content_layers, prep.style_layers,
                         prep.weights) for size, count in zip(sizes, iterations, strict=True)]
        yield from self._stages(prep, stages, self._initial_image(job, prep, sizes[0]), job, cancel,
                                _ImageTicker(image_every), final_size, detail=isinstance(job.init, str) and job.init == "content")

    def calibrate(self) -> None:
        """Measure this device's pace on a small job of two sizes, so that the first
        estimate anyone sees is this device's and not a guess."""
        rng = np.random.default_rng(0)
        picture = rng.random((CALIBRATION_SIDE, CALIBRATION_SIDE, 3), dtype=np.float32)
        job = Job(content=picture, regions=[Region([StyleImage(picture)])], stages=2,
                  min_size=CALIBRATION_SIDE // 2, iterations=CALIBRATION_ITERATIONS)
        for _ in self.run(job):
            pass

    def check(self, job: Job) -> None:
        """Refuses, with a JobError that says why, a job that could not run, before any
        of its work: a server can answer at once instead of after the queue."""
        _schedule(job, self._prepare(job))

    def _stages(
        self, prep: _Prepared, stages: list[_Stage], x: torch.Tensor, job: Job, cancel: CancelToken | None,
        ticker: _ImageTicker, final_size: tuple[int, int], detail: bool,
    ) -> Iterator[Event]:
        """The one optimisation loop of stylizing and drawing, stage after stage."""
        cancel = cancel or CancelToken()
        start = time.perf_counter()
        steps = sum(stage.iterations for stage in stages)
        step = 0
        # Every stage's plan up front: a stage that cannot fit is refused before any work,
        # and the work of the whole job is known from the first progress event on.
        plans = [self._stage_plan(prep, stage) for stage in stages]
        pixels = [_pixels(stage.size, plan) for stage, plan in zip(stages, plans, strict=True)]
        costs = [self.pace.weight(p) for p in pixels]
        total_work = sum(cost * stage.iterations for cost, stage in zip(costs, stages, strict=True))
        work = 0.0
        losses: dict[str, float] = {}
        previous: tuple[int, int] | None = None
        objective: Objective | None = None
        stream: Iterator | None = None
        spill: Spill | None = None
        try:
            for number, (stage, plan, cost, stage_pixels) in enumerate(zip(stages, plans, costs, pixels, strict=True), 1):
                x = self._upsample(x.detach(), stage.size, previous, prep, detail).contiguous()
                spill = Spill() if plan.spilled else None
                if spill is not None:
                    x = spill.copy(x)
                x.requires_grad_(True)
                previous = stage.size
                objective = self._stylize_objective(prep, stage, job, plan, cancel, spill)
                stream = optimize(x, objective, stage.iterations, plan.optimizer, stage.learning_rate, cancel,
                                  self.restarts, plan.history, spill, plan.compact)
                done, first_done = 0, 0.0
                for done, losses in stream:
                    step += 1
                    work += cost
                    elapsed = time.perf_counter() - start
                    first_done = first_done or time.perf_counter()
                    image = self._picture(x, prep, stage.size, spill) if ticker.due(step, steps) else None
                    yield Progress(number, len(stages), stage.size, done, stage.iterations, step, steps, losses,
                                   elapsed, image, plan.blocks, work, total_work)
                objective, stream = None, None  # freed before the next stage builds its own
                if done == stage.iterations and done > 1 and not cancel.cancelled:
                    # From the end of the first iteration, which also pays for the stage's
                    # set-up (the styles' statistics, the network's first pass at this size),
                    # to the stage's last measurement.
                    self.pace.observe(stage_pixels, (time.perf_counter() - first_done) / (done - 1))
                if cancel.cancelled:
                    break
        except RuntimeError as error:  # out of memory, above all
            if step == 0:
                raise
            # A job that fails half-way still hands back the picture it had made.
            cancel.cancel(f"failed: {error}")
        # A failed stage's gradient and content features are not needed to render the
        # result; at 8192 px they are 2.9 GB, so they go first.
        x, objective, stream = x.detach(), None, None
        if spill is not None and final_size == tuple(x.shape[-2:]) == prep.full_size:
            result = self._render_in_bands(x, prep, spill)
        else:
            result = to_array(self._render(x, prep, final_size))
        yield Result(
            image=result,
            cancelled=cancel.cancelled,
            losses=losses,
            elapsed=time.perf_counter() - start,
            steps=step,
            reason=cancel.reason if cancel.cancelled else "",
        )

    def evaluate(self, job: Job, image: np.ndarray) -> dict[str, float]:
        """The job's loss terms for a picture at the job's output size.

        Lets two runs be compared on one scale, whatever precision or schedule made them
        (bench/ compares the textbook single-scale run with the default schedule so).
        """
        terms, _, _ = self._measure(job, image, want_grad=False)
        return terms

    def gradient(self, job: Job, image: np.ndarray) -> tuple[dict[str, float], np.ndarray, int]:
        """The loss terms, d(total)/d(picture) as an (H, W, 3) array, and the number of
        blocks it was computed in, under the job's memory budget.

        Whole or in blocks, this is the same number: tests hold the engine to that, and
        bench/ times an iteration with it.
        """
        terms, x, blocks = self._measure(job, image, want_grad=True)
        assert x.grad is not None
        return terms, x.grad[0].permute(1, 2, 0).cpu().numpy().copy(), blocks

    def _measure(self, job: Job, image: np.ndarray, want_grad: bool) -> tuple[dict[str, float], torch.Tensor, int]:
        prep = self._prepare(job)
        x = resize(to_tensor(check_image(image, "the image")[..., :3], self.device), prep.out_size)
        if prep.luminance_only:
            x = color.luminance(x)
        x = x.contiguous().requires_grad_(want_grad)
        stage = _Stage(prep.out_size, 0, job.optimizer, None, prep.content_layers, prep.style_layers, prep.weights)
        plan = self._stage_plan(prep, stage)
        spill = Spill() if plan.spilled else None
        total, terms = self._stylize_objective(prep, stage, job, plan, None, spill)(x, want_grad)
        return {**{k: float(v) for k, v in terms.items()}, "total": float(total)}, x, plan.blocks

    def _stage_plan(self, prep: _Prepared, stage: _Stage) -> memory.Plan:
        """How a stage fits the job's budget; bench/ and tests set another plan here."""
        return _plan(stage.size, prep.budget, stage.optimizer, stage.content_layers, stage.style_layers, prep.input_bytes)

    def _budget(self, job_memory_gb: float | None) -> float | None:
        memory.check_budget(job_memory_gb)
        return memory.budget_bytes(self.device, job_memory_gb, self.memory_gb)

    def _prepare(self, job: Job, styles_required: bool = True) -> _Prepared:
        content = check_image(job.content, "the content image")
        height, width = content.shape[:2]
        if styles_required and (not job.regions or not any(r.styles for r in job.regions)):
            raise JobError("give at least one style image")
        if job.preserve_colors not in ("none", "luminance", "stats", "histogram"):
            raise JobError(f"unknown preserve-colors mode {job.preserve_colors!r}; use none, luminance, stats or histogram")
        if job.optimizer not in ("lbfgs", "adam"):
            raise JobError(f"unknown optimizer {job.optimizer!r}; use lbfgs or adam")
        if isinstance(job.seed, bool) or not isinstance(job.seed, int) or not 0 <= job.seed <= MAX_SEED:
            raise JobError(f"seed must be a whole number from 0 to {MAX_SEED}, got {job.seed}")
        if isinstance(job.init, str) and job.init not in ("content", "noise", "blank"):
            raise JobError(f"unknown init {job.init!r}; use content, noise, blank or an image")
        if job.pooling not in ("max", "avg"):
            raise JobError(f"unknown pooling {job.pooling!r}; use max or avg")
        if not (math.isfinite(job.style_scale) and STYLE_SCALE[0] <= job.style_scale <= STYLE_SCALE[1]):
            raise JobError(f"style scale must be between {STYLE_SCALE[0]:g} and {STYLE_SCALE[1]:g}, got {job.style_scale}")
        content_layers = _layer_weights(job.content_layers, "content")
        style_layers = _layer_weights(job.style_layers, "style")
        weights = job.weights if job.weights is not None else weights_for(job.strength)
        for name in ("content", "style", "tv"):
            value = getattr(weights, name)
            if not (math.isfinite(value) and value >= 0):
                raise JobError(f"the {name} weight must be a non-negative number, got {value}")

        out_size = output_size(height, width, job.size)
        budget = self._budget(job.memory_gb)
        inputs = _input_bytes(job, content) if self.device.type == "cpu" else None
        if not _unchanged(job, weights):  # refused now if even the smallest blocks cannot fit
            _plan(out_size, budget, job.optimizer, content_layers, style_layers, inputs)

        original_rgba = to_tensor(content, self.device)
        filled, alpha = alpha_ops.split(original_rgba)
        luminance_only = job.preserve_colors == "luminance"
        seen = color.luminance(filled) if luminance_only else filled

        regions: list[_Region] = []
        for index, region in enumerate(job.regions):
            mask = None
            if region.mask is not None:
                checked = check_mask(region.mask, content.shape, index)
                if not checked.any():
                    raise JobError(f"mask {index + 1} is empty: it selects no pixels")
                mask = torch.from_numpy(np.ascontiguousarray(checked))[None, None].to(self.device)
            styles = [self._prepare_style(s.image, f"style image {s.name!r}", job.preserve_colors, filled, alpha)
                      for s in region.styles]
            blend_weights = [float(s.weight) for s in region.styles]
            if not styles:
                raise JobError(f"region {index + 1} has no style image")
            if any(not 0 < w <= MAX_STYLE_WEIGHT for w in [*blend_weights, region.weight]):
                raise JobError(f"style and region weights must be above 0 up to {MAX_STYLE_WEIGHT:g} (region {index + 1})")
            regions.append(_Region(styles, blend_weights, mask, float(region.weight)))
        return _Prepared(original_rgba[:, :3], filled, seen, alpha, regions, out_size,
                         weights, content_layers, style_layers, luminance_only, budget, inputs)

    def _prepare_style(
        self, image: np.ndarray, what: str, mode: str, content: torch.Tensor, content_alpha: torch.Tensor | None
    ) -> torch.Tensor:
        rgb, _ = alpha_ops.split(to_tensor(check_image(image, what), self.device))
        if mode == "luminance":
            return color.luminance(rgb)
        if mode in ("stats", "histogram"):
            reference = content if content_alpha is None else content[:, :, content_alpha[0, 0] > 0.5].unsqueeze(-1)
            if reference.numel() == 0:
                reference = content
            match = color.match_stats if mode == "stats" else color.match_histogram
            return match(rgb, reference)
        return rgb

    def _upsample(
        self, x: torch.Tensor, size: tuple[int, int], previous: tuple[int, int] | None, prep: _Prepared, detail: bool
    ) -> torch.Tensor:
        """The previous stage's result at the next size.

        Upsampling alone would leave the content blurred, and the content loss on deep
        layers does not restore fine detail, so a job that starts from the content gets
        back the content's detail that the smaller stage could not hold.
        """
        if previous is None or previous == size or not detail:
            return resize(x, size).clamp(0, 1)
        # Upsampling is linear, so the previous picture less the content's coarse part is
        # upsampled at once: at the last stage one full-size temporary instead of three.
        coarse = x - resize(prep.seen, previous)
        up = F.interpolate(coarse, size=size, mode="bicubic", align_corners=False)
        return up.add_(resize(prep.seen, size)).clamp_(0, 1)

    def _initial_image(self, job: Job, prep: _Prepared, size: tuple[int, int]) -> torch.Tensor:
        if isinstance(job.init, np.ndarray):
            rgb, _ = alpha_ops.split(to_tensor(check_image(job.init, "the init image"), self.device))
            return resize(color.luminance(rgb) if prep.luminance_only else rgb, size)
        if job.init == "content":
            start = resize(prep.seen, size)
            if job.seed == 0:
                return start
            # Any other seed starts from the content under a faint seeded grain: the
            # optimisation then settles on another arrangement of the style's texture,
            # so an artist's "another seed" is another variation, as it is in every
            # generator they know.  Seed 0 is the content exactly.
            gen = torch.Generator().manual_seed(job.seed)
            grain = (torch.rand((1, 1, *size), generator=gen) * 2 - 1) * SEED_GRAIN
            return (start + grain.to(self.device)).clamp(0, 1)
        if job.init == "noise":
            gen = torch.Generator().manual_seed(job.seed)
            return torch.rand((1, 3, *size), generator=gen).to(self.device)
        if job.init == "blank":
            return torch.ones((1, 3, *size), device=self.device)
        raise JobError(f"unknown init {job.init!r}; use content, noise, blank or an image")

    def _stylize_objective(
        self, prep: _Prepared, stage: _Stage, job: Job, plan: memory.Plan, cancel: CancelToken | None = None,
        spill: Spill | None = None,
    ) -> Objective:
        size = stage.size
        style_side = max(1, round(max(size) * job.style_scale))
        regions: list[StyleRegion] = []
        for region in prep.regions if stage.style_layers and stage.weights.style > 0 else []:
            targets = []
            for style in region.styles:
                style_size = _style_size(style.shape[-2], style.shape[-1], style_side)
                targets.append(style_targets(
                    style, style_size, list(stage.style_layers),
                    lambda img, sz, ls: self._grams(resize(img, sz), ls, job.pooling, _beside_inputs(prep)),
                    (self._key, job.pooling), self.style_cache,
                ))
            masks = None
            if region.mask is not None:
                masks = {k: resize(region.mask, feature_size(k, size), up="bilinear") for k in stage.style_layers}
            regions.append(StyleRegion(region.weight, StyleLoss(blend(targets, region.blend_weights), stage.style_layers, masks)))
        return self._objective(prep.seen, size, stage.content_layers, regions, stage.weights, job.pooling, plan, cancel,
                               spill)

    def _objective(
        self, content: torch.Tensor, size: tuple[int, int], content_layers: dict[str, float], regions: list[StyleRegion],
        w: Weights, pooling: str, plan: memory.Plan, cancel: CancelToken | None, spill: Spill | None = None,
    ) -> Objective:
        """The loss of one stage, whole when it fits the budget and in blocks when not."""
        content_now = resize(content, size)
        features = partial(self.features, pooling=pooling)
        if plan.tile is not None:
            blocks = grid(*size, *plan.tile, plan.margin)
            return BlockedObjective(features, size, blocks, content_now, content_layers, regions, w, cancel, spill)
        with torch.no_grad():
            # Only the content layers' features are kept: at 2048 px the style layers'
            # would hold another 2 GB for nothing.
            content_loss = ContentLoss(features(content_now, list(content_layers)), content_layers)
        layers = sorted(set(content_layers) | {k for r in regions for k in r.loss.targets})
        region_total = sum(r.weight for r in regions)

        def loss_fn(x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
            feats = features(x, layers)
            c = content_loss(feats)
            tv = tv_loss(x)
            if not regions:
                return w.content * c + w.tv * tv, {"content": c, "tv": tv}
            s = sum(r.weight * r.loss(feats) for r in regions) / region_total
            return w.content * c + w.style * s + w.tv * tv, {"content": c, "style": s, "tv": tv}  # type: ignore[dict-item]

        return by_autograd(loss_fn)

    def _grams(self, image: torch.Tensor, layers: Sequence[str], pooling: str, budget: float | None) -> dict[str, torch.Tensor]:
        """A style's Gram matrices, in blocks when the style is too large to run whole."""
        size = (image.shape[-2], image.shape[-1])
        plan = _plan(size, budget, None, {}, layers)
        features = partial(self.features, pooling=pooling)
        if plan.tile is None:
            with torch.no_grad():
                feats = features(image, layers)
                return {name: gram(feats[name]) for name in layers}
        return blocked_grams(image, layers, features, grid(*size, *plan.tile, plan.margin))

    def _render(self, x: torch.Tensor, prep: _Prepared, size: tuple[int, int]) -> torch.Tensor:
        """The picture as the user will get it: colour restored, masks and alpha applied."""
        with torch.no_grad():
            native = size == tuple(prep.original.shape[-2:])
            picture = resize(x.detach().float().clamp(0, 1), size)
            filled = resize(prep.filled, size)
            if prep.luminance_only:
                picture = color.with_chroma_of(picture, filled)
            cover = coverage([None if r.mask is None else resize(r.mask, size, up="bilinear") for r in prep.regions])
            picture = composite(picture, prep.original if native else filled, cover)
            if prep.alpha is not None:
                alpha = prep.alpha if native else resize(prep.alpha, size, up="bilinear")
                picture = torch.cat([picture, alpha], 1)
            return picture

    def _picture(self, x: torch.Tensor, prep: _Prepared, size: tuple[int, int], spill: Spill | None) -> torch.Tensor:
        """A progress event's picture; a stage kept in files renders it a band at a time."""
        if spill is not None and size == prep.full_size:
            return torch.from_numpy(self._render_in_bands(x, prep, spill)).permute(2, 0, 1)
        return self._render(x, prep, size)[0]

    def _render_in_bands(self, x: torch.Tensor, prep: _Prepared, spill: Spill) -> np.ndarray:
        """`_render` at the content's own size, as an (H, W, C) array, a band of rows at a
        time: every step of it is per pixel, and the whole-picture temporaries would be
        three or four full-size pictures beside the budget."""
        height, width = prep.full_size
        channels = 3 if prep.alpha is None else 4
        out = np.empty((height, width, channels), np.float32)
        cover = coverage([r.mask for r in prep.regions])
        rows = torch.from_numpy(out).permute(2, 0, 1)[None]
        parts = [x.detach(), prep.filled, prep.original, rows]
        extras = [t for t in (cover, prep.alpha) if t is not None]
        with torch.no_grad():
            for picture, filled, original, target, *rest in spill.bands(*parts, *extras):
                band_cover = rest[0] if cover is not None else None
                picture = picture.float().clamp(0, 1)
                if prep.luminance_only:
                    picture = color.with_chroma_of(picture, filled)
                picture = composite(picture, original, band_cover)
                target[:, :3] = picture
                if prep.alpha is not None:
                    target[:, 3:] = rest[-1]
        return out

    # -- drawing mode ----------------------------------------------------------------

    def draw(self, job: DrawJob, cancel: CancelToken | None = None, image_every: int | None = None) -> Iterator[Event]:
        """Drawing mode: the content rebuilt on white paper, deep layers first.

        Matching relu5_1 alone gives the layout and large shapes; each following stage
        matches a shallower layer, adding smaller detail, so the frames read like a
        drawing in progress.  With a style, the style's deep statistics come in first
        and its fine texture last, and the ladder stops at relu4_2 so the content does
        not override the style at the pixel level.
        """
        drawing = Job(content=job.content, regions=[Region(styles=list(job.styles))] if job.styles else [], size=job.size,
                      strength=job.strength, style_scale=job.style_scale, optimizer="adam", pooling=job.pooling,
                      memory_gb=job.memory_gb, style_layers=drawing_ladder.every_layer(bool(job.styles)))
        prep = self._prepare(drawing, styles_required=False)
        ladder_ = drawing_ladder.draw_stages(bool(job.styles))
        iterations = iterations_per_stage(len(ladder_), job.iterations)
        # Without a style there is nothing to match but the content, one layer at a time.
        weights = prep.weights if job.styles else Weights(content=1.0, style=0.0, tv=prep.weights.tv)
        stages = [_Stage(prep.out_size, count, "adam", drawing_ladder.LEARNING_RATE, {content_layer: 1.0},
                         {layer: 1.0 / len(style_layers) for layer in style_layers}, weights)
                  for (content_layer, style_layers), count in zip(ladder_, iterations, strict=True)]
        every = job.frame_every if image_every is None else image_every
        paper = torch.ones((1, 3, *prep.out_size), device=self.device)
        yield from self._stages(prep, stages, paper, drawing, cancel, _ImageTicker(every, last=True),
                                prep.out_size, detail=False)


class _ImageTicker:
    """Decides when a progress event carries the picture: every N steps, and at the last
    step too where the pictures make an animation.  How often a client may receive one
    is the server's to throttle (server/worker.py)."""

    def __init__(self, every: int, last: bool = False) -> None:
        self.every, self.last_step = every, last

    def due(self, step: int, steps: int) -> bool:
        return (self.every > 0 and step % self.every == 0) or (self.last_step and step == steps)


def _input_bytes(job: Job, content: np.ndarray) -> float:
    """What a job's pictures hold in memory while it runs: each as given, and the
    engine's float copy (with the filled colour and the luminance where they are made)."""
    height, width, channels = content.shape
    pixels = height * width
    held = content.nbytes + pixels * 4 * (channels + (3 if channels == 4 else 0) + (3 if job.preserve_colors == "luminance" else 0))
    for region in job.regions:
        if region.mask is not None:
            held += np.asarray(region.mask).nbytes + pixels * 4
        held += sum(2 * np.asarray(s.image).nbytes for s in region.styles)
    return float(held)


def _beside_inputs(prep: _Prepared) -> float | None:
    """The budget left to a style's statistics beside the job's own pictures."""
    if prep.budget is None or prep.input_bytes is None:
        return prep.budget
    return max(prep.budget - prep.input_bytes, 0.0)


def _unchanged(job: Job, weights: Weights) -> bool:
    """Nothing to optimise: a job that starts from the content with no style and no
    smoothing is already where its loss is zero, at any size and in any budget."""
    return weights.style == 0 and weights.tv == 0 and isinstance(job.init, str) and job.init == "content"


def _plan(
    size: tuple[int, int], budget: float | None, optimizer: str | None, content_layers: Iterable[str],
    style_layers: Iterable[str], inputs: float | None = None,
) -> memory.Plan:
    """How a stage at `size` fits the budget, with a halo as wide as its deepest layer needs."""
    layers = set(content_layers) | set(style_layers)
    return memory.plan(*size, budget, optimizer, halo(layers), content_layers, inputs)


def _pixels(size: tuple[int, int], plan: memory.Plan) -> float:
    """What one iteration runs through the network forward and back, in pixels.

    In blocks, each block also runs its halo, and the first pass runs every block
    forward once more, which costs about a third of a forward and backward pass.
    """
    if plan.tile is None:
        return float(size[0] * size[1])
    return total_crop(*size, *plan.tile, plan.margin) * (1 + 1 / 3)


def _schedule(job: Job, prep: _Prepared) -> tuple[list[tuple[int, int]], list[int]]:
    sizes = ladder(*prep.out_size, job.min_size, job.stages)
    return sizes, iterations_per_stage(len(sizes), job.iterations)


def _style_size(height: int, width: int, long_side: int) -> tuple[int, int]:
    """The style's size at this stage: scaled as asked, but never so small that the
    deepest layer has no pixels (a thin strip of texture is still a valid style)."""
    size = fit_long_side(height, width, long_side)
    if min(size) < MIN_SIDE:
        scale = MIN_SIDE / min(height, width)
        size = (max(MIN_SIDE, round(height * scale)), max(MIN_SIDE, round(width * scale)))
    return size


def _layer_weights(layers: Sequence[str] | dict[str, float], what: str) -> dict[str, float]:
    weights = dict(layers) if isinstance(layers, dict) else {name: 1.0 for name in layers}
    if not weights:
        raise JobError(f"give at least one {what} layer")
    try:
        check_layers(weights)
    except ValueError as e:
        raise JobError(str(e)) from None
    if any(not (math.isfinite(w) and w >= 0) for w in weights.values()) or sum(weights.values()) <= 0:
        raise JobError(f"{what} layer weights must be non-negative and not all zero")
    total = sum(weights.values())
    return {name: w / total for name, w in weights.items()}
