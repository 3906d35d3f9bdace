"""Hostile and broken uploads through the pages' real upload path (AppTest's file_uploader, and
st.camera_input where a page has one): each one gives a result or exactly one translated message,
never a traceback, and the user's settings and earlier results stay. The corpus is made here, by
the tests; the message a refused file must give comes from the engine's own parser, translated into
the page's language, so a raw key, a message in the wrong language or a second message all fail."""

import io
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image, ImageDraw

from engine import images
from engine.errors import InputError
from engine.tabular import paired_finite, read_numeric_csv
from tests.conftest import train
from ui.i18n import translate


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
    floats = Image.fromarray(np.random.default_rng(0).normal(size=(40, 40)).astype(np.float32))
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
        "smallest.png": (_encoded(Image.new("RGB", (8, 8), "white"), "PNG"), True),          # at min_side
        "thinnest.bmp": (_encoded(Image.new("L", (160, 8), 0), "BMP"), True),                 # at max_aspect
        "one-bit.bmp": (_encoded(_digit().convert("1"), "BMP"), True),
        "float.tiff": (_encoded(floats, "TIFF"), True),
        "grey-alpha.png": (_encoded(_digit().convert("LA"), "PNG"), True),
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


def regression_csv_corpus() -> dict[str, tuple[bytes, bool]]:
    """Page 63 needs two numeric columns (x and y): the shared CSVs with one column are refused
    there, and a few two-column kinds are added."""
    one_column = {"one-column.csv", "nan-inf.csv"}
    corpus = {name: (content, works and name not in one_column) for name, (content, works) in csv_corpus().items()}
    gaps = "x,y\n" + "\n".join(f"{i},{2 * i}" if i % 5 else f"{i},n/a" if i % 10 else f"inf,{i}" for i in range(80))
    return corpus | {
        "gaps.csv": (gaps.encode(), True),                                               # rows dropped, not refused
        "semicolons.txt": (("x;y\n" + "\n".join(f"{i};{i * i}" for i in range(40))).encode(), True),
        "tabs.tsv": (("x\ty\n" + "\n".join(f"{i}\t{-i}" for i in range(40))).encode(), True),
        "latin-1.csv": (("größe,wert\n" + "\n".join(f"{i},{i % 3}" for i in range(40))).encode("latin-1"), True),
        "constant-x.csv": (("x,y\n" + "\n".join(f"3,{i}" for i in range(40))).encode(), True),
        "three-rows.csv": (b"x,y\n1,2\n2,4\n3,6\n", False),                           # too few points
    }


def expected_message(parse: Callable[[bytes], object], content: bytes, lang: str) -> str | None:
    """The message a page must show for `content`, in `lang`: what the engine's own parser raises,
    translated; None when the parser takes the file."""
    try:
        parse(content)
    except InputError as error:
        return translate(f"errors.{error.key}", lang, **error.params)
    return None


def read_image(content: bytes):
    return images.load_image(content)


def read_xy(content: bytes):
    """What page 63 does with an upload: two numeric columns, the first two as x and y."""
    table = read_numeric_csv(content)
    x_name, y_name = list(table.columns)[:2]
    return paired_finite(table.columns[x_name], table.columns[y_name])


def _is_read(content: bytes) -> bool:
    """Page 63 keeps any file it can read as a table (even one it then cannot train on)."""
    try:
        read_numeric_csv(content)
    except InputError:
        return False
    return True


def upload(app_test, key: str, name: str, content: bytes, mime: str = "application/octet-stream"):
    """Send one file through the page's real uploader; its name uses an extension the uploader
    accepts (an empty list accepts any), as the browser would require."""
    allowed = app_test.file_uploader(key=key).allowed_type
    assert not allowed or f".{name.rsplit('.', 1)[-1].lower()}" in allowed, (name, allowed)
    app_test.file_uploader(key=key).set_value((name, content, mime)).run()


def assert_outcome(app_test, name: str, works: bool, message: str | None) -> None:
    """Clean, and either no message at all (the file is taken) or exactly the expected one."""
    assert_clean(app_test)
    assert works == (message is None), f"{name}: the corpus and the engine's parser disagree"
    assert [e.value for e in app_test.error] == ([] if works else [message]), name


def captions(app_test) -> list[str]:
    return [c.value for c in app_test.caption] + [c for image in app_test.image for c in image.captions]


def metric_values(app_test) -> list[tuple[str, str]]:
    return [(m.label, m.value) for m in app_test.metric]


def opening(key: str, lang: str) -> str:
    """A message's fixed text before its first placeholder, to recognise it whatever the numbers."""
    return translate(key, lang).split("{")[0]


def train_first(app_test, sliders: dict, button: str, metrics: int) -> list:
    """Set the sliders, train once, and return the metrics shown (which every upload must leave)."""
    for key, value in sliders.items():
        app_test.slider(key=key).set_value(value).run()
    train(app_test, button.removeprefix("act_"))
    assert_clean(app_test)
    shown = metric_values(app_test)
    assert len(shown) == metrics
    return shown


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh"])
def test_every_hostile_image_through_the_multitask_upload(app, lang):
    app_test = app("pages/multitask.py", lang)
    app_test.slider(key="multitask_steps").set_value(50).run()
    train(app_test, "multitask_train")
    app_test.radio(key="multitask_input").set_value("upload").run()
    kept = False                                               # a refused file leaves the last good one in use
    for name, (content, works) in image_corpus().items():
        app_test.file_uploader(key="act_multitask_upload").set_value((name, content, "application/octet-stream"))
        app_test.run()
        assert_clean(app_test)
        assert app_test.slider(key="multitask_steps").value == 50, name          # settings stay
        assert len(app_test.dataframe) >= 1, name                                  # the comparison table stays
        kept = kept or works
        if works:
            assert not app_test.error and len(app_test.dataframe) == 2, name      # + the answers table
        else:                                                                      # + the kept file's answers
            assert len(app_test.error) == 1 and len(app_test.dataframe) == 1 + kept, name


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
        else:       # refused with a message; the last good file (if any) stays in use
            assert len(app_test.error) == 1 and len(app_test.get("plotly_chart")) <= 1, name


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh"])
def test_every_hostile_csv_through_the_regression_upload(app, lang):
    """Page 63: a taken file is loaded (its name and row count shown) and trains to finite metrics;
    a refused one gives its one message, turns Train off, and the last result stays on screen."""
    app_test = app("pages/regression.py", lang)
    app_test.slider(key="regression_degree").set_value(3).run()
    app_test.slider(key="regression_steps").set_value(30).run()
    train(app_test, "regression_train")                                              # a first result, generated data
    assert_clean(app_test)
    app_test.radio(key="regression_source").set_value("csv").run()
    shown = metric_values(app_test)
    assert len(shown) == 4
    usable = False          # does the file in use train? A file that cannot be read leaves the last one in use;
    for name, (content, works) in regression_csv_corpus().items():      # one that is read becomes the file in use
        upload(app_test, "act_regression_csv", name, content, "text/csv")
        usable = works or (usable and not _is_read(content))
        assert_outcome(app_test, name, works, expected_message(read_xy, content, lang))
        assert app_test.slider(key="regression_degree").value == 3, name                # settings stay
        assert app_test.slider(key="regression_steps").value == 30, name
        assert app_test.radio(key="regression_source").value == "csv", name
        assert metric_values(app_test) == shown, name                                   # the last result stays
        assert app_test.button(key="act_regression_train").proto.disabled != usable, name
        if works:
            rows = read_numeric_csv(content).total_rows
            assert translate("regression.csv_loaded", lang, name=name, rows=rows) in captions(app_test), name
            dropped = read_xy(content)[2]                                               # rows without x or y
            assert (translate("regression.csv_dropped", lang, count=dropped) in captions(app_test)) == bool(dropped)
            train(app_test, "regression_train")                                          # and it trains
            assert_clean(app_test)
            assert not app_test.error, name
            assert app_test.session_state["regression_train"].data_key[0] == name
            shown = metric_values(app_test)
            assert len(shown) >= 2 and all(np.isfinite(float(v)) for _, v in shown[:2]), (name, shown)


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en"])
def test_every_hostile_image_through_the_adversarial_upload(app, lang):
    """Page 65: a taken image is labelled by the standard model and attacked (two probability
    charts); a refused one gives its one message, and the trained models' curves and metrics stay."""
    app_test = app("pages/adversarial.py", lang)
    app_test.slider(key="adversarial_steps").set_value(50).run()
    train(app_test, "adversarial_train")
    assert_clean(app_test)
    app_test.slider(key="adversarial_attack_epsilon").set_value(0.3).run()
    app_test.radio(key="adversarial_input").set_value("upload").run()
    shown = metric_values(app_test)
    assert len(shown) == 6                                  # FGSM and PGD for both models
    labels = {translate("adversarial.upload_label", lang, label=digit) for digit in range(10)}
    kept = False                                            # a refused file leaves the last good one in use
    for name, (content, works) in image_corpus().items():
        upload(app_test, "act_adversarial_upload", name, content)
        assert_outcome(app_test, name, works, expected_message(read_image, content, lang))
        assert app_test.slider(key="adversarial_steps").value == 50, name
        assert app_test.slider(key="adversarial_attack_epsilon").value == 0.3, name
        assert app_test.radio(key="adversarial_input").value == "upload", name
        assert metric_values(app_test) == shown, name                                   # the models' result stays
        labelled = labels & set(captions(app_test))
        kept = kept or works
        if kept:
            assert len(labelled) == 1 and len(app_test.get("plotly_chart")) == 3, name  # curves + two attacks
        else:
            assert not labelled and len(app_test.get("plotly_chart")) == 1, name       # the curves only


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh"])
def test_every_hostile_image_through_the_unet_shapes_upload(app, lang):
    """Page 66, segmentation: a taken image is converted and segmented (its caption names the
    training size); a refused one gives its one message, the last good picture stays segmented
    (and the page says it is kept), and the trained model's metrics stay."""
    app_test = app("pages/unet.py", lang)
    for key, value in {"unet_depth": 2, "unet_steps": 20}.items():
        app_test.slider(key=key).set_value(value).run()
    train(app_test, "unet_train")
    assert_clean(app_test)
    shown = metric_values(app_test)
    assert len(shown) == 2
    size = app_test.session_state["unet_train"].config.shapes.size
    segmented = translate("unet.shapes_caption", lang, size=size)
    kept = None
    for name, (content, works) in image_corpus().items():
        upload(app_test, "act_unet_shapes", name, content)
        assert_outcome(app_test, name, works, expected_message(read_image, content, lang))
        kept = name if works else kept
        assert app_test.slider(key="unet_depth").value == 2, name
        assert metric_values(app_test) == shown, name
        assert len(app_test.get("plotly_chart")) == 1, name                             # the Dice/IoU curves stay
        assert (segmented in captions(app_test)) == (kept is not None), name
        if not works and kept is not None:
            assert translate("data.kept_upload", lang, name=kept) in captions(app_test), name


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en"])
def test_every_hostile_image_through_the_unet_denoise_upload(app, lang):
    """Page 66, denoising (the uploader under "your own photo"): a taken image becomes the kept photo;
    a refused one gives its one message, the last good photo is kept (and said so), the denoise
    button stays on, and the earlier denoised result stays."""
    app_test = app("pages/unet.py", lang)
    app_test.slider(key="unet_sigma").set_value(0.2).run()
    app_test.selectbox(key="unet_denoise_source").set_value("upload").run()
    upload(app_test, "act_unet_denoise_upload", "first.png", _encoded(_digit(size=(16, 20)), "PNG"), "image/png")
    app_test.slider(key="unet_denoise_steps").set_value(50).run()
    train(app_test, "unet_denoise")                                                  # a first result
    assert_clean(app_test)
    record = app_test.session_state["unet_denoise"]
    result_captions = [c for c in captions(app_test) if "PSNR" in c] + [translate("unet.original", lang)]
    assert record.complete and len(result_captions) == 3
    kept = "first.png"
    for name, (content, works) in image_corpus().items():
        upload(app_test, "act_unet_denoise_upload", name, content)
        assert_outcome(app_test, name, works, expected_message(read_image, content, lang))
        kept = name if works else kept
        assert app_test.slider(key="unet_sigma").value == 0.2, name
        assert app_test.slider(key="unet_denoise_steps").value == 50, name
        assert app_test.selectbox(key="unet_denoise_source").value == "upload", name
        assert not app_test.button(key="act_unet_denoise").proto.disabled, name
        if not works:
            assert translate("data.kept_upload", lang, name=kept) in captions(app_test), name
        assert app_test.session_state["unet_denoise"] is record, name                  # the result stays,
        assert set(result_captions) <= set(captions(app_test)), name                   # on screen too


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh"])
def test_every_hostile_image_through_the_autoencoder_upload(app, lang):
    """Page 67: a taken image is reconstructed and scored against the test digits (a histogram); a
    refused one gives its one message, and the training result and latent map stay."""
    app_test = app("pages/autoencoder.py", lang)
    shown = train_first(app_test, {"autoencoder_noise": 0.1, "autoencoder_steps": 50}, "act_autoencoder_train",
                        metrics=2)
    scored = opening("autoencoder.anomaly", lang)
    kept = False                                            # a refused file leaves the last good one in use
    for name, (content, works) in image_corpus().items():
        upload(app_test, "act_autoencoder_upload", name, content)
        assert_outcome(app_test, name, works, expected_message(read_image, content, lang))
        assert app_test.slider(key="autoencoder_noise").value == 0.1, name
        assert metric_values(app_test) == shown, name
        anomaly = [m for m in app_test.markdown if m.value.startswith(scored)]
        kept = kept or works
        if kept:
            assert len(anomaly) == 1 and len(app_test.get("plotly_chart")) == 3, name  # losses, latent, histogram
        else:
            assert not anomaly and len(app_test.get("plotly_chart")) == 2, name


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en"])
def test_every_hostile_image_through_the_style_transfer_uploads(app, lang):
    """Page 70, content and style uploads and the content camera: a taken image becomes the kept
    picture (with a caption for each conversion made); a refused one gives its one message, the
    last good picture is kept (and said so), Run stays on, and the earlier result stays."""
    app_test = app("pages/style_transfer.py", lang)
    app_test.radio(key="style_transfer_content_source").set_value("upload")
    app_test.radio(key="style_transfer_style_source").set_value("upload").run()
    upload(app_test, "act_style_transfer_content_upload", "content.png", _encoded(_digit(), "PNG"), "image/png")
    upload(app_test, "act_style_transfer_style_upload", "style.jpg", _encoded(_digit(), "JPEG"), "image/jpeg")
    app_test.slider(key="style_transfer_size").set_value(128)
    app_test.slider(key="style_transfer_steps").set_value(5)
    app_test.toggle(key="style_transfer_coarse").set_value(False)
    app_test.toggle(key="style_transfer_preserve_colors").set_value(True).run()
    train(app_test, "style_transfer_run")                                            # a first result
    assert_clean(app_test)
    record = app_test.session_state["style_transfer_run"]
    assert record.complete
    kept = {"content": "content.png", "style": "style.jpg"}
    passes = [("content", "act_style_transfer_content_upload", False),
              ("style", "act_style_transfer_style_upload", False),
              ("content", "act_style_transfer_content_camera", True)]
    for role, key, camera in passes:
        if camera:                                       # the camera keeps its own last good photo
            app_test.radio(key="style_transfer_content_source").set_value("camera").run()
            kept["content"] = None
        for name, (content, works) in image_corpus().items():
            if camera:                                   # a camera sends one JPEG-named file, whatever it holds
                name = name.rsplit(".", 1)[0] + ".jpg"
                app_test.camera_input(key=key).set_value((name, content, "image/jpeg")).run()
            else:
                upload(app_test, key, name, content)
            message = expected_message(read_image, content, lang)
            assert_outcome(app_test, f"{key}: {name}", works, message)
            if works:
                kept[role] = name
                notes = [translate(f"errors.note_{note}", lang) for note in images.load_image(content).notes]
                assert set(notes) <= set(captions(app_test)), (key, name, notes)
            elif kept[role] is not None:
                assert translate("data.kept_upload", lang, name=kept[role]) in captions(app_test), name
            kept_state = app_test.session_state[f"{key.removeprefix('act_')}_kept"] if kept[role] else None
            assert kept_state is None or kept_state[0][0] == kept[role], (key, name)
            assert app_test.button(key="act_style_transfer_run").proto.disabled == (kept[role] is None), name
            assert app_test.slider(key="style_transfer_size").value == 128, name
            assert app_test.toggle(key="style_transfer_preserve_colors").value is True, name
            assert app_test.session_state["style_transfer_run"] is record, name
            shown = [b.key for b in app_test.get("download_button")]
            assert shown.count("act_style_transfer_download") == 1, name           # the result is still shown


def beyond_float32() -> dict[str, bytes]:
    """Numbers a float64 parser takes as finite but the float32 model cannot hold."""
    return {
        "x-beyond-float32.csv": ("x,y\n" + "\n".join(f"{i}e39,{i}" for i in range(1, 60))).encode(),
        "y-beyond-float32.csv": ("x,y\n" + "\n".join(f"{i},{i}e39" for i in range(1, 60))).encode(),
    }


@pytest.mark.parametrize("name", list(beyond_float32()))
def test_huge_numbers_through_the_regression_upload(app, name):
    """Page 63: a CSV of huge (but float64-finite) numbers is refused with the one translated
    message that says why, and Train is off; the settings stay."""
    app_test = app("pages/regression.py", "zh")
    app_test.slider(key="regression_steps").set_value(30).run()
    app_test.radio(key="regression_source").set_value("csv").run()
    upload(app_test, "act_regression_csv", name, beyond_float32()[name], "text/csv")
    assert_clean(app_test)
    assert [error.value for error in app_test.error] == [
        translate("errors.values_too_large", "zh", largest="5.9e+40", limit="1e15")]
    assert app_test.button(key="act_regression_train").proto.disabled
    assert app_test.slider(key="regression_steps").value == 30
