"""Page 62's layout: the chosen demo's settings on the left, its main chart first in the run column
(right after Run), the previous run faint on it, and the look-inside lab's choices kept out of links."""

import json

import pytest

from tests.conftest import train
from ui.i18n import translate

pytestmark = pytest.mark.slow

DEMOS = {   # demo -> (its run, a short run through its steps slider, its settings' keys, its main chart)
    "forecast": ("lstm_forecast_train", "lstm_forecast_steps", {"lstm_window", "lstm_forecast_steps"},
                 "lstm.series_title"),
    "race": ("lstm_race_train", "lstm_race_steps", {"lstm_race_length", "lstm_race_steps"}, "lstm.race_title"),
    "rows": ("lstm_rows_train", "lstm_rows_steps", {"lstm_rows_steps"}, "lstm.rows_title"),
}


def title_of(figure: dict) -> str:
    return ((figure["layout"].get("title") or {}).get("text") or "").replace("<br>", " ")


@pytest.mark.parametrize("demo", list(DEMOS))
def test_each_demo_puts_its_settings_left_and_its_main_chart_first(app, demo):
    run_key, steps_key, setting_keys, chart_title = DEMOS[demo]
    app_test = app("pages/lstm.py")
    app_test.radio(key="lstm_demo").set_value(demo).run()
    app_test.slider(key=steps_key).set_value(50).run()
    if demo == "race":
        app_test.slider(key="lstm_race_length").set_value(20).run()
    train(app_test, run_key)
    train(app_test, run_key)                                        # a second run: the first is drawn faintly
    assert not app_test.exception
    settings, run = app_test.columns[0], app_test.columns[1]
    assert setting_keys <= {w.key for w in settings.get("slider")}
    assert not settings.get("plotly_chart")
    assert run.button(key=f"act_{run_key}") is not None
    charts = [json.loads(chart.proto.spec) for chart in run.get("plotly_chart")]
    assert translate(chart_title, "en") in title_of(charts[0])
    assert charts[0]["layout"]["height"] <= 420
    training = charts[-1]                                           # the loss / accuracy curves
    assert any(t.get("legendgroup") == "previous" for t in training["data"])
    if demo != "rows":
        assert training["layout"]["yaxis"]["type"] == "log"
    assert training["layout"]["yaxis"]["title"]["text"]


def test_the_look_inside_choices_are_not_part_of_a_link(app):
    app_test = app("pages/lstm.py")
    app_test.radio(key="lstm_demo").set_value("rows").run()
    app_test.slider(key="lstm_rows_steps").set_value(50).run()
    train(app_test, "lstm_rows_train")
    app_test.radio(key="lstm_demo").set_value("inside").run()
    app_test.number_input(key="lstm_inside_digit").set_value(7).run()
    assert not app_test.exception
    assert "lstm_inside_digit" not in app_test.query_params and "lstm_demo" in app_test.query_params
