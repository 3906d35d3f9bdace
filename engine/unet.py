"""UNet: an encoder-decoder with skip connections that labels every pixel.

Ronneberger, Fischer & Brox (2015), "U-Net: Convolutional Networks for Biomedical Image
Segmentation". Trained here on generated images of shapes with exact masks, and as a denoiser
on patches of one photo. Dice loss: Milletari, Navab & Ahmadi (2016).

This UNet is the common modern variant, not the paper's network: padded 3x3 convolutions (so the
output has the input's size and skips need no cropping) and batch norm. The original used unpadded
convolutions (a 572x572 input gives a 388x388 map), cropped the encoder maps before concatenating,
segmented large images tile by tile with mirrored context (overlap-tile), and weighted the loss to
separate touching cells.
"""

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.device import device_of, run_device
from engine.rng import RunRandom, init_parameters
from engine.training import Throttle, TrainingStep

CLASSES = ("background", "circle", "square", "triangle")


@dataclass(frozen=True)
class ShapesConfig:
    size: int = 48                 # image side, px
    objects: int = 4               # shapes per image
    min_radius: float = 0.08       # shape radius, as a fraction of the image side (0.2: 40 % across)
    max_radius: float = 0.2
    overlap: bool = True           # allow shapes to cover each other (later ones on top)
    texture: float = 0.3           # strength of stripes inside the shapes
    noise: float = 0.1             # std of the Gaussian pixel noise
    blur: float = 0.5              # std (px) of the Gaussian blur of the image (the mask stays sharp)
    seed: int = 0


@dataclass(frozen=True)
class Shapes:
    images: torch.Tensor           # (N, 1, H, W) in [0, 1]
    masks: torch.Tensor            # (N, H, W) int64 class index, exact for the drawn shapes


def _shape_mask(kind: int, x: torch.Tensor, y: torch.Tensor, cx, cy, r) -> torch.Tensor:
    """(N, H, W) bool for one shape per image; cx, cy, r are (N, 1, 1)."""
    if kind == 1:
        return (x - cx) ** 2 + (y - cy) ** 2 <= r**2
    if kind == 2:
        return ((x - cx).abs() <= r * 0.85) & ((y - cy).abs() <= r * 0.85)
    top, bottom = cy - r, cy + r * 0.8                         # an upright isosceles triangle
    half_width = (y - top) / (bottom - top) * r
    return (y >= top) & (y <= bottom) & ((x - cx).abs() <= half_width)


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W)."""
    if sigma <= 0:
        return images
    radius = max(1, math.ceil(3 * sigma))
    taps = torch.exp(-torch.arange(-radius, radius + 1, dtype=torch.float32) ** 2 / (2 * sigma**2))
    taps = (taps / taps.sum()).to(images.dtype)
    c = images.shape[1]
    padded = F.pad(images, (radius, radius, radius, radius), mode="reflect")
    horizontal = F.conv2d(padded, taps.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(horizontal, taps.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def make_shapes(config: ShapesConfig, count: int, seed_offset: int = 0) -> Shapes:
    """`count` images of random circles, squares and triangles, with their exact masks."""
    generator = torch.Generator().manual_seed(config.seed * 1000 + seed_offset)
    n, size = count, config.size
    coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    x, y = x.expand(n, size, size), y.expand(n, size, size)
    background = 0.15 + 0.2 * torch.rand(n, 1, 1, generator=generator)
    images = background.expand(n, size, size).clone()
    masks = torch.zeros(n, size, size, dtype=torch.int64)
    for _ in range(config.objects):
        kinds = torch.randint(1, len(CLASSES), (n, 1, 1), generator=generator)
        r = config.min_radius + (config.max_radius - config.min_radius) * torch.rand(n, 1, 1, generator=generator)
        cx, cy = (r + (1 - 2 * r) * torch.rand(2, n, 1, 1, generator=generator))
        shape = torch.zeros(n, size, size, dtype=torch.bool)
        for k in range(1, len(CLASSES)):
            shape |= _shape_mask(k, x, y, cx, cy, r) & (kinds == k)
        if not config.overlap:
            shape &= masks == 0
        brightness = 0.55 + 0.4 * torch.rand(n, 1, 1, generator=generator)
        angle = math.pi * torch.rand(n, 1, 1, generator=generator)
        stripes = torch.sin(40 * (x * torch.cos(angle) + y * torch.sin(angle)))
        images = torch.where(shape, brightness + config.texture * 0.15 * stripes, images)
        masks = torch.where(shape, kinds.expand(n, size, size), masks)
    images = gaussian_blur(images.unsqueeze(1), config.blur)
    images = images + config.noise * torch.randn(images.shape, generator=generator)
    return Shapes(images.clamp(0, 1), masks)


class Block(nn.Sequential):
    """Two 3x3 convolutions, each followed by batch norm and ReLU (the UNet's basic unit)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """Contracting path (depth x [block, 2x2 max-pool]), a bottleneck block, and an expanding path
    (depth x [2x upsampling, concatenation with the matching encoder output, block]). The transposed
    convolution has kernel 2 and stride 2: its kernels tile the output without overlapping.
    With `skips=False` the concatenation is left out, so the decoder sees only the bottleneck."""

    def __init__(self, in_channels: int = 1, out_channels: int = len(CLASSES), depth: int = 3, base: int = 16,
                 skips: bool = True, upsampling: Literal["transpose", "bilinear"] = "transpose") -> None:
        super().__init__()
        self.depth, self.skips = depth, skips
        widths = [base * 2**i for i in range(depth + 1)]            # e.g. 16, 32, 64, 128
        self.down = nn.ModuleList(Block(cin, cout) for cin, cout in zip([in_channels, *widths[:-2]], widths[:-1],
                                                                         strict=True))
        self.bottleneck = Block(widths[-2], widths[-1])
        self.up, self.decode = nn.ModuleList(), nn.ModuleList()
        for level in reversed(range(depth)):
            wide, narrow = widths[level + 1], widths[level]
            if upsampling == "transpose":                           # learned upsampling
                self.up.append(nn.ConvTranspose2d(wide, narrow, 2, stride=2))
            else:                                                   # fixed interpolation, then a 1x1 mix
                self.up.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                                             nn.Conv2d(wide, narrow, 1)))
            self.decode.append(Block(narrow * (2 if skips else 1), narrow))
        self.head = nn.Conv2d(widths[0], out_channels, 1)

    def forward(self, x: torch.Tensor, features: dict | None = None) -> torch.Tensor:
        """(N, C, H, W), any H and W (padded to a multiple of 2^depth, cropped back) -> (N, classes, H, W).
        Pass a dict as `features` to collect each level's activations."""
        h, w = x.shape[-2:]
        multiple = 2**self.depth
        x = F.pad(x, (0, -w % multiple, 0, -h % multiple), mode="reflect").contiguous(memory_format=torch.channels_last)
        skipped = []
        for level, block in enumerate(self.down):
            x = block(x)
            skipped.append(x)
            if features is not None:
                features[f"encoder {level + 1}"] = x
            x = F.max_pool2d(x, 2)
        x = self.bottleneck(x)
        if features is not None:
            features["bottleneck"] = x
        for index, (up, block) in enumerate(zip(self.up, self.decode, strict=True)):
            x = up(x)
            if self.skips:
                x = torch.cat([skipped[-1 - index], x], dim=1)   # high-resolution detail from the encoder
            x = block(x)
            if features is not None:
                features[f"decoder {self.depth - index}"] = x
        return self.head(x)[..., :h, :w]


def build_unet(generator: torch.Generator, device: torch.device | str = "cpu", **settings) -> UNet:
    """`UNet(**settings)` initialised from the run's `generator` exactly as `torch.manual_seed(s);
    UNet(**settings)` would be (so figures measured before stay valid), then moved to `device`.
    `engine.rng.build` initialises in registration order; the constructor makes the up and decode
    layers in turns, so here each part is initialised in the order the constructor made it."""
    with torch.device("meta"):                                # built without drawing anything
        model = UNet(**settings)
    model = model.to_empty(device="cpu")
    made = (*model.down, model.bottleneck, *itertools.chain.from_iterable(zip(model.up, model.decode, strict=True)),
            model.head)
    for part in made:
        init_parameters(part, generator)
    return model.to(device, memory_format=torch.channels_last)    # oneDNN's fast layout: measured 1.15x per
                                                                  # training step and 1.9x per evaluation on the CPU


def dice_loss(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """1 - mean soft Dice over the foreground classes: 2|P∩T| / (|P| + |T|) with probabilities P."""
    probabilities = logits.softmax(1)
    target = F.one_hot(masks, logits.shape[1]).permute(0, 3, 1, 2).float()
    dims = (0, 2, 3)
    overlap = (probabilities * target).sum(dims)
    total = probabilities.sum(dims) + target.sum(dims)
    return 1 - ((2 * overlap + 1) / (total + 1))[1:].mean()


@torch.no_grad()
def scores(predicted: torch.Tensor, masks: torch.Tensor, classes: int = len(CLASSES)) -> dict[str, float]:
    """Mean Dice and IoU over the foreground classes present, from hard label maps (N, H, W)."""
    dice, iou = [], []
    for k in range(1, classes):
        p, t = predicted == k, masks == k
        if t.sum() == 0 and p.sum() == 0:
            continue
        intersection = (p & t).sum().item()
        dice.append(2 * intersection / (p.sum().item() + t.sum().item()))
        iou.append(intersection / (p | t).sum().item())
    return {"dice": sum(dice) / max(len(dice), 1), "iou": sum(iou) / max(len(iou), 1)}


def segmentation_loss(kind: str, logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Per-pixel cross-entropy, the overlap-based Dice loss, or their sum."""
    if kind == "ce":
        return F.cross_entropy(logits, masks)
    if kind == "dice":
        return dice_loss(logits, masks)
    return F.cross_entropy(logits, masks) + dice_loss(logits, masks)


@dataclass(frozen=True)
class SegmentationConfig:
    shapes: ShapesConfig = ShapesConfig()
    depth: int = 3                     # poolings: the bottleneck sees 1/8 of the resolution
    base: int = 8                      # channels at the first level, doubled at each level
    skips: bool = True
    upsampling: Literal["transpose", "bilinear"] = "transpose"
    loss: Literal["ce", "dice", "both"] = "both"
    steps: int = 300                   # the cards judge this run too
    batch_size: int = 8
    learning_rate: float = 6e-3        # Adam, peak of a one-cycle schedule
    train_images: int = 512
    val_images: int = 64
    shown: int = 4                     # validation images drawn live
    seed: int = 0
    device: str | None = None          # None: engine.device.pick_device()


def skip_partner(config: SegmentationConfig) -> SegmentationConfig:
    """The same settings with the skip connections switched: the only fair run to compare against."""
    return replace(config, skips=not config.skips)


def _update(optimizer: torch.optim.Optimizer, schedule, loss: torch.Tensor) -> None:
    """One Adam step on `loss`, then the one-cycle learning-rate schedule's step."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    schedule.step()


def train(config: SegmentationConfig) -> Iterator[TrainingStep]:
    """Generate the data, train the UNet on `run_device(config.device)`; yields Dice/IoU on held-out
    images, predicted masks for the first `shown`, the history, the device and, under `model`, the
    network so far and the validation data (on the CPU), so a paused or stopped run is usable too."""
    device = run_device(config.device)
    order = RunRandom(config.seed).cpu                        # which training images each batch takes
    train_set = make_shapes(config.shapes, config.train_images, seed_offset=1)
    val_set = make_shapes(config.shapes, config.val_images, seed_offset=2)
    train_images, train_masks = train_set.images.to(device), train_set.masks.to(device)   # moved once
    val_images, val_masks = val_set.images.to(device), val_set.masks.to(device)
    model = build_unet(torch.Generator().manual_seed(config.seed), device, depth=config.depth, base=config.base,
                       skips=config.skips, upsampling=config.upsampling)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.learning_rate, total_steps=config.steps)
    history: dict[str, list[float]] = {"step": [], "loss": [], "dice": [], "iou": []}
    shown = slice(0, config.shown)
    throttle = Throttle(config.steps, max_share=0.1)
    for step in range(config.steps):
        model.train()                                         # a lab may have set eval() during a pause
        index = torch.randint(config.train_images, (config.batch_size,), generator=order).to(device)
        loss = segmentation_loss(config.loss, model(train_images[index]), train_masks[index])
        _update(optimizer, schedule, loss)
        if not throttle.due(step):
            continue
        predicted = predict(model, val_images)
        metrics = {"loss": loss.item(), **scores(predicted, val_masks)}
        history["step"].append(step + 1)
        for name in ("loss", "dice", "iou"):
            history[name].append(metrics[name])
        extras = {"predicted": predicted[shown].cpu(), "images": val_set.images[shown], "masks": val_set.masks[shown],
                  "history": {k: list(v) for k, v in history.items()}, "device": str(device),
                  "model": {"unet": model, "validation": val_set}}
        with throttle.reporting():
            yield TrainingStep(step + 1, config.steps, metrics, extras, throttle.training_seconds)


def untrained(config: SegmentationConfig) -> UNet:
    """The network a run of `config` starts from: built from the run's seed as `train` builds it,
    on the CPU."""
    return build_unet(torch.Generator().manual_seed(config.seed), depth=config.depth, base=config.base,
                      skips=config.skips, upsampling=config.upsampling)


@torch.inference_mode()
def step_zero(config: SegmentationConfig) -> TrainingStep:
    """Before any run, on the CPU: the first `config.shown` held-out images, their true masks and the
    untrained network's predictions (`images`, `masks`, `predicted`, as a report has them), and the
    Dice and IoU of those predictions."""
    shown = make_shapes(config.shapes, config.val_images, seed_offset=2)    # the run's held-out set
    images, masks = shown.images[: config.shown].clone(), shown.masks[: config.shown].clone()   # not views: cached
    predicted = predict(untrained(config), images)
    return TrainingStep(0, config.steps, scores(predicted, masks),
                        {"images": images, "masks": masks, "predicted": predicted})


def _evaluated(model: UNet, images: torch.Tensor, features: dict | None = None) -> torch.Tensor:
    """`model` in eval mode on `images` moved to its device; the model's own mode is restored after."""
    training = model.training
    try:
        return model.eval()(images.to(device_of(model)), features)
    finally:
        model.train(training)


@torch.no_grad()
def predict(model: UNet, images: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> label maps (N, H, W), on the device `images` came from."""
    return _evaluated(model, images).argmax(1).to(images.device)


@torch.no_grad()
def feature_maps(model: UNet, image: torch.Tensor, channels: int = 8) -> dict[str, torch.Tensor]:
    """The first `channels` activation maps of each level for one (C, H, W) image, each scaled to
    [0, 1], on the CPU."""
    captured: dict[str, torch.Tensor] = {}
    _evaluated(model, image.unsqueeze(0), captured)
    maps = {}
    for name, value in captured.items():
        chosen = value[0, :channels].float().cpu()
        low = chosen.amin(dim=(1, 2), keepdim=True)
        high = chosen.amax(dim=(1, 2), keepdim=True)
        maps[name] = (chosen - low) / (high - low).clamp_min(1e-6)
    return maps


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB for images in [0, 1]."""
    return (10 * torch.log10(1 / F.mse_loss(a, b).clamp_min(1e-12))).item()


@dataclass(frozen=True)
class DenoiseConfig:
    sigma: float = 0.15           # std of the added Gaussian noise (pixels in [0, 1])
    steps: int = 300
    patch: int = 40               # training patches cut from the image itself
    batch_size: int = 16
    depth: int = 2
    base: int = 16
    learning_rate: float = 3e-3
    seed: int = 0
    device: str | None = None     # None: engine.device.pick_device()


def add_noise(clean: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """Gaussian noise clipped to [0, 1], as a stored picture is: the denoiser trains on exactly the
    kind of input it is scored on."""
    noise = torch.randn(clean.shape, generator=generator, device=generator.device)
    return (clean + sigma * noise.to(clean.device)).clamp(0, 1)


def denoise(config: DenoiseConfig, clean: torch.Tensor) -> Iterator[TrainingStep]:
    """Train a UNet on `run_device(config.device)` on random patches of `clean` (C, H, W) with fresh
    synthetic noise to predict the noise (residual learning), then clean the whole noisy image.
    Metrics: PSNR of noisy and denoised. Extras: `clean`, `noisy`, `denoised` (CPU), `model`, `device`."""
    device = run_device(config.device)
    random = RunRandom(config.seed, device)       # crops on the CPU, each batch's noise where it is added
    channels, height, width = clean.shape
    noisy = add_noise(clean, config.sigma, random.cpu)
    clean_on, noisy_on = clean.to(device), noisy.to(device)       # moved once for the run
    model = build_unet(torch.Generator().manual_seed(config.seed), device, in_channels=channels,
                       out_channels=channels, depth=config.depth, base=config.base)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.learning_rate, total_steps=config.steps)
    patch = min(config.patch, height, width)
    throttle = Throttle(config.steps, max_share=0.15)
    noisy_psnr = psnr(noisy, clean)
    for step in range(config.steps):
        model.train()
        top = torch.randint(height - patch + 1, (config.batch_size,), generator=random.cpu)
        left = torch.randint(width - patch + 1, (config.batch_size,), generator=random.cpu)
        batch = torch.stack([clean_on[:, t:t + patch, c:c + patch] for t, c in zip(top.tolist(), left.tolist(),
                                                                                    strict=True)])
        corrupted = add_noise(batch, config.sigma, random.device)
        loss = F.mse_loss(corrupted - model(corrupted), batch)
        _update(optimizer, schedule, loss)
        if not throttle.due(step):
            continue
        with torch.no_grad():
            restored = (noisy_on - _evaluated(model, noisy_on.unsqueeze(0))[0]).clamp(0, 1)
        metrics = {"loss": loss.item(), "noisy_psnr": noisy_psnr, "denoised_psnr": psnr(restored, clean_on)}
        extras = {"clean": clean, "noisy": noisy, "denoised": restored.cpu(), "model": model, "device": str(device)}
        with throttle.reporting():
            yield TrainingStep(step + 1, config.steps, metrics, extras, throttle.training_seconds)


def denoise_step_zero(config: DenoiseConfig, clean: torch.Tensor) -> TrainingStep:
    """Before any run: the noisy picture a run of `config` cleans (`noisy`, drawn from the run's seed
    as `denoise` draws it) beside `clean`, and its PSNR."""
    noisy = add_noise(clean, config.sigma, RunRandom(config.seed).cpu)
    return TrainingStep(0, config.steps, {"noisy_psnr": psnr(noisy, clean)}, {"clean": clean, "noisy": noisy})


PALETTE = torch.tensor([[0.05, 0.05, 0.05], [0.9, 0.2, 0.2], [0.2, 0.8, 0.3], [0.25, 0.45, 0.95]])


def colour_masks(masks: torch.Tensor) -> torch.Tensor:
    """Label maps (N, H, W) -> RGB (N, 3, H, W): background dark, circle red, square green, triangle blue."""
    return PALETTE[masks].permute(0, 3, 1, 2)


def panel_rows(images: torch.Tensor, masks: torch.Tensor, predicted: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Images, true masks and predictions (N, ...) as three RGB batches (N, 3, H, W): the grid's rows."""
    return images.expand(-1, 3, -1, -1), colour_masks(masks), colour_masks(predicted)


def shapes_input(image, size: int) -> torch.Tensor:
    """A user's picture (PIL) -> (1, size, size) like the generated data: greyscale, light shapes on
    a dark ground (inverted when the border is light)."""
    grey = torch.from_numpy(np.asarray(image.convert("L").resize((size, size)), dtype=np.float32)) / 255.0
    border = torch.cat([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    return (1 - grey if border.mean() > 0.5 else grey).unsqueeze(0)
