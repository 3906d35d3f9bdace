"""Page 66 through AppTest: runs through the experiment helper, the skips comparison pairs only equal
settings, captions follow the language, Pause/Step/Resume/Stop keep a usable model, uploads are kept."""

import io
import json

import pytest
from PIL import Image, ImageDraw

from tests.conftest import train
from ui.charts import PALETTE
from ui.i18n import translate
from ui.widgets import number_format


def _train(app_test, key: str = "unet_train") -> None:
    train(app_test, key)
    assert not app_test.exception, [e.message for e in app_test.exception]


def _compared(app_test, lang: str) -> bool:
    start = translate("unet.compare", lang, with_skips="", without_skips="")[:12]
    return any(m.value.startswith(start) for m in app_test.markdown)


def _png(drawing: Image.Image) -> bytes:
    buffer = io.BytesIO()
    drawing.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.slow
def test_skips_are_compared_only_between_runs_with_equal_settings(app):
    app_test = app("pages/unet.py", "en")
    app_test.slider(key="unet_steps").set_value(20).run()
    _train(app_test)                                                        # skips on, depth 3
    app_test.toggle(key="unet_skips").set_value(False).run()
    app_test.slider(key="unet_depth").set_value(2).run()
    _train(app_test)                                                        # skips off, depth 2
    assert not _compared(app_test, "en")                                    # depth differs: no comparison
    assert translate("unet.compare_hint", "en") in [c.value for c in app_test.caption]
    app_test.slider(key="unet_depth").set_value(3).run()
    assert not _compared(app_test, "en")                                    # this setting has no run yet
    _train(app_test)                                                        # skips off, depth 3
    assert _compared(app_test, "en")
    runs = app_test.session_state["unet_dice"]
    on, off = (next(c for c in runs if c.depth == 3 and c.skips is skips) for skips in (True, False))
    expected = translate("unet.compare", "en", with_skips=number_format(runs[on]),
                         without_skips=number_format(runs[off]))
    assert expected in [m.value for m in app_test.markdown]


@pytest.mark.slow
def test_feature_map_captions_are_translated(app):
    app_test = app("pages/unet.py", "zh")
    app_test.radio(key="lang").set_value("zh").run()       # explicitly: AppTest page switches once dropped ?lang=
    app_test.slider(key="unet_steps").set_value(20).run()
    app_test.slider(key="unet_depth").set_value(2).run()
    _train(app_test)
    captions = [c for image in app_test.image for c in image.captions]
    expected = [translate("unet.level_encoder", "zh", level=1), translate("unet.level_encoder", "zh", level=2),
                translate("unet.level_bottleneck", "zh"), translate("unet.level_decoder", "zh", level=2),
                translate("unet.level_decoder", "zh", level=1)]
    assert all(caption in captions for caption in expected)
    assert not any(word in caption for caption in captions for word in ("encoder", "decoder", "bottleneck"))


@pytest.mark.slow
def test_the_denoiser_runs_through_the_helper_and_keeps_its_upload(app):
    app_test = app("pages/unet.py", "en")
    app_test.selectbox(key="unet_denoise_source").set_value("upload").run()
    assert translate("style_transfer.need_upload", "en") in [i.value for i in app_test.info]
    assert app_test.button(key="act_unet_denoise").proto.disabled
    photo = Image.new("RGB", (40, 30), "white")
    ImageDraw.Draw(photo).rectangle((5, 5, 25, 20), fill="navy")
    app_test.file_uploader(key="act_unet_denoise_upload").set_value(("photo.png", _png(photo), "image/png")).run()
    app_test.slider(key="unet_denoise_steps").set_value(50).run()
    _train(app_test, "unet_denoise")
    record = app_test.session_state["unet_denoise"]
    assert record.complete and record.step.extras["clean"].shape == (3, 30, 40)
    psnr = [c for image in app_test.image for c in image.captions if "PSNR" in c]
    assert len(psnr) == 2
    app_test.switch_page("pages/home.py").run()
    app_test.switch_page("pages/unet.py").run()
    assert translate("data.kept_upload", "en", name="photo.png") in [c.value for c in app_test.caption]
    assert app_test.session_state["unet_denoise"] is record
    app_test.slider(key="unet_sigma").set_value(0.3).run()                  # other settings: the result is stale
    assert translate("common.stale_result", "en") in [c.value for c in app_test.caption]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_prediction_grid_is_labelled_by_row_and_the_curves_differ_in_colour(app, lang):
    """Issue 17: the grid's rows are captioned input / truth / prediction in the page's language; Dice
    and IoU are two distinct palette colours; the lab's image slider stays out of the shared link."""
    app_test = app("pages/unet.py", lang)
    app_test.radio(key="lang").set_value(lang).run()
    app_test.slider(key="unet_steps").set_value(20).run()
    app_test.slider(key="unet_depth").set_value(2).run()
    _train(app_test)
    captions = [c for image in app_test.image for c in image.captions]
    rows = [translate("unet.row_input", lang), translate("unet.row_truth", lang),
            translate("unet.row_prediction", lang, step=20)]
    assert [c for c in captions if c in rows] == rows                       # one labelled image per row, in order
    assert translate("unet.row_colours", lang) in [c.value for c in app_test.caption]
    figure = json.loads(app_test.get("plotly_chart")[0].proto.spec)
    colours = {trace["name"]: trace["line"]["color"] for trace in figure["data"]}
    assert set(colours) == {"Dice", "IoU"} and colours["Dice"] != colours["IoU"]
    assert {colours["Dice"], colours["IoU"]} <= set(PALETTE)
    app_test.slider(key="unet_feature_image").set_value(3).run()
    assert not app_test.exception
    assert "unet_feature_image" not in app_test.query_params                # exploring is not a setting
