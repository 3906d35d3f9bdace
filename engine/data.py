"""Datasets as in-memory tensors, batched by indexing (no per-sample Python in the hot loop).

Offline first: the bundled real MNIST subset always works. Full MNIST / Fashion-MNIST come from
torchvision only when the user asks and the machine is online.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.errors import InputError

ASSETS = Path(__file__).resolve().parents[1] / "assets"
MNIST_SUBSET = ASSETS / "data" / "mnist_5k.npz"
DOWNLOADABLE = ("MNIST", "FashionMNIST")


@dataclass(frozen=True)
class ImageSplit:
    """Images (N, 1, 28, 28) float32 in [0, 1] and labels (N,) int64, train and test."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    source: str          # "subset", "MNIST" or "FashionMNIST"


def _as_split(images: torch.Tensor, labels: torch.Tensor, num_train: int, source: str) -> ImageSplit:
    x = images.to(torch.float32).div_(255.0).unsqueeze(1)      # (N, 28, 28) uint8 -> (N, 1, 28, 28)
    y = labels.to(torch.int64)
    return ImageSplit(x[:num_train], y[:num_train], x[num_train:], y[num_train:], source)


def load_digits() -> ImageSplit:
    """The bundled 5,000 real MNIST digits: 4,000 train / 1,000 test, 400 / 100 per class."""
    with np.load(MNIST_SUBSET) as archive:
        images = torch.from_numpy(archive["images"])
        labels = torch.from_numpy(archive["labels"])
        num_train = int(archive["num_train"])
    return _as_split(images, labels, num_train, "subset")


def download_dataset(name: str, root: Path) -> ImageSplit:
    """Full MNIST or Fashion-MNIST (60k/10k) through torchvision; raises InputError when offline."""
    if name not in DOWNLOADABLE:
        raise InputError("unknown_dataset", name=name)
    from torchvision import datasets  # heavy import, only when the user asks

    cls = getattr(datasets, name)
    try:
        train = cls(str(root), train=True, download=True)
        test = cls(str(root), train=False, download=True)
    except (OSError, RuntimeError) as exc:   # URLError is an OSError; torchvision wraps some
        raise InputError("download_failed", name=name, reason=str(exc)[:200]) from exc
    images = torch.cat([train.data, test.data])
    labels = torch.cat([train.targets, test.targets])
    return _as_split(images, labels, len(train.data), name)


def load_dataset(name: str, root: Path) -> tuple[ImageSplit, InputError | None]:
    """"subset" (bundled) or a downloadable dataset; if the download fails, the bundled subset
    and the error, so the page can explain the fallback instead of failing."""
    if name == "subset":
        return load_digits(), None
    try:
        return download_dataset(name, root), None
    except InputError as error:
        return load_digits(), error


def minibatches(num_items: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Endless stream of index batches: a fresh random permutation per epoch, last partial batch dropped
    unless the data is smaller than one batch."""
    batch_size = min(batch_size, num_items)
    while True:
        order = torch.randperm(num_items, generator=generator)
        for start in range(0, num_items - batch_size + 1, batch_size):
            yield order[start:start + batch_size]
