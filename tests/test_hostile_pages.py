"""Hostile and broken uploads through the pages' real upload path (AppTest's file_uploader): each
one gives a result or a translated message, never a traceback, and the user's settings and
earlier results stay. The corpus is made here, by the tests."""

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw


def _encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _digit(mode: str = "RGB", size=(90, 120)) -> Image.Image:
    image = Image.new(mode, size, "white" if mode != "RGBA" else (255, 255, 255, 0))
    ImageDraw.Draw(image).line([(45, 10), (45, 110)], fill="black" if mode != "RGBA" else (0, 0, 0, 255), width=12)
    return image


def image_corpus() -> dict[str, tuple[bytes, bool]]:
    """name -> (file bytes, whether a result is expected rather than a message)."""
    png = _encoded(_digit(), "PNG")
    exif = Image.Exif()
    exif[0x0112] = 6                                                   # rotate 90 degrees on display
    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (64, 1))
    frames = [_digit(), Image.new("RGB", (90, 120), "black")]
    animated = io.BytesIO()
    frames[0].save(animated, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    palette = _digit().convert("P")
    return {
        "zero-byte.png": (b"", False),
        "truncated.png": (png[: len(png) // 2], False),
        "text.jpg": (b"this is not an image at all\n", False),
        "svg-renamed.png": (b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>', False),
        "scan.tiff": (_encoded(_digit(), "TIFF"), True),
        "bomb.png": (_encoded(Image.new("1", (20000, 20000)), "PNG"), False),
        "dot.png": (_encoded(Image.new("RGB", (1, 1)), "PNG"), False),
        "strip.png": (_encoded(Image.new("RGB", (10000, 20)), "PNG"), False),
        "deep.png": (_encoded(Image.fromarray(ramp), "PNG"), True),
        "cmyk.jpg": (_encoded(_digit().convert("CMYK"), "JPEG"), True),
        "palette.gif": (_encoded(palette, "GIF", transparency=0), True),
        "animated.gif": (animated.getvalue(), True),
        "rotated.jpg": (_encoded(_digit(), "JPEG", exif=exif), True),
        "alpha.png": (_encoded(_digit("RGBA"), "PNG"), True),
        "fine.webp": (_encoded(_digit(), "WEBP"), True),
    }


def csv_corpus() -> dict[str, tuple[bytes, bool]]:
    long = "t,v\n" + "\n".join(f"{i},{np.sin(i / 9):.4f}" for i in range(30000))
    return {
        "empty.csv": (b"", False),
        "header-only.csv": (b"t,v\n", False),
        "words.csv": (b"name,town\nann,rome\nbob,oslo\n", False),
        "nan-inf.csv": (("v\n" + "\n".join("nan" if i % 17 == 0 else "inf" if i % 23 == 0 else str(i % 7)
                                            for i in range(400))).encode(), True),
        "one-column.csv": (("v\n" + "\n".join(str(i % 11) for i in range(300))).encode(), True),
        "constant.csv": (("v\n" + "1\n" * 300).encode(), False),
        "long.csv": (long.encode(), True),
        "binary.csv": (bytes(range(256)) * 4, False),
    }


def assert_clean(app_test):
    assert not app_test.exception, [e.message for e in app_test.exception]
    for error in app_test.error:                       # a message, in words, never a raw key
        assert error.value and not error.value.startswith("errors.")


@pytest.mark.parametrize("lang", ["zh"])
def test_every_hostile_image_through_the_multitask_upload(app, lang):
    app_test = app("pages/multitask.py", lang)
    app_test.slider(key="multitask_steps").set_value(50).run()
    app_test.button(key="act_multitask_train").click().run()
    app_test.radio(key="multitask_input").set_value("upload").run()
    for name, (content, works) in image_corpus().items():
        app_test.file_uploader(key="act_multitask_upload").set_value((name, content, "application/octet-stream"))
        app_test.run()
        assert_clean(app_test)
        assert app_test.slider(key="multitask_steps").value == 50, name          # settings stay
        assert len(app_test.dataframe) >= 1, name                                  # the comparison table stays
        if works:
            assert not app_test.error and len(app_test.dataframe) == 2, name      # + the answers table
        else:
            assert len(app_test.error) == 1 and len(app_test.dataframe) == 1, name


@pytest.mark.parametrize("lang", ["en"])
def test_every_hostile_csv_through_the_lstm_upload(app, lang):
    app_test = app("pages/lstm.py", lang)
    app_test.slider(key="lstm_window").set_value(20).run()
    app_test.radio(key="lstm_source").set_value("csv").run()
    for name, (content, works) in csv_corpus().items():
        app_test.file_uploader(key="act_lstm_csv").set_value((name, content, "text/csv")).run()
        assert_clean(app_test)
        assert app_test.slider(key="lstm_window").value == 20, name
        if works:
            assert not app_test.error and len(app_test.get("plotly_chart")) == 1, name   # the series is drawn
        else:
            assert len(app_test.error) == 1 and not app_test.get("plotly_chart"), name
