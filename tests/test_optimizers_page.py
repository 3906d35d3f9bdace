"""Page 64: no English in its Chinese formulas, the bowl's tuning box, the saddle's escape column, and one
colour per optimizer on every chart, losses on log axes."""

import json
import math
import re

import pytest

from tests.conftest import train
from ui.charts import DENSE_POINTS, MARKERS_SHOWN
from ui.i18n import translate

DEFAULT_RACERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_bowl_shows_the_tuned_heavy_ball_and_the_saddle_counts_escapes(app, lang):
    app_test = app("pages/optimizers.py", lang)
    assert not app_test.exception
    formulas = [element.value for element in app_test.latex]
    assert len(formulas) == 8
    assert not [f for f in formulas if re.search(r"\\text\{", f)]               # no words inside the rules
    tuning = [box.value for box in app_test.info if "0.0614" in box.value]
    assert tuning and "0.566" in tuning[0] and "155" in tuning[0] and "33" in tuning[0]   # bowl: GD and heavy ball
    table = app_test.dataframe[0].value
    assert translate("optimizers.table_tolerance", lang) in table.columns
    app_test.selectbox(key="optimizers_surface").set_value("saddle").run()
    assert not app_test.exception
    table = app_test.dataframe[0].value
    escapes = dict(zip(table.iloc[:, 0], table[translate("optimizers.table_escape", lang)], strict=True))
    assert escapes[translate("optimizers.name_sgd", lang)] == "349"
    assert escapes[translate("optimizers.name_adagrad", lang)] == translate("optimizers.never", lang)
    assert not [box for box in app_test.info if "0.0614" in box.value]             # only on the bowl


def test_recommended_settings_restore_momentum_and_beta2(app):
    app_test = app("pages/optimizers.py")
    app_test.slider(key="optimizers_mu").set_value(0.57).run()
    app_test.button(key="act_optimizers_recommend").click().run()
    assert app_test.slider(key="optimizers_mu").value == pytest.approx(0.9)


def figures_of(app_test) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in app_test.get("plotly_chart")]


def titled(figures: list[dict], key: str, lang: str = "en") -> dict:
    title = translate(key, lang)
    found = [f for f in figures                                  # titles are wrapped with <br>
             if title in ((f["layout"].get("title") or {}).get("text") or "").replace("<br>", " ")]
    assert len(found) == 1, f"{title!r} is on {len(found)} charts"
    return found[0]


def colours(figure: dict) -> dict[str, str]:
    """Named line traces of a figure (not the previous run's) -> their colour."""
    return {t["name"]: t["line"]["color"] for t in figure["data"]
            if t.get("name") and t.get("legendgroup") != "previous" and "line" in t and t["line"].get("color")}


@pytest.mark.slow
def test_an_optimizer_has_one_colour_on_every_chart_and_losses_are_on_log_axes(app):
    """The issue saw an optimizer red on the contour and light blue on the loss chart, and the
    losses on a linear axis with 500 markers a line."""
    app_test = app("pages/optimizers.py")
    app_test.slider(key="optimizers_network_steps").set_value(40).run()
    train(app_test, "optimizers_network")
    assert not app_test.exception
    figures = figures_of(app_test)
    contour = titled(figures, "optimizers.contour_title")
    charts = [titled(figures, key) for key in ("optimizers.loss_title", "optimizers.distance_title",
                                               "optimizers.network_loss", "optimizers.network_accuracy")]
    names = [translate(f"optimizers.name_{n}", "en") for n in DEFAULT_RACERS]
    on_contour = colours(contour)
    assert set(names) <= set(on_contour) and len({on_contour[n] for n in names}) == len(names)   # distinct hues
    for chart in charts:
        assert {n: colours(chart)[n] for n in names} == {n: on_contour[n] for n in names}
    histogram = titled(figures, "optimizers.effective_title")
    for trace in histogram["data"]:
        assert trace["marker"]["color"] == on_contour[trace["name"]]
    for chart in (charts[0], charts[1], charts[2]):              # race loss, distance, network loss
        assert chart["layout"]["yaxis"]["type"] == "log"
    for chart in (contour, *charts):                              # a dense line shows only a few markers
        assert all(t.get("mode") != "lines+markers" or t["marker"].get("maxdisplayed", 10**9) <= MARKERS_SHOWN
                   for t in chart["data"] if len(t.get("x") or ()) > DENSE_POINTS)


def test_the_saddle_shows_its_loss_on_a_linear_axis_around_the_escape_line(app):
    """The saddle's loss has no floor (it runs to -inf), so it cannot go on a log axis."""
    app_test = app("pages/optimizers.py")
    app_test.selectbox(key="optimizers_surface").set_value("saddle").run()
    assert not app_test.exception
    loss = titled(figures_of(app_test), "optimizers.loss_title_saddle")
    assert loss["layout"]["yaxis"].get("type", "linear") == "linear"
    assert loss["layout"]["yaxis"]["range"] == [-3.0, 2.5]
    assert all(v is None or math.isfinite(v) for t in loss["data"] for v in t["y"])


def test_the_race_sits_beside_its_settings_and_the_network_has_its_own_columns(app):
    """First screen: the race's settings in the left column, the contour in the right one; the
    network's settings and its Run button in columns of their own below."""
    app_test = app("pages/optimizers.py")
    columns = app_test.columns
    race_settings, race_run = columns[0], columns[1]
    assert [s.key for s in race_settings.get("selectbox")] == ["optimizers_surface"]
    assert not race_settings.get("plotly_chart")
    first = json.loads(race_run.get("plotly_chart")[0].proto.spec)
    assert translate("optimizers.contour_title", "en") in first["layout"]["title"]["text"]
    network = [c for c in columns if any(s.key == "optimizers_network_steps" for s in c.get("slider"))]
    assert len(network) == 1 and not network[0].get("plotly_chart")
    assert not any(b.key == "act_optimizers_network" for c in columns[:2] for b in c.get("button"))


def test_a_race_card_runs_in_the_card_is_judged_once_and_opens_in_the_race(app):
    """A race card runs its race as a job in the card (one report: the race is computed whole, so it
    draws no chart) and the verdict quotes the race's own step counts; a prediction changed
    afterwards does not re-judge that race; "Open in the experiment" puts the page's race in the
    card's settings, which the card's run left alone."""
    from ui import runner

    test = app("pages/optimizers.py")
    test.radio(key="card_optimizers_bowl_prediction").set_value("momentum_3x").run()
    test.button(key="act_card_optimizers_bowl").click().run()
    assert runner.wait_for_runs(), "the card's race did not end"
    test.run()
    assert not test.exception
    assert test.multiselect(key="optimizers_racers").value == list(DEFAULT_RACERS)
    verdict = translate("optimizers.card_bowl_result", "en", sgd_steps=172, momentum_steps=30)
    assert verdict in [m.value for m in test.markdown]
    assert any("Your prediction was right" in m.value for m in test.success)
    assert not [c for c in test.get("plotly_chart") if "during training" in c.proto.spec]
    test.radio(key="card_optimizers_bowl_prediction").set_value("sgd").run()
    assert any("Your prediction was right" in m.value for m in test.success)      # judged when it ran
    test.button(key="act_card_optimizers_bowl_open").click().run()
    assert test.multiselect(key="optimizers_racers").value == ["sgd", "momentum"]


@pytest.mark.slow
def test_the_challenge_is_met_by_heavy_momentum_on_rosenbrock(app):
    test = app("pages/optimizers.py")
    assert not [s for s in test.success if "Challenge met" in s.value]
    test.selectbox(key="optimizers_surface").set_value("rosenbrock").run()       # the recommended settings
    assert not [s for s in test.success if "Challenge met" in s.value]
    test.multiselect(key="optimizers_racers").set_value(["momentum"]).run()
    test.select_slider(key="optimizers_lr_momentum").set_value(0.001)
    test.slider(key="optimizers_mu").set_value(0.95)
    test.slider(key="optimizers_steps").set_value(300).run()
    assert not test.exception
    assert [s for s in test.success if "Challenge met" in s.value]
