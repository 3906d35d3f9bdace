"""One hardened image loader for every upload, plus the bundled sample photos and textures.

Uploads are untrusted bytes: the file name and the browser's type filter prove nothing. We open
with an allow-list of decoders, refuse decompression bombs before decoding, apply the EXIF
orientation, and normalise every mode (RGBA, palette, CMYK, 16-bit) to 8-bit RGB or greyscale.
Problems raise `InputError` with a key the UI translates.
"""

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from engine.errors import InputError

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "assets" / "images"
PHOTOS = ("astronaut", "chelsea", "coffee", "camera")
TEXTURES = ("brick", "gravel", "grass")
FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")   # decoders we let Pillow use
UPLOAD_TYPES = ("png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff")   # the uploader's hint only


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 25_000_000          # the upload itself
    max_pixels: int = 40_000_000         # width x height, checked from the header before decoding
    min_side: int = 8                    # smaller images carry no usable content
    max_aspect: float = 20.0             # longer side / shorter side


@dataclass(frozen=True)
class LoadedImage:
    image: Image.Image          # mode "RGB" or "L", 8 bits per channel
    notes: tuple[str, ...]      # what was done to it, as message keys ("exif_rotated", ...)


def _to_8bit(image: Image.Image, notes: list[str]) -> Image.Image:
    """16- and 32-bit greyscale and float images -> 8-bit "L" by rescaling, not clipping."""
    array = np.asarray(image)
    if image.mode.startswith("I;16") or (image.mode == "I" and array.max(initial=0) > 255):
        array = array.astype(np.float64) * (255.0 / 65535.0)
    elif image.mode == "F":
        low, high = float(np.nanmin(array)), float(np.nanmax(array))
        array = (np.nan_to_num(array, nan=low) - low) * (255.0 / max(high - low, 1e-12))
    notes.append("rescaled_16bit")
    return Image.fromarray(np.clip(np.rint(array), 0, 255).astype(np.uint8), mode="L")


def _flatten(image: Image.Image, notes: list[str]) -> Image.Image:
    """Any mode -> "RGB" or "L"; transparent pixels become white."""
    if image.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        return _to_8bit(image, notes)
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        notes.append("transparency_flattened")
        return Image.alpha_composite(white, rgba).convert("RGB")
    if image.mode == "CMYK":
        notes.append("converted_cmyk")
        return image.convert("RGB")
    if image.mode in ("RGB", "L"):
        return image
    return image.convert("RGB")     # "1", "YCbCr", "LAB", "HSV"


def load_image(data: bytes, mode: Literal["RGB", "L"] = "RGB",
               limits: ImageLimits = ImageLimits()) -> LoadedImage:
    """Decode untrusted bytes into a safe 8-bit image, or raise InputError."""
    if not data:
        raise InputError("empty_file")
    if len(data) > limits.max_bytes:
        raise InputError("file_too_big", mb=round(len(data) / 1e6, 1), max_mb=limits.max_bytes // 1_000_000)
    notes: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=FORMATS)
            if image.width * image.height > limits.max_pixels:
                raise InputError("too_many_pixels", width=image.width, height=image.height,
                                 max_mp=limits.max_pixels // 1_000_000)
            if getattr(image, "n_frames", 1) > 1:
                notes.append("first_frame")
            image.seek(0)
            image.load()
        except InputError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise InputError("decompression_bomb") from exc
        except UnidentifiedImageError as exc:
            raise InputError("not_an_image", formats=", ".join(FORMATS)) from exc
        except (OSError, SyntaxError, ValueError, EOFError) as exc:   # truncated or corrupt data
            raise InputError("corrupt_image", detail=str(exc)[:120]) from exc
    if image.getexif().get(0x0112, 1) not in (0, 1):     # EXIF Orientation: 1 means upright
        notes.append("exif_rotated")
    image = _flatten(ImageOps.exif_transpose(image), notes)
    short, long = sorted(image.size)
    if short < limits.min_side:
        raise InputError("image_too_small", width=image.width, height=image.height, min_side=limits.min_side)
    if long / short > limits.max_aspect:
        raise InputError("extreme_aspect", width=image.width, height=image.height, max_aspect=limits.max_aspect)
    image = image.convert(mode) if image.mode != mode else image
    return LoadedImage(image, tuple(notes))


def fit_within(image: Image.Image, max_side: int) -> Image.Image:
    """Downscale (never upscale) so the longer side is at most `max_side`, keeping the aspect ratio."""
    if max(image.size) <= max_side:
        return image
    scale = max_side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def load_sample(name: str, mode: Literal["RGB", "L"] = "RGB") -> Image.Image:
    """A bundled photo or texture (see assets/ATTRIBUTION.md)."""
    if name not in PHOTOS + TEXTURES:
        raise InputError("unknown_sample", name=name)
    return load_image((SAMPLES_DIR / f"{name}.jpg").read_bytes(), mode).image


def to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL image -> float32 (C, H, W) in [0, 1]."""
    array = np.asarray(image, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0)


def to_image(tensor: torch.Tensor) -> Image.Image:
    """float (C, H, W) or (H, W) in [0, 1] -> 8-bit PIL image."""
    array = tensor.detach().float().clamp(0, 1).mul(255).round().byte().cpu()
    if array.ndim == 3:
        array = array.permute(1, 2, 0).squeeze(-1)
    return Image.fromarray(array.numpy())


def png_bytes(tensor: torch.Tensor) -> bytes:
    """float (C, H, W) in [0, 1] -> PNG file contents."""
    buffer = io.BytesIO()
    to_image(tensor).save(buffer, "PNG")
    return buffer.getvalue()


def digest(tensor: torch.Tensor) -> str:
    """A content hash of a tensor, to use as a cache key."""
    return hashlib.sha1(tensor.detach().cpu().contiguous().numpy().tobytes()).hexdigest()


@dataclass(frozen=True)
class DigitInput:
    tensor: torch.Tensor                 # (1, 28, 28) in [0, 1], white digit on black like MNIST
    stages: dict[str, Image.Image]       # greyscale, inverted (if needed), cropped, centred


def to_digit(image: Image.Image) -> DigitInput:
    """Any image -> an MNIST-like 28x28 input, the way MNIST itself was made: greyscale, light ink
    on a dark ground, the ink's bounding box scaled to fit 20x20, centred by its centre of mass."""
    grey = image.convert("L")
    array = np.asarray(grey, dtype=np.float32) / 255.0
    stages = {"greyscale": grey}
    border = np.concatenate([array[0], array[-1], array[:, 0], array[:, -1]])
    if border.mean() > 0.5:                        # dark ink on a light page: invert
        array = 1.0 - array
        stages["inverted"] = Image.fromarray(np.uint8(array * 255))
    background = float(np.median(array))           # paper grain and shadows -> 0, ink stays bright
    array = np.clip((array - background) / max(1.0 - background, 1e-6), 0, 1)
    ink = np.argwhere(array > 0.2)
    if len(ink):
        (top, left), (bottom, right) = ink.min(0), ink.max(0) + 1
        array = array[top:bottom, left:right]
    cropped = Image.fromarray(np.uint8(array * 255))
    stages["cropped"] = cropped
    scale = 20 / max(cropped.size)
    small = cropped.resize((max(1, round(cropped.width * scale)), max(1, round(cropped.height * scale))),
                           Image.Resampling.LANCZOS)
    canvas = np.zeros((28, 28), dtype=np.float32)
    patch = np.asarray(small, dtype=np.float32) / 255.0
    top, left = (28 - patch.shape[0]) // 2, (28 - patch.shape[1]) // 2
    canvas[top:top + patch.shape[0], left:left + patch.shape[1]] = patch
    total = canvas.sum()
    if total > 0:                                  # shift the centre of mass to the middle
        rows, cols = np.indices(canvas.shape)
        dy, dx = 13.5 - (rows * canvas).sum() / total, 13.5 - (cols * canvas).sum() / total
        canvas = np.roll(canvas, (round(dy), round(dx)), axis=(0, 1))
    stages["centred"] = Image.fromarray(np.uint8(canvas * 255)).resize((112, 112), Image.Resampling.NEAREST)
    return DigitInput(torch.from_numpy(canvas).unsqueeze(0), stages)


def tile(batch: torch.Tensor, columns: int) -> torch.Tensor:
    """(N, C, H, W) -> one (C, rows*H, columns*W) image, row by row, with a 1-pixel gap."""
    n, c, h, w = batch.shape
    rows = -(-n // columns)
    canvas = torch.ones(c, rows * (h + 1) - 1, columns * (w + 1) - 1) * 0.5
    for i in range(n):
        r, col = divmod(i, columns)
        canvas[:, r * (h + 1):r * (h + 1) + h, col * (w + 1):col * (w + 1) + w] = batch[i]
    return canvas
