"""Page 65 through AppTest: the metrics show the value at the epsilon they name, the chart's grid covers
the training slider, PGD is on the chart and the metrics, and nothing shows in English in zh mode."""

import json

import pytest

from engine import adversarial
from ui.i18n import translate


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_metrics_and_curves_at_the_largest_training_epsilon(app, lang):
    app_test = app("pages/adversarial.py", lang)
    slider = app_test.slider(key="adversarial_epsilon")
    assert slider.max <= max(adversarial.EPSILONS)
    slider.set_value(slider.max).run()
    app_test.slider(key="adversarial_steps").set_value(50).run()
    app_test.button(key="act_adversarial_train").click().run(timeout=600)     # a busy shared CI box
    assert not app_test.exception, [e.message for e in app_test.exception]
    figure = json.loads(app_test.get("plotly_chart")[0].proto.spec)
    lines = {trace["name"]: dict(zip(trace["x"], trace["y"], strict=True)) for trace in figure["data"]}
    metrics = {metric.label: metric.value for metric in app_test.metric}
    assert len(metrics) == 6
    for name in ("standard", "robust"):
        model = translate(f"adversarial.{name}", lang)
        for attack in adversarial.ATTACKS:
            curve = lines[translate(f"adversarial.curve_{attack}", lang, model=model)]
            assert max(curve) >= slider.max                     # the grid reaches the slider's end
            label = translate(f"adversarial.metric_{attack}", lang, model=model, epsilon=slider.max)
            assert "0.35" in label and metrics[label] == f"{curve[slider.max]:.1%}"
    caption = translate("adversarial.curve_caption", lang, count=200, per_class=20, steps=10)
    assert caption in [c.value for c in app_test.caption]
