"""Neural style transfer: repaint a photo with the textures of another image.

Gatys, Ecker & Bethge (2016), "Image Style Transfer Using Convolutional Neural Networks" (CVPR).
A pretrained CNN's deep activations describe an image's *content*; the Gram matrices (channel
correlations) of several layers describe its *style*. The result image is optimised to minimise
alpha * content loss + beta * style loss + gamma * total variation: in the paper its pixels are the
unknowns; here, by default, it is optimised as a multi-scale image (see Pyramid). The total-variation
term is not Gatys et al.'s: it is the image prior of Mahendran & Vedaldi (2015), "Understanding Deep
Image Representations by Inverting Them", which Johnson et al. (2016) also used.
Gatys et al. used a rescaled VGG19 with average pooling; see engine/vgg.py for what runs here.
Colour preservation here is a swap after the optimisation: the result's luminance with the content's
chrominance. Gatys, Bethge, Hertzmann & Shechtman (2016), "Preserving Color in Neural Artistic Style
Transfer", instead run the whole optimisation on luminance images ("luminance-only transfer").
"""

import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Literal

import torch
import torch.nn.functional as F

from engine.device import cpu_flags, device_of, run_device
from engine.rng import RunRandom
from engine.training import Throttle, TrainingStep
from engine.vgg import FeatureExtractor, on_device, with_pooling

TERMS = ("total", "content", "style", "tv")
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")   # Gatys et al.'s choice
CONTENT_LAYER = "relu4_2"
# quality/speed: (size, evaluations at full size, evaluations at 1/4 and 1/2 size when coarse-to-fine is on)
PRESETS = {
    "fast": (192, 15, (30, 20)),
    "balanced": (256, 20, (40, 30)),
    "quality": (384, 30, (40, 40)),
}
DEFAULT_PRESET = "fast"        # the page's first run: 192 px in 15 evaluations, about 12 s on one core of
                               # the slowest CPU (benchmarks/defaults_speed.py); 256 px took 28 s


@dataclass(frozen=True)
class StyleConfig:
    size: int = PRESETS[DEFAULT_PRESET][0]    # long side of the result, px
    steps: int = PRESETS[DEFAULT_PRESET][1]   # optimiser evaluations (forward + backward) at full size
    coarse_steps: tuple[int, ...] = ()   # evaluations at smaller sizes first, coarsest first (e.g. (40, 30):
                                         # 1/4, then 1/2 size): cheap passes that settle the large structures
    content_weight: float = 1.0          # alpha
    style_weight: float = 1.0            # beta: with normalised losses 0.1 is mild, 10 is strong
    layer_weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0)   # one per style layer
    style_layers: tuple[str, ...] = STYLE_LAYERS
    content_layer: str = CONTENT_LAYER
    tv_weight: float = 0.1               # gamma, total variation (Mahendran & Vedaldi): smooths pixel noise
    pooling: Literal["max", "avg"] = "max"   # VGG's own max pooling, or Gatys et al.'s average pooling
    optimizer: Literal["lbfgs", "adam"] = "lbfgs"
    pyramid_levels: int = 6              # the image is optimised as a sum of this many scales (see Pyramid);
                                         # 1 = the pixels themselves
    adam_lr: float = 0.02                # per optimised number: a pixel, or a cell of a Pyramid level
                                         # (a pixel then moves up to about 3.7 times this)
    init: Literal["content", "noise"] = "content"
    preserve_colors: bool = False        # after optimising: the result's luminance, the content's colours
    normalize_losses: bool = True        # divide each loss by its target's energy (weights then mean
                                         # the same for every weight file); False = raw tutorial form
    fast_math: bool | None = None        # bf16 autocast for VGG and the Gram matrices; None = on CUDA and
                                         # on CPUs with native bf16
    seed: int = 0                        # the noise start's draw
    snapshots: int = 8                   # frames kept for the filmstrip
    device: str | None = None            # None: engine.device.pick_device()


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, C) channel correlations, divided by C*H*W; returned in fp32. bf16 features
    (fast math) are multiplied in bf16 (the CPU and cuBLAS kernels accumulate in fp32) and the product
    is rounded to bf16, about three significant digits, before it is returned as fp32."""
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    if flat.dtype not in (torch.bfloat16, torch.float32):
        flat = flat.float()
    return (flat @ flat.transpose(1, 2)).float() / (c * h * w)


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between vertical neighbours plus that between horizontal ones, (N, C, H, W)."""
    return (image[..., 1:, :] - image[..., :-1, :]).abs().mean() + (image[..., :, 1:] - image[..., :, :-1]).abs().mean()


def resize_to(image: torch.Tensor, long_side: int) -> torch.Tensor:
    """(C, H, W) or (N, C, H, W) -> (N, C, h, w) with the longer side `long_side`, aspect kept."""
    image = image.unsqueeze(0) if image.dim() == 3 else image
    h, w = image.shape[-2:]
    scale = long_side / max(h, w)
    size = (max(16, round(h * scale)), max(16, round(w * scale)))
    return F.interpolate(image, size=size, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def use_fast_math(config: StyleConfig, device: torch.device) -> bool:
    if config.fast_math is not None:
        return config.fast_math
    if device.type in ("cuda", "mps"):
        return device.type == "cuda"      # MPS autocast support for bf16 varies by macOS version
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})   # elsewhere bf16 is emulated and slower


class Objective:
    """Content, style and TV losses against fixed targets, at one resolution."""

    def __init__(self, extractor: FeatureExtractor, config: StyleConfig, content: torch.Tensor,
                 style: torch.Tensor, fast: bool) -> None:
        self.extractor, self.config, self.fast = extractor, config, fast
        self.layers = (*config.style_layers, config.content_layer)
        self.device_type = content.device.type
        with torch.no_grad():
            content_features = self.features(content)[config.content_layer].float()
            style_features = self.features(style)
        self.content_target = content_features
        self.gram_targets = {layer: gram_matrix(style_features[layer]) for layer in config.style_layers}
        if config.normalize_losses:    # each term starts near 1 for a featureless image
            self.content_scale = 1.0 / content_features.pow(2).mean().clamp_min(1e-12).item()
            self.style_scales = {k: 1.0 / g.pow(2).mean().clamp_min(1e-24).item() for k, g in self.gram_targets.items()}
        else:
            self.content_scale, self.style_scales = 1.0, dict.fromkeys(self.gram_targets, 1.0)

    def features(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        image = image.contiguous(memory_format=torch.channels_last)   # faster convolutions, fp32 too
        with torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.fast):
            return self.extractor(image, self.layers)

    def __call__(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """Loss terms for (1, 3, H, W) `image`, each an fp32 scalar, plus their weighted total."""
        features = self.features(image)
        config = self.config
        content = F.mse_loss(features[config.content_layer].float(), self.content_target) * self.content_scale
        style = sum(weight * self.style_scales[layer] * F.mse_loss(gram_matrix(features[layer]),
                                                                   self.gram_targets[layer])
                    for layer, weight in zip(config.style_layers, config.layer_weights, strict=True))
        tv = total_variation(image)
        total = config.content_weight * content + config.style_weight * style + config.tv_weight * tv
        return {"total": total, "content": content, "style": style, "tv": tv}


def preserve_colors(result: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Luminance of `result`, chrominance of `content` (YIQ), both (N, 3, H, W) in [0, 1]."""
    to_yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    content = F.interpolate(content, size=result.shape[-2:], mode="bilinear", align_corners=False)
    yiq_result = torch.einsum("ij,njhw->nihw", to_yiq, result)
    yiq_content = torch.einsum("ij,njhw->nihw", to_yiq, content)
    mixed = torch.cat([yiq_result[:, :1], yiq_content[:, 1:]], dim=1)
    return torch.einsum("ij,njhw->nihw", torch.linalg.inv(to_yiq), mixed).clamp(0, 1)


def _stages(config: StyleConfig) -> list[tuple[int, int]]:
    """(long side, evaluations) per stage: each coarse level halves the size of the next."""
    levels = len(config.coarse_steps)
    coarse = [(max(32, config.size >> (levels - i)), steps) for i, steps in enumerate(config.coarse_steps) if steps]
    return [*coarse, (config.size, config.steps)]


class Pyramid:
    """The image as a start plus a sum of detail levels: level k is a grid 2**k times coarser than the
    image, bilinearly upsampled and scaled by DECAY**k (level 0 is the pixels). The optimiser moves the
    levels; the loss sees their sum. The objective is unchanged, only its coordinates: a gradient step on
    a coarse level moves a whole region together, so broad changes of colour and shape need far fewer
    evaluations (speed benchmark, Gatys layers: the tutorial's loss after 35 evaluations against 95 for
    the pixels). A sum of upsampled low-resolution grids, as in the Lucid library's Laplacian-pyramid
    parameterisation; Olah, Mordvintsev & Schubert (2017, "Feature Visualization") explain a change of
    parameterisation as preconditioning. Levels whose grid would be under 2 px are left out."""

    DECAY = 0.8   # on the speed benchmark (Gatys layers) 0.6-0.7 and 1.0-1.4 needed more evaluations

    def __init__(self, start: torch.Tensor, count: int) -> None:
        self.start = start.detach()
        self.size = start.shape[-2:]
        shapes = [tuple(-(-side // 2**k) for side in self.size) for k in range(max(1, count))]
        shapes = [shape for k, shape in enumerate(shapes) if k == 0 or min(shape) >= 2]
        self.levels = [torch.zeros(*start.shape[:2], *shape, device=start.device, dtype=start.dtype,
                                   requires_grad=True) for shape in shapes]

    def image(self) -> torch.Tensor:
        """The sum, clamped to [0, 1]: what the loss sees and the page shows. Clamping here, in the forward
        pass, rather than clamping the parameters after each optimiser step, keeps L-BFGS's curvature
        pairs true (a clamp between steps moves the point behind its back; measured: a loss of 4.3
        instead of 1.0 after 15 evaluations, coffee and mosaic at 128 px)."""
        image = self.start + self.levels[0]
        for k, level in enumerate(self.levels[1:], start=1):
            image = image + self.DECAY**k * F.interpolate(level, size=self.size, mode="bilinear", align_corners=False)
        return image.clamp(0, 1)


def _optimizer(config: StyleConfig, parameters: list[torch.Tensor], line_search: bool = False) -> torch.optim.Optimizer:
    """Adam, or L-BFGS: without a line search (every evaluation a step, as Gatys et al.'s and the
    tutorial's), or with one after a step went astray (see BestSoFar)."""
    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=config.adam_lr)
    # One L-BFGS .step() runs up to max_iter evaluations; 10 keeps reports frequent.
    return torch.optim.LBFGS(parameters, lr=1.0, max_iter=10, history_size=50, tolerance_grad=0, tolerance_change=0,
                             line_search_fn="strong_wolfe" if line_search else None)


def _start_image(config: StyleConfig, content: torch.Tensor, previous: torch.Tensor | None,
                 generator: torch.Generator) -> torch.Tensor:
    """The first stage starts from the content (or noise); later ones from the upsampled previous
    result. Starting from the content, they also get back the content detail the coarser level could
    not hold (content minus its own down-and-up-sampled copy), which saves most of the expensive
    full-size evaluations. Starting from noise they do not: the content's pixels never enter the image,
    only the content loss pulls it towards the layout. The noise comes from the run's `generator`
    (on `content`'s device)."""
    if previous is None:
        if config.init == "content":
            return content.clone()
        return torch.rand(content.shape, generator=generator, device=content.device, dtype=content.dtype)
    size = content.shape[-2:]
    upsampled = F.interpolate(previous, size=size, mode="bicubic", align_corners=False)
    if config.init == "noise":
        return upsampled
    blurred = F.interpolate(resize_to(content, max(previous.shape[-2:])), size=size, mode="bicubic",
                            align_corners=False)
    return upsampled + (content - blurred)


class WentAstray(Exception):
    """Raised from the closure to end an optimiser step whose last evaluation went far off."""


class BestSoFar:
    """The stage's lowest-loss evaluation so far: its levels, image and loss terms, to go back to.

    L-BFGS without a line search takes whatever step its curvature estimate suggests, and early on, from
    few gradient pairs, that estimate can send the image far off (measured with the tutorial's shallow
    layers: the loss rose from 5 to 170 within the first three evaluations). When an evaluation's loss
    is more than BLOWUP times the best so far, the step ends there, the run returns to the best image and
    the optimiser starts afresh; every loss reported belongs to the image shown."""

    BLOWUP = 2.0

    def __init__(self) -> None:
        self.loss, self.levels, self.terms = math.inf, None, None

    def check(self, pyramid: Pyramid, terms: dict) -> None:
        """After each evaluation (one host read): remember it if it is the best; raise WentAstray if it
        is far worse."""
        loss = terms["total"].item()
        if loss <= self.loss:
            self.loss = loss
            self.levels = [level.detach().clone() for level in pyramid.levels]
            self.terms = {name: terms[name] for name in (*TERMS, "image")}
        elif self.levels is not None and not loss <= self.BLOWUP * self.loss:      # also NaN
            raise WentAstray          # (with nothing to go back to, a non-finite loss ends the run instead)

    def restore(self, pyramid: Pyramid, terms: dict) -> None:
        with torch.no_grad():
            for level, best in zip(pyramid.levels, self.levels, strict=True):
                level.copy_(best)
        terms.update(self.terms)


def _evaluate(objective: Objective, pyramid: Pyramid, optimizer: torch.optim.Optimizer,
              terms: dict[str, torch.Tensor | int], best: BestSoFar) -> torch.Tensor:
    """One forward + backward pass (the optimiser's closure); keeps the loss terms in `terms` as
    detached tensors, and the image they were measured on: L-BFGS ends each step with an update it
    has not evaluated, so the image reported is the last one evaluated, and its numbers are its own."""
    optimizer.zero_grad(set_to_none=True)
    image = pyramid.image()
    losses = objective(image)
    losses["total"].backward()
    terms.update({name: value.detach() for name, value in losses.items()})
    terms["image"] = image.detach()
    terms["evaluations"] = terms.get("evaluations", 0) + 1
    best.check(pyramid, terms)
    return losses["total"]


def transfer(config: StyleConfig, extractor: FeatureExtractor, content: torch.Tensor,
             style: torch.Tensor) -> Iterator[TrainingStep]:
    """Optimise the image on `run_device(config.device)`; yields TrainingSteps (step = evaluations so
    far) with the current image.

    `content` and `style` are (3, H, W) in [0, 1], any sizes. `extractor` may be shared by every
    user: it is used as it is when it lives on the run's device, else through a copy there.
    The first report, step 0, comes before any evaluation: the starting image, no metrics yet.
    Metrics: total, content, style, tv. Extras: `image` (3, h, w) in [0, 1], `stage` (px), `history`,
    `snapshots` [(step, thumbnail)], `fast_math`, `device`, and `model`: the image with the content
    and style it came from (what the page's Gram lab compares), so a stopped run is usable too.
    """
    device = run_device(config.device)
    random = RunRandom(config.seed, device)
    # A per-run view on the run's device: the shared extractor itself is neither moved nor changed.
    extractor = with_pooling(on_device(extractor, device), config.pooling)
    fast = use_fast_math(config, device)
    stages = _stages(config)
    total = sum(steps for _, steps in stages)
    throttle = Throttle(total)
    terms: dict[str, torch.Tensor | int] = {}
    pending: list[tuple[int, torch.Tensor]] = []          # (evaluations, loss terms) since the last report
    image, snapshots = None, []
    history: dict[str, list[float]] = {"step": [], **{name: [] for name in TERMS}}
    content_on, style_on = content.to(device), style.to(device)      # moved once for the run
    for size, steps in stages:
        content_small = resize_to(content_on, size)
        start = _start_image(config, content_small, image, random.device).clamp(0, 1)
        if image is None:             # step 0, at once: the image the optimisation starts from, before
            shown = _result_image(config, start, content_small)     # VGG's first pass (over a second)
            extras = {"image": shown, "stage": size, "history": {k: [] for k in history}, "snapshots": [],
                      "fast_math": fast, "device": str(device), "inputs": {"content": content, "style": style},
                      "model": {"image": shown, "content": content, "style": style}}
            with throttle.reporting():
                yield TrainingStep(0, total, {}, extras, 0.0)
        objective = Objective(extractor, config, content_small, resize_to(style_on, size), fast)
        pyramid = Pyramid(start, config.pyramid_levels)
        optimizer, best = _optimizer(config, pyramid.levels), BestSoFar()
        stage_end = terms.get("evaluations", 0) + steps
        while (done := terms.get("evaluations", 0)) < stage_end:
            if config.optimizer == "lbfgs":       # a first step of one evaluation gives an early preview
                first = done == 0                 # (L-BFGS keeps its state between calls: the same points
                                                  # are evaluated); never run past the stage's budget
                optimizer.param_groups[0]["max_iter"] = min(1 if first else 10, stage_end - done)
                if optimizer.param_groups[0]["line_search_fn"]:      # a line search may evaluate more than
                    optimizer.param_groups[0]["max_eval"] = optimizer.param_groups[0]["max_iter"]   # once a step
            try:
                optimizer.step(partial(_evaluate, objective, pyramid, optimizer, terms, best))
            except WentAstray:
                best.restore(pyramid, terms)
                optimizer = _optimizer(config, pyramid.levels, line_search=True)   # forget the estimate that
                                                                                    # went astray
            image = terms["image"]
            done = terms["evaluations"]
            pending.append((done, torch.stack([terms[name] for name in TERMS])))
            if not (throttle.due(done - 1) or done >= total):
                continue
            values = torch.stack([losses for _, losses in pending]).tolist()     # one host read per report
            history["step"].extend(count for count, _ in pending)
            for row in values:
                for name, value in zip(TERMS, row, strict=True):
                    history[name].append(value)
            pending.clear()
            if not all(math.isfinite(row[0]) for row in values):     # diverged: nothing worth showing
                return
            result = _result_image(config, image, content_small)
            snapshots = _keep_snapshot(snapshots, done, result, config.snapshots)
            extras = {"image": result, "stage": size, "history": {k: list(v) for k, v in history.items()},
                      "snapshots": list(snapshots), "fast_math": fast, "device": str(device),
                      "inputs": {"content": content, "style": style},     # for drawing any report, model or not
                      "model": {"image": result, "content": content, "style": style}}
            metrics = {name: history[name][-1] for name in TERMS}
            with throttle.reporting():
                yield TrainingStep(done, total, metrics, extras, throttle.training_seconds)


@torch.no_grad()
def starting_image(config: StyleConfig, content: torch.Tensor) -> torch.Tensor:
    """Before any run: the image the optimisation starts from, (3, h, w) in [0, 1] on the CPU, as a
    report shows images: the content (3, H, W) at the first stage's size, or noise drawn from the
    run's own generator where the run draws it."""
    device = run_device(config.device)
    small = resize_to(content.to(device), _stages(config)[0][0])
    start = _start_image(config, small, None, RunRandom(config.seed, device).device).clamp(0, 1)
    return _result_image(config, start, small)


def _keep_snapshot(snapshots: list, done: int, image: torch.Tensor, limit: int) -> list:
    """Add a 128-px thumbnail; beyond `limit` frames, drop every other old one (keeps the span)."""
    thumbnail = resize_to(image, 128)[0]
    snapshots = [*snapshots, (done, thumbnail)]
    if len(snapshots) > limit:
        snapshots = snapshots[:-1:2] + snapshots[-1:]
    return snapshots


def _result_image(config: StyleConfig, image: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    result = image.detach().float().clamp(0, 1)
    if config.preserve_colors:
        result = preserve_colors(result.cpu(), content.cpu())
    return result[0].cpu()


@dataclass(frozen=True)
class GramComparison:
    style_map: torch.Tensor              # (channels, channels), divided by its own largest entry
    maps: list[torch.Tensor]             # the same for each compared image
    distances: list[float]               # ||G(x) - G(a)||^2 / ||G(a)||^2 over *all* channels, per image


@torch.no_grad()
def compare_grams(extractor: FeatureExtractor, style: torch.Tensor, images: list[torch.Tensor], layer: str,
                  size: int, pooling: Literal["max", "avg"] = "max", channels: int = 48) -> GramComparison:
    """Gram matrices at `layer` of the style and of each (3, H, W) image, all resized to `size` as a run
    of that size does. The maps are for drawing: a corner of `channels` channels, each scaled to its own
    maximum, so two maps can look alike while the matrices differ. The distances are what the style loss
    of this layer measures (before its layer weight), with 1 = an image whose activations are all zero."""
    extractor = with_pooling(extractor, pooling)
    device = device_of(extractor)         # the images go where the extractor is
    grams = [gram_matrix(extractor(resize_to(image.to(device), size), (layer,))[layer])[0].cpu()
             for image in (style, *images)]
    target = grams[0]
    maps = [gram[:channels, :channels] / gram[:channels, :channels].abs().max().clamp_min(1e-12) for gram in grams]
    distances = [((gram - target).pow(2).mean() / target.pow(2).mean().clamp_min(1e-24)).item() for gram in grams[1:]]
    return GramComparison(maps[0], maps[1:], distances)
