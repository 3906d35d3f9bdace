"""Every listed page through the real entry file (AppTest), in both languages."""

import io
import json
import subprocess
import sys

import pytest
from PIL import Image, ImageDraw

from tests.conftest import ENTRY, WAIT, train
from ui.catalog import CONCEPTS
from ui.i18n import translate

PAGES = [None] + [concept.page_path for concept in CONCEPTS if concept.available]


def assert_clean(app_test):
    assert not app_test.exception, [e.message for e in app_test.exception]


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_in_both_languages(app, page, lang):
    app_test = app(page, lang)
    assert_clean(app_test)
    title = app_test.title[0].value
    expected = translate("home.title", lang) if page is None else translate(
        f"catalog.{page.removeprefix('pages/').removesuffix('.py')}", lang)
    assert expected in title
    assert app_test.radio(key="lang").value == lang


def test_language_switch_keeps_the_page_and_persists(app):
    app_test = app("pages/regression.py")
    app_test.slider(key="regression_degree").set_value(7).run()
    app_test.radio(key="lang").set_value("zh").run()
    assert_clean(app_test)
    assert "回归" in app_test.title[0].value                       # same page, now in Chinese
    assert app_test.query_params["lang"] == "zh"                  # and in the URL
    app_test.switch_page("pages/home.py").run()
    assert translate("home.title", "zh") == app_test.title[0].value
    app_test.switch_page("pages/regression.py").run()
    assert app_test.slider(key="regression_degree").value == 7     # settings survive a page switch
    app_test.radio(key="lang").set_value("en").run()
    assert "lang" not in app_test.query_params


def test_regression_trains_and_keeps_its_result(app):
    app_test = app("pages/regression.py")
    assert translate("regression.need_model", "en") in [c.value for c in app_test.caption]
    app_test.slider(key="regression_steps").set_value(200).run()
    train(app_test, "regression_train")
    assert_clean(app_test)
    metrics = {metric.label: float(metric.value.rstrip(" %")) for metric in app_test.metric}
    assert metrics["Training MSE"] < 2.0 and metrics["Least-squares training MSE"] < metrics["Training MSE"] + 1e-6
    charts = app_test.get("plotly_chart")
    assert len(charts) == 2 and '"gradient descent"' in charts[0].proto.spec
    assert any(m.value.startswith("The trained model predicts **y = ") for m in app_test.markdown)
    app_test.radio(key="lang").set_value("zh").run()              # the result survives a rerun
    assert app_test.metric[0].label == "训练 MSE"
    app_test.slider(key="regression_degree").set_value(2).run()
    assert translate("common.stale_result", "zh") in [c.value for c in app_test.caption]


@pytest.mark.slow
def test_regression_csv_upload_good_and_bad(app):
    app_test = app("pages/regression.py", "zh")
    app_test.radio(key="regression_source").set_value("csv").run()
    assert_clean(app_test)
    assert translate("regression.csv_hint", "zh") in [i.value for i in app_test.info]     # nothing uploaded yet
    assert app_test.button(key="act_regression_train").proto.disabled                     # Run is off
    rows = "\n".join(f"{x},{2 * x + 1},{x * x}" for x in range(60))
    app_test.file_uploader(key="act_regression_csv").set_value(("line.csv", f"a,b,c\n{rows}\n".encode(), "text/csv"))
    app_test.run()
    app_test.selectbox(key="regression_x_column").set_value("a")
    app_test.selectbox(key="regression_y_column").set_value("b")
    app_test.selectbox(key="regression_model").set_value("linear").run()
    app_test.slider(key="regression_steps").set_value(600)
    train(app_test, "regression_train")
    assert_clean(app_test)
    assert float(app_test.metric[0].value) < 1.0                  # y = 2x + 1 is fitted
    app_test.file_uploader(key="act_regression_csv").set_value(("bad.csv", b"name\nann\n", "text/csv"))
    app_test.run()
    assert_clean(app_test)
    assert translate("errors.csv_need_two_numeric", "zh", found=0) in [e.value for e in app_test.error]
    assert float(app_test.metric[0].value) < 1.0                  # the earlier file and result stay
    assert translate("data.kept_upload", "zh", name="line.csv") in [c.value for c in app_test.caption]
    app_test.switch_page("pages/home.py").run()
    app_test.switch_page("pages/regression.py").run()             # the upload survives a page switch
    assert_clean(app_test)
    assert app_test.selectbox(key="regression_x_column").value == "a" and float(app_test.metric[0].value) < 1.0
    app_test.selectbox(key="regression_y_column").set_value("a").run()      # an input error disables Run
    assert translate("errors.same_column", "zh") in [e.value for e in app_test.error]
    assert app_test.button(key="act_regression_train").proto.disabled


HOME_WITHOUT_TORCH = """
import re, sys
sys.modules["torch"] = None                 # any import of torch now raises ImportError
from streamlit.testing.v1 import AppTest
app = AppTest.from_file(sys.argv[1], default_timeout=float(sys.argv[2]))
app.run()
assert not app.exception, app.exception
cards = [m.value for m in app.markdown if re.match(r"\\*\\*(6[1-9]|70) · ", m.value)]
assert len(cards) == 10, cards
assert any("PyTorch" in e.value for e in app.error), [e.value for e in app.error]
print("ok")
"""


def test_home_page_renders_without_torch():
    """Block `import torch` entirely: the home page must still render (its device line then says why)."""
    result = subprocess.run([sys.executable, "-c", HOME_WITHOUT_TORCH, str(ENTRY), str(WAIT)], capture_output=True,
                            text=True, timeout=WAIT)
    assert result.stdout.strip().endswith("ok"), result.stderr[-2000:]


def open_and_train(app, slug: str, lang: str, steps: int):
    """Open pages/<slug>.py in `lang`, set `<slug>_steps`, press `act_<slug>_train`, check it ran clean."""
    app_test = app(f"pages/{slug}.py", lang)
    app_test.slider(key=f"{slug}_steps").set_value(steps).run()
    train(app_test, f"{slug}_train")
    assert_clean(app_test)
    return app_test


def _encoded(image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_style_transfer_with_two_uploads_and_a_bad_one(app, lang):
    app_test = app("pages/style_transfer.py", lang)
    app_test.radio(key="style_transfer_content_source").set_value("upload")
    app_test.radio(key="style_transfer_style_source").set_value("upload").run()
    content = Image.new("RGBA", (120, 80), (200, 30, 30, 255))
    content.paste((0, 0, 0, 0), (0, 0, 60, 80))                              # half transparent
    style = Image.new("CMYK", (90, 90), (0, 200, 100, 0))
    app_test.file_uploader(key="act_style_transfer_content_upload").set_value(
        ("content.png", _encoded(content, "PNG"), "image/png"))
    app_test.file_uploader(key="act_style_transfer_style_upload").set_value(
        ("style.jpg", _encoded(style, "JPEG"), "image/jpeg"))
    app_test.run()
    assert_clean(app_test)
    captions = [c.value for c in app_test.caption]
    assert translate("errors.note_transparency_flattened", lang) in captions
    assert translate("errors.note_converted_cmyk", lang) in captions
    app_test.slider(key="style_transfer_size").set_value(128)
    app_test.slider(key="style_transfer_steps").set_value(5)
    app_test.toggle(key="style_transfer_coarse").set_value(False).run()
    train(app_test, "style_transfer_run")
    assert_clean(app_test)
    result = app_test.session_state["style_transfer_run"].step
    assert result.finished and max(result.extras["image"].shape) == 128
    assert {b.key for b in app_test.get("download_button")} == {"act_style_transfer_download",   # the result
                                                                 "export_style_transfer"}         # the script
    assert len(app_test.get("plotly_chart")) == 2                            # losses and Gram matrices
    # A broken upload: a clear message in the user's language, and the earlier style image is kept.
    app_test.file_uploader(key="act_style_transfer_style_upload").set_value(
        ("notes.jpg", b"just some text", "image/jpeg"))
    app_test.run()
    assert_clean(app_test)
    assert translate("errors.not_an_image", lang, formats="PNG, JPEG, WEBP, GIF, BMP, TIFF") in [
        e.value for e in app_test.error]
    assert translate("data.kept_upload", lang, name="style.jpg") in [c.value for c in app_test.caption]
    assert not app_test.button(key="act_style_transfer_run").proto.disabled


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_autoencoder_trains_explores_and_scores_an_upload(app, lang):
    app_test = open_and_train(app, "autoencoder", lang, steps=200)
    assert len(app_test.metric) == 2 and len(app_test.get("plotly_chart")) == 2   # losses and latent space
    app_test.slider(key="autoencoder_z1").set_value(0.0).run()                      # the explorer decodes live
    assert_clean(app_test)
    drawing = Image.new("RGB", (90, 120), "white")
    ImageDraw.Draw(drawing).ellipse((15, 15, 75, 105), outline="black", width=10)    # a zero
    app_test.file_uploader(key="act_autoencoder_upload").set_value(
        ("zero.png", _encoded(drawing, "PNG"), "image/png")).run()
    assert_clean(app_test)
    assert any(m.value.startswith(translate("autoencoder.anomaly", lang, error=0, percentile=0)[:8])
               for m in app_test.markdown)
    app_test.file_uploader(key="act_autoencoder_upload").set_value(("bad.png", b"\x89PNG\r\n", "image/png")).run()
    assert_clean(app_test)
    assert app_test.error and len(app_test.metric) == 2                              # message; result kept
    app_test.slider(key="autoencoder_z0").set_value(app_test.slider(key="autoencoder_z0").max).run()
    app_test.selectbox(key="autoencoder_model").set_value("linear").run()            # a new latent range:
    app_test.slider(key="autoencoder_latent").set_value(2).run()                     # the remembered explorer
    train(app_test, "autoencoder_train")                                             # values are clamped into it
    assert_clean(app_test)
    explorer = app_test.slider(key="autoencoder_z0")
    assert explorer.min <= explorer.value <= explorer.max


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_adversarial_trains_attacks_and_takes_an_upload(app, lang):
    app_test = open_and_train(app, "adversarial", lang, steps=100)
    assert len(app_test.metric) == 6 and len(app_test.get("plotly_chart")) == 3     # curves + two probability charts
    app_test.radio(key="adversarial_method").set_value("pgd").run()
    goal = app_test.selectbox(key="adversarial_goal")      # a value, not None (which shows the placeholder instead)
    assert goal.value == "any" and goal.options[goal.index] == translate("adversarial.untargeted", lang)
    app_test.selectbox(key="adversarial_goal").set_value(3).run()
    assert_clean(app_test)
    app_test.radio(key="adversarial_input").set_value("upload").run()
    drawing = Image.new("RGB", (100, 140), "white")
    ImageDraw.Draw(drawing).line([(50, 10), (50, 130)], fill="black", width=14)        # a one
    app_test.file_uploader(key="act_adversarial_upload").set_value(
        ("one.png", _encoded(drawing, "PNG"), "image/png")).run()
    assert_clean(app_test)
    assert len(app_test.get("plotly_chart")) == 3
    app_test.file_uploader(key="act_adversarial_upload").set_value(("x.gif", b"GIF89a", "image/gif")).run()
    assert_clean(app_test)
    assert app_test.error and len(app_test.metric) == 6


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_optimizers_race_and_network(app, lang):
    app_test = app("pages/optimizers.py", lang)
    assert len(app_test.get("plotly_chart")) == 5          # paths, loss, distance; the network's start: loss, accuracy
    app_test.selectbox(key="optimizers_surface").set_value("rosenbrock").run()
    assert app_test.slider(key="optimizers_steps").value == 1000                     # recommended settings
    app_test.slider(key="optimizers_steps").set_value(200).run()
    app_test.toggle(key="optimizers_3d").set_value(True).run()
    app_test.slider(key="optimizers_scrub").set_value(50).run()
    assert_clean(app_test)
    app_test.slider(key="optimizers_network_steps").set_value(40).run()
    train(app_test, "optimizers_network")
    assert_clean(app_test)
    assert len(app_test.get("plotly_chart")) == 6 and len(app_test.dataframe) == 2   # + loss, accuracy, histogram
    finished = translate("common.run_finished", lang, total=40, seconds="X", device="CPU").split("X")[0]
    assert any(c.value.startswith(finished) for c in app_test.caption)             # the device a run used


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_unet_segments_takes_an_upload_and_denoises(app, lang):
    app_test = open_and_train(app, "unet", lang, steps=40)
    assert len(app_test.metric) == 2
    drawing = Image.new("RGB", (120, 90), "white")
    ImageDraw.Draw(drawing).ellipse((10, 10, 60, 60), fill="black")
    app_test.file_uploader(key="act_unet_shapes").set_value(("shapes.png", _encoded(drawing, "PNG"), "image/png"))
    app_test.run()
    assert_clean(app_test)
    app_test.slider(key="unet_denoise_steps").set_value(50).run()
    train(app_test, "unet_denoise")
    assert_clean(app_test)
    assert app_test.session_state["unet_denoise"].complete
    app_test.file_uploader(key="act_unet_shapes").set_value(("bad.png", b"not an image", "image/png")).run()
    assert_clean(app_test)
    assert app_test.error and len(app_test.metric) == 2


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_multitask_trains_compares_and_answers(app, lang):
    app_test = open_and_train(app, "multitask", lang, steps=60)
    assert len(app_test.metric) == 3 and len(app_test.get("plotly_chart")) == 3     # losses, scores, cosines
    table = app_test.dataframe[0].value
    assert list(table.iloc[:, 0]) == [translate("multitask.architecture_multihead", lang),
                                      translate("multitask.architecture_separate", lang)]
    parameters = [int(p.replace(",", "")) for p in table[translate("multitask.table_parameters", lang)]]
    assert parameters[0] < parameters[1] / 2
    assert len(app_test.dataframe[1].value) == 3                                    # truth + two models
    app_test.radio(key="multitask_input").set_value("upload").run()
    drawing = Image.new("RGB", (100, 140), "white")
    ImageDraw.Draw(drawing).line([(40, 10), (60, 130)], fill="black", width=14)      # a slanted one
    app_test.file_uploader(key="act_multitask_upload").set_value(
        ("one.png", _encoded(drawing, "PNG"), "image/png")).run()
    assert_clean(app_test)
    assert len(app_test.dataframe) == 2
    app_test.radio(key="multitask_weighting").set_value("uncertainty").run()
    app_test.multiselect(key="multitask_tasks").set_value(["digit", "slant"]).run()
    train(app_test, "multitask_train")
    assert_clean(app_test)
    assert len(app_test.get("plotly_chart")) == 4                                   # + learned weights
    app_test.multiselect(key="multitask_tasks").set_value([]).run()                  # nothing to train:
    assert_clean(app_test)                                                          # a message, the button off,
    assert translate("errors.multitask_no_task", lang) in [e.value for e in app_test.error]
    assert app_test.button(key="act_multitask_train").proto.disabled
    script = [b for b in app_test.get("download_button") if b.key == "export_multitask"]
    assert len(script) == 1 and script[0].proto.disabled                          # no script of what cannot run
    assert len(app_test.dataframe) >= 1                                              # and the last result stays


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_lstm_every_demo_and_a_look_inside(app, lang):
    app_test = app("pages/lstm.py", lang)
    app_test.slider(key="lstm_forecast_steps").set_value(60).run()
    train(app_test, "lstm_forecast_train")
    assert_clean(app_test)
    assert len(app_test.metric) == 4 and len(app_test.get("plotly_chart")) == 2
    app_test.radio(key="lstm_demo").set_value("race").run()
    app_test.slider(key="lstm_race_steps").set_value(50).run()
    app_test.slider(key="lstm_race_length").set_value(20).run()
    train(app_test, "lstm_race_train")
    assert_clean(app_test)
    assert [m.label for m in app_test.metric] == [translate("lstm.race_metric", lang, cell=translate(
        f"lstm.cell_{c}", lang)) for c in ("rnn", "gru", "lstm")]
    app_test.radio(key="lstm_demo").set_value("rows").run()
    app_test.slider(key="lstm_rows_steps").set_value(50).run()
    app_test.toggle(key="lstm_rows_bidirectional").set_value(True)
    app_test.radio(key="lstm_pooling").set_value("attention").run()
    train(app_test, "lstm_rows_train")
    assert_clean(app_test)
    app_test.radio(key="lstm_demo").set_value("inside").run()
    assert_clean(app_test)
    assert len(app_test.get("plotly_chart")) == 2                                   # attention bars + gate heatmaps
    traces = json.loads(app_test.get("plotly_chart")[1].proto.spec)["data"]
    assert [t["type"] for t in traces] == ["heatmap"] * 6                          # 3 gates, candidate, c, h
    app_test.radio(key="lstm_inside_direction").set_value(1).run()
    app_test.radio(key="lstm_inside_model").set_value("race").run()
    assert_clean(app_test)
    assert len(app_test.get("plotly_chart")) == 2                                   # the sequence + heatmaps
    app_test.radio(key="lstm_demo").set_value("forecast").run()
    assert len(app_test.metric) == 4                                                # the forecast is still there


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_lstm_forecasts_a_csv_column_and_explains_bad_ones(app, lang):
    app_test = app("pages/lstm.py", lang)
    app_test.radio(key="lstm_source").set_value("csv").run()
    assert translate("lstm.need_csv", lang) in [i.value for i in app_test.info]
    rows = "\n".join(f"{day},{10 + (day % 7)}" for day in range(300))
    app_test.file_uploader(key="act_lstm_csv").set_value(("sales.csv", f"day,sales\n{rows}\n".encode(), "text/csv"))
    app_test.run()
    app_test.selectbox(key="lstm_column").set_value("sales")
    app_test.slider(key="lstm_window").set_value(90).run()                            # 300 values are too few
    assert translate("errors.series_too_short", lang, count=300, minimum=380) in [e.value for e in app_test.error]
    app_test.slider(key="lstm_window").set_value(14)
    app_test.slider(key="lstm_forecast_steps").set_value(100).run()
    train(app_test, "lstm_forecast_train")
    assert_clean(app_test)
    assert float(app_test.metric[3].value) < 1e-6          # a weekly cycle is an exact linear recurrence
    app_test.file_uploader(key="act_lstm_csv").set_value(("words.csv", b"name\nann\nbob\n", "text/csv")).run()
    assert_clean(app_test)
    assert translate("errors.csv_need_numeric", lang) in [e.value for e in app_test.error]


@pytest.mark.parametrize("page", PAGES[1:])
def test_choice_widgets_have_chinese_placeholders(app, page):
    """Streamlit's own placeholder ("Choose an option") is English; every page passes its own."""
    app_test = app(page, "zh")
    widgets = list(app_test.selectbox) + list(app_test.multiselect)
    for widget in widgets:
        assert widget.proto.placeholder in (translate("common.choose_one", "zh"),
                                            translate("common.choose_some", "zh")), widget.key


def test_source_listings_match_inspect_for_every_engine_class_and_function():
    """The page's code tabs read classes without ast (Python 3.11's ast is not thread-safe, CPython
    gh-106905); what they show must still be exactly what inspect gives, decorators included."""
    import importlib
    import inspect
    import pkgutil

    import engine
    from ui.widgets import source_of

    checked = 0
    for info in pkgutil.iter_modules(engine.__path__):
        module = importlib.import_module(f"engine.{info.name}")
        for obj in vars(module).values():
            if (inspect.isclass(obj) or inspect.isfunction(obj)) and obj.__module__ == module.__name__:
                assert source_of(obj) == inspect.getsource(obj), obj
                checked += 1
    assert checked > 100


def test_source_listings_from_many_threads_at_once():
    from concurrent.futures import ThreadPoolExecutor

    from engine import regression, style_transfer
    from ui.widgets import source_of

    objects = [regression.Regressor, regression.Features, style_transfer.Pyramid, style_transfer.BestSoFar] * 8
    with ThreadPoolExecutor(8) as pool:
        shown = list(pool.map(source_of, objects))
    assert all(text.lstrip().startswith(("class", "@")) for text in shown)



def _example_page():
    """docs/example_page.py, run as the entry file runs a page (the language read, inside `routed()`)."""
    import runpy

    from ui.i18n import read_language
    from ui.router import routed

    read_language()
    with routed():
        runpy.run_path("docs/example_page.py")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_example_page_of_the_architecture_doc_renders_and_trains(lang):
    """The ~40-line page docs/architecture.md shows is a working page: it draws, trains its
    experiment to the end, and shows the run's chart and test loss, in both languages."""
    from streamlit.testing.v1 import AppTest

    from tests.conftest import APP_TIMEOUT

    app_test = AppTest.from_function(_example_page, default_timeout=APP_TIMEOUT)
    if lang != "en":
        app_test.query_params["lang"] = lang
    app_test.run()
    assert_clean(app_test)
    assert app_test.title[0].value == translate("example.title", lang)
    app_test.slider(key="example_steps").set_value(100).run()
    train(app_test, "example_train")
    assert_clean(app_test)
    assert len(app_test.get("plotly_chart")) == 1
    assert [m.label for m in app_test.metric] == [translate("example.test", lang)]
    assert translate("common.run_finished", lang).split("{")[0] in " ".join(c.value for c in app_test.caption)
    from pathlib import Path

    assert len(Path("docs/example_page.py").read_text().splitlines()) <= 45


def test_the_architecture_doc_shows_the_example_files_as_they_are():
    from pathlib import Path

    doc = Path("docs/architecture.md").read_text()
    for path in ("ui/settings/example.py", "docs/example_page.py"):
        assert f"```python\n# {path}\n{Path(path).read_text()}```\n" in doc, f"the doc's copy of {path} differs"
