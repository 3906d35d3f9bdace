"""Page 65 through AppTest: the metrics show the value at the epsilon they name, the chart's grid covers
the training slider, PGD is on the chart and the metrics, and nothing shows in English in zh mode; a
run obeys Pause, Step, Resume and Stop, and the stopped models work in the attack lab and the gallery."""

import json

import pytest

from engine import adversarial
from tests.conftest import train
from ui.i18n import translate


def assert_clean(app_test) -> None:
    assert not app_test.exception, [e.message for e in app_test.exception]


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_metrics_and_curves_at_the_largest_training_epsilon(app, lang):
    app_test = app("pages/adversarial.py", lang)
    slider = app_test.slider(key="adversarial_epsilon")
    assert slider.max <= max(adversarial.EPSILONS)
    slider.set_value(slider.max).run()
    app_test.slider(key="adversarial_steps").set_value(50).run()
    train(app_test, "adversarial_train")
    assert_clean(app_test)
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
    config = adversarial.AdversarialConfig()      # the last report attacks every evaluation digit
    caption = translate("adversarial.curve_caption", lang, count=config.eval_size, per_class=config.eval_size // 10,
                        total=config.eval_size, live=config.live_count, steps=config.eval_pgd_steps)
    assert caption in [c.value for c in app_test.caption]


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_lab_opens_on_a_digit_that_flips_and_says_whether_each_attack_succeeded(app, lang):
    """After a run the lab starts on the first test digit the standard model reads right and one FGSM
    step at 0.2 turns wrong (its number is not part of the link), each model's outcome is named, a
    targeted attack outlines and names its target's bar and reports its hit rate, and the gallery
    captions each attacked digit "true → predicted"."""
    from engine import data

    app_test = app("pages/adversarial.py", lang)
    app_test.slider(key="adversarial_steps").set_value(100).run()
    train(app_test, "adversarial_train")
    assert_clean(app_test)
    record, split = app_test.session_state["adversarial_train"], data.load_digits()
    expected = adversarial.first_fooled(record.model["standard"], split.test_x, split.test_y, 0.2)
    assert expected is not None and app_test.number_input(key="adversarial_index").value == expected
    label = int(split.test_y[expected])
    standard = adversarial.attack_one(record.model["standard"], split.test_x[expected], label, 0.2)
    after = standard.adversarial_probabilities
    badges = [m.value for m in app_test.markdown if "-badge[" in m.value]
    assert len(badges) == 2
    flipped = translate("adversarial.untargeted_success", lang, label=label, answer=after.index(max(after)))
    assert f":red-badge[{flipped}]" in badges[0]
    app_test.selectbox(key="adversarial_goal").set_value(label).run()      # the digit's own class: nothing to do
    own = translate("adversarial.target_is_label", lang)
    names = [translate(f"adversarial.{name}", lang) for name in ("standard", "robust")]
    assert [m.value for m in app_test.markdown if "-badge[" in m.value] == [f"**{n}** · :gray-badge[{own}]"
                                                                            for n in names]
    app_test.selectbox(key="adversarial_goal").set_value("any").run()
    app_test.number_input(key="adversarial_index").set_value(expected + 1).run()
    assert "adversarial_index" not in app_test.query_params                    # exploration, not a setting
    app_test.radio(key="adversarial_method").set_value("pgd").run()
    target = (label + 1) % 10
    app_test.selectbox(key="adversarial_goal").set_value(target).run()
    assert_clean(app_test)
    for chart in app_test.get("plotly_chart")[1:]:
        layout = json.loads(chart.proto.spec)["layout"]
        assert layout["xaxis"]["title"]["text"] == translate("adversarial.bars_x", lang)
        assert layout["xaxis"]["ticktext"][target] == translate("adversarial.target_tick", lang, digit=target)
        assert [shape["x0"] for shape in layout["shapes"]] == [target - 0.5]
    badges = [m.value for m in app_test.markdown if "-badge[" in m.value]
    hit = translate("adversarial.targeted_success", lang, target=target)
    missed = translate("adversarial.targeted_failure", lang, answer="@", target=target).split("@")
    elsewhere = translate("adversarial.targeted_elsewhere", lang, answer="@", target=target).split("@")
    assert len(badges) == 2 and all(f":red-badge[{hit}]" in b or (missed[0] in b and missed[1] in b)
                                    or (":orange-badge[" in b and elsewhere[0] in b) for b in badges)

    not_yet = translate("common.challenge_not_yet", lang, result="@").split("@")[0]     # the challenge's own box
    rates = [i.value for i in app_test.info if not i.value.startswith(not_yet)]
    assert len(rates) == 1 and "180" in rates[0]
    captions = [c for image in app_test.image for c in image.captions if "→" in c]
    assert captions and all(c.split(" → ")[0] != c.split(" → ")[1] for c in captions)
    app_test.slider(key="adversarial_steps").set_value(50).run()                 # a second run: the first one faint
    train(app_test, "adversarial_train")
    curves = json.loads(app_test.get("plotly_chart")[0].proto.spec)["data"]
    assert translate("common.previous_run", lang) in [trace.get("name") for trace in curves]
    assert sum(trace.get("legendgroup") == "previous" for trace in curves) == 5          # 4 curves and the entry
