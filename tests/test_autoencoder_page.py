"""Page 67 through AppTest: the latent scatter names its axes truly, and Fashion-MNIST is not called digits."""

import dataclasses
import json

import pytest

from engine import data
from ui.i18n import translate


def _train(app_test) -> None:
    app_test.slider(key="autoencoder_steps").set_value(50).run()
    app_test.button(key="act_autoencoder_train").click().run(timeout=600)     # a busy shared CI box
    assert not app_test.exception, [e.message for e in app_test.exception]


def _latent_figure(app_test) -> dict:
    figures = [json.loads(chart.proto.spec) for chart in app_test.get("plotly_chart")]
    return next(f for f in figures if f["data"] and f["data"][0]["type"] in ("scatter3d", "scatter")
                and f["data"][0]["mode"] == "markers")


def _scene_titles(figure: dict) -> list[str]:
    scene = figure["layout"]["scene"]
    return [scene[f"{axis}axis"]["title"]["text"] for axis in "xyz"]


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
    assert not [v for v in visible for word in digit_words if word in v.lower()
                and v != translate("autoencoder.stages_caption_fashion", lang)]
