"""Hostile and awkward uploads: every one either loads correctly or raises a translatable InputError."""

import io

import numpy as np
import pytest
from PIL import Image

from engine import images, tabular
from engine.errors import InputError
from ui.i18n import catalog


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def rejected(data: bytes, key: str, **kwargs) -> InputError:
    with pytest.raises(InputError) as error:
        images.load_image(data, **kwargs)
    assert error.value.key == key
    assert f"errors.{key}" in catalog()           # the page has a message for it, in both languages
    return error.value


def photo(size=(64, 48)) -> Image.Image:
    gradient = np.linspace(0, 255, size[0] * size[1] * 3).reshape(size[1], size[0], 3)
    return Image.fromarray(gradient.astype(np.uint8))


def test_zero_bytes_text_svg_and_truncated_files_are_refused():
    rejected(b"", "empty_file")
    rejected(b"name,value\n1,2\n", "not_an_image")                   # text renamed to .jpg
    rejected(b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "not_an_image")
    png = encode(photo((256, 256)), "PNG")
    rejected(png[: len(png) // 2], "corrupt_image")


def test_oversized_uploads_and_decompression_bombs_are_refused_before_decoding():
    rejected(b"\x89PNG" + b"\x00" * 100, "file_too_big", limits=images.ImageLimits(max_bytes=50))
    rejected(encode(Image.new("1", (7000, 7000)), "PNG"), "too_many_pixels")    # 49 MP, a few kB on disk
    rejected(encode(Image.new("1", (20000, 20000)), "PNG"), "decompression_bomb")  # past Pillow's own limit


def test_tiny_and_extreme_aspect_images_are_refused():
    rejected(encode(Image.new("RGB", (1, 1)), "PNG"), "image_too_small")
    rejected(encode(Image.new("RGB", (10000, 20)), "PNG"), "extreme_aspect")


def test_sixteen_bit_png_is_rescaled_not_clipped():
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (16, 1))
    loaded = images.load_image(encode(Image.fromarray(ramp), "PNG"), mode="L")
    values = np.asarray(loaded.image)
    assert loaded.image.mode == "L" and "rescaled_16bit" in loaded.notes
    assert values.min() == 0 and values.max() == 255 and len(np.unique(values)) > 200


def test_cmyk_jpeg_becomes_the_right_rgb():
    cyan = Image.new("CMYK", (32, 32), (255, 0, 0, 0))
    loaded = images.load_image(encode(cyan, "JPEG", quality=95))
    red, green, blue = np.asarray(loaded.image)[16, 16]
    assert loaded.image.mode == "RGB" and "converted_cmyk" in loaded.notes
    assert red < 40 and green > 200 and blue > 200


def test_transparency_is_composited_on_white():
    rgba = Image.new("RGBA", (32, 32), (255, 0, 0, 0))
    rgba.paste((0, 0, 255, 255), (0, 0, 16, 32))
    pixels = np.asarray(images.load_image(encode(rgba, "PNG")).image)
    assert tuple(pixels[5, 5]) == (0, 0, 255) and tuple(pixels[5, 25]) == (255, 255, 255)

    palette = Image.new("P", (32, 32), 0)
    palette.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    palette.paste(1, (0, 0, 16, 32))
    loaded = images.load_image(encode(palette, "GIF", transparency=0))
    pixels = np.asarray(loaded.image)
    assert tuple(pixels[5, 5]) == (0, 255, 0) and tuple(pixels[5, 25]) == (255, 255, 255)
    assert "transparency_flattened" in loaded.notes


def test_animated_gif_uses_its_first_frame():
    frames = [Image.new("RGB", (20, 20), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    loaded = images.load_image(buffer.getvalue())
    red, _, blue = np.asarray(loaded.image)[10, 10]
    assert "first_frame" in loaded.notes and red > 200 and blue < 50


def test_exif_orientation_is_applied():
    wide = Image.new("RGB", (40, 20), (0, 0, 0))
    wide.paste((255, 255, 255), (0, 0, 10, 20))          # white band on the left
    exif = Image.Exif()
    exif[0x0112] = 6                                      # "rotate 90° clockwise to display"
    loaded = images.load_image(encode(wide, "JPEG", exif=exif, quality=95))
    assert loaded.image.size == (20, 40) and "exif_rotated" in loaded.notes
    assert np.asarray(loaded.image)[2, 10].mean() > 200   # the band is now on top


def test_tiff_webp_bmp_load_and_greyscale_mode_works():
    for fmt in ("TIFF", "WEBP", "BMP"):
        loaded = images.load_image(encode(photo(), fmt))
        assert loaded.image.size == (64, 48) and loaded.image.mode == "RGB"
    assert images.load_image(encode(photo(), "PNG"), mode="L").image.mode == "L"


def test_samples_load_and_tensors_round_trip():
    for name in images.PHOTOS + images.TEXTURES:
        image = images.load_sample(name)
        assert image.mode == "RGB" and max(image.size) <= 512
    tensor = images.to_tensor(images.load_sample("chelsea"))
    assert tensor.shape[0] == 3 and tensor.min() >= 0.0 and tensor.max() <= 1.0
    assert images.to_image(tensor).tobytes() == images.load_sample("chelsea").tobytes()
    assert max(images.fit_within(images.load_sample("astronaut"), 128).size) == 128
    with pytest.raises(InputError, match="unknown_sample"):
        images.load_sample("../../etc/passwd")


@pytest.mark.parametrize(("content", "key"), [
    (b"", "empty_file"),
    (b"   \n", "empty_file"),
    (b"x,y\n", "csv_no_rows"),
    (b"name,city\nann,paris\nbob,rome\n", "csv_need_two_numeric"),
    (b"x\n1\n2\n3\n", "csv_need_two_numeric"),
    (b'x,y\n"1,2\n', "csv_unreadable"),
])
def test_bad_csv_files_get_a_clear_error(content, key):
    with pytest.raises(InputError) as error:
        tabular.read_numeric_csv(content)
    assert error.value.key == key and f"errors.{key}" in catalog()


def test_csv_with_gaps_separators_and_size_limits():
    table = tabular.read_numeric_csv(b"a;b;label\n1;2;x\n3;nan;y\n5;inf;z\n7;8;w\n9;10;v\n11;12;u\n")
    assert list(table.columns) == ["a", "b"]
    x, y, dropped = tabular.paired_finite(table.columns["a"], table.columns["b"])
    assert dropped == 2 and x.tolist() == [1, 7, 9, 11] and y.tolist() == [2, 8, 10, 12]
    with pytest.raises(InputError, match="too_few_points"):
        tabular.paired_finite(np.array([1.0, np.nan]), np.array([1.0, 2.0]))

    long = b"x,y\n" + b"".join(f"{i},{2 * i}\n".encode() for i in range(30_000))
    sampled = tabular.read_numeric_csv(long)
    assert sampled.sampled and sampled.total_rows == 30_000 and len(sampled.columns["x"]) == 20_000
    assert np.array_equal(sampled.columns["y"], 2 * sampled.columns["x"])
    with pytest.raises(InputError, match="file_too_big"):
        tabular.read_numeric_csv(long, tabular.TableLimits(max_bytes=1000))


def test_values_beyond_float32_are_refused_with_a_message():
    """1e39 is finite in float64 but inf in float32, where the models train."""
    with pytest.raises(InputError) as raised:
        tabular.paired_finite(np.arange(1.0, 9.0) * 1e39, np.arange(8.0))
    assert raised.value.key == "values_too_large"
    x, _, _ = tabular.paired_finite(np.arange(1.0, 9.0) * 1e14, np.arange(8.0))
    assert len(x) == 8
