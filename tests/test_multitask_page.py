"""Page 61's layout and charts: settings beside the run, the losses first (on a log axis, the previous
run faint), a task's separate network in the task's own colour, dashed."""

import json

import pytest

from tests.conftest import train
from ui.i18n import translate

pytestmark = pytest.mark.slow


def chart_specs(container) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in container.get("plotly_chart")]


def title_of(figure: dict) -> str:
    return ((figure["layout"].get("title") or {}).get("text") or "").replace("<br>", " ")


def test_losses_come_first_on_a_log_axis_with_the_previous_run_and_baselines_share_colours(app):
    app_test = app("pages/multitask.py")
    app_test.slider(key="multitask_steps").set_value(50).run()
    train(app_test, "multitask_train")
    app_test.multiselect(key="multitask_tasks").set_value(["digit", "parity"]).run()
    train(app_test, "multitask_train")
    assert not app_test.exception
    settings, run = app_test.columns[0], app_test.columns[1]
    assert {"multitask_architecture", "multitask_tasks", "multitask_steps"} <= {
        w.key for kind in ("selectbox", "multiselect", "slider") for w in settings.get(kind)}
    assert not settings.get("plotly_chart")
    charts = chart_specs(run)
    losses, scores = charts[0], charts[1]
    assert translate("multitask.losses_title", "en") in title_of(losses)
    assert losses["layout"]["yaxis"]["type"] == "log"
    assert losses["layout"]["yaxis"]["title"]["text"]
    faint = [t for t in losses["data"] if t.get("legendgroup") == "previous"]
    assert faint and any(t["name"] == translate("common.previous_run", "en") for t in faint)
    previous_tasks = {t["name"] for t in faint if t.get("showlegend") is False}
    assert translate("multitask.task_ink", "en") in previous_tasks        # the first run had the ink task
    current = {t["name"]: t for t in scores["data"] if t.get("legendgroup") != "previous"}
    for task in ("digit", "parity"):
        name = translate(f"multitask.task_{task}", "en")
        separate = current[f"{name} · {translate('multitask.separate_suffix', 'en')}"]
        assert separate["line"]["dash"] == "dash"
        assert separate["line"]["color"] == current[name]["line"]["color"]
    shared = [current[translate(f"multitask.task_{t}", "en")]["line"]["color"] for t in ("digit", "parity")]
    assert len(set(shared)) == 2


def test_the_digit_asked_about_is_not_part_of_a_link(app):
    app_test = app("pages/multitask.py")
    app_test.slider(key="multitask_steps").set_value(50).run()
    train(app_test, "multitask_train")
    app_test.number_input(key="multitask_index").set_value(5).run()
    assert not app_test.exception
    assert "multitask_index" not in app_test.query_params and "multitask_steps" in app_test.query_params
