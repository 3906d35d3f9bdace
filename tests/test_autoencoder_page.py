"""Page 67 through AppTest: the latent scatter names its axes truly, Fashion-MNIST is not called digits,
and a run obeys Pause, Step, Resume and Stop, its stopped model explored in the latent tools."""

import dataclasses
import json

import pytest

from engine import data
from tests.conftest import train
from ui.i18n import translate


def _train(app_test) -> None:
    app_test.slider(key="autoencoder_steps").set_value(50).run()
    train(app_test, "autoencoder_train")
    assert not app_test.exception, [e.message for e in app_test.exception]


def _latent_figure(app_test) -> dict:
    figures = [json.loads(chart.proto.spec) for chart in app_test.get("plotly_chart")]
    return next(f for f in figures if f["data"] and f["data"][0]["type"] in ("scatter3d", "scatter")
                and f["data"][0]["mode"] == "markers")


def _scene_titles(figure: dict) -> list[str]:
    scene = figure["layout"]["scene"]
    return [scene[f"{axis}axis"]["title"]["text"] for axis in "xyz"]


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_scatter_axes_are_principal_components_above_three_dimensions(app, lang):
    app_test = app("pages/autoencoder.py", lang)
    app_test.selectbox(key="autoencoder_model").set_value("mlp").run()
    app_test.slider(key="autoencoder_latent").set_value(8).run()
    _train(app_test)
    assert _scene_titles(_latent_figure(app_test)) == [translate("autoencoder.axis_pc", lang, index=i)
                                                        for i in (1, 2, 3)]
    assert translate("autoencoder.latent_projected", lang, k=8) in [c.value for c in app_test.caption]
    app_test.slider(key="autoencoder_latent").set_value(3).run()
    _train(app_test)
    raw = [translate("autoencoder.axis_z", lang, index=i) for i in (1, 2, 3)]
    assert _scene_titles(_latent_figure(app_test)) == raw == [f"z{i}" for i in (1, 2, 3)]
    app_test.slider(key="autoencoder_latent").set_value(2).run()
    _train(app_test)
    layout = _latent_figure(app_test)["layout"]
    assert [layout[f"{axis}axis"]["title"]["text"] for axis in "xy"] == ["z1", "z2"]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_fashion_mnist_texts_speak_of_clothes(app, lang, monkeypatch):
    fake = dataclasses.replace(data.load_digits(), source="FashionMNIST")        # offline stand-in
    monkeypatch.setattr(data, "download_dataset", lambda name, root: fake)
    app_test = app("pages/autoencoder.py", lang)
    assert translate("autoencoder.intro", lang).strip() in [m.value.strip() for m in app_test.markdown]
    app_test.selectbox(key="autoencoder_dataset").set_value("FashionMNIST").run()
    markdown = [m.value.strip() for m in app_test.markdown]
    assert translate("autoencoder.intro_fashion", lang).strip() in markdown
    assert translate("autoencoder.intro", lang).strip() not in markdown
    _train(app_test)
    names = [trace["name"] for trace in _latent_figure(app_test)["data"]]
    assert names == [translate(f"autoencoder.fashion_class_{k}", lang) for k in range(10)]
    captions = [c for image in app_test.image for c in image.captions]
    assert any(c.startswith(translate("autoencoder.grid_caption_fashion", lang, step=0, noisy="")[:6])
               for c in captions)
    assert translate("autoencoder.interpolation_title_fashion", lang) in [h.value for h in app_test.subheader]
    digit_words = ("digit",) if lang == "en" else ("数字",)
    visible = markdown + [m.value for m in app_test.markdown] + [c.value for c in app_test.caption] + captions + [
        h.value for h in app_test.subheader]
    allowed = {translate("autoencoder.stages_caption_fashion", lang),
               translate("common.share_help", lang),         # "the same numbers" (数字) of a shared link
               translate("common.cards_help", lang)}         # the run's own numbers (数字) that judge a card
    assert not [v for v in visible for word in digit_words if word in v.lower() and v not in allowed]


@pytest.mark.slow
def test_the_loss_chart_shows_the_previous_run_and_the_latent_tools_stay_out_of_the_link(app):
    """A second run draws the first one's curves faint on a titled log axis; the explorer's sliders
    and the interpolation's digits are exploration, not settings: they never reach the link."""
    lang = "en"
    app_test = app("pages/autoencoder.py", lang)
    _train(app_test)
    app_test.slider(key="autoencoder_noise").set_value(0.1).run()
    _train(app_test)
    losses = json.loads(app_test.get("plotly_chart")[0].proto.spec)
    assert losses["layout"]["yaxis"]["type"] == "log"
    assert losses["layout"]["yaxis"]["title"]["text"] == translate("autoencoder.loss_axis", lang)
    names = [trace.get("name") for trace in losses["data"]]
    assert translate("common.previous_run", lang) in names
    assert sum(trace.get("legendgroup") == "previous" and trace.get("name") == translate("autoencoder.curve_test", lang)
               for trace in losses["data"]) == 1
    explored = app_test.slider(key="autoencoder_z0")
    explored.set_value(explored.max).run()
    app_test.number_input(key="autoencoder_first").set_value(7).run()
    assert not {"autoencoder_z0", "autoencoder_first"} & set(app_test.query_params)
    assert not app_test.exception, [e.message for e in app_test.exception]
