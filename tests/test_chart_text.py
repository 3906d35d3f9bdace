"""ui.chart_text against figures whose data is known: the text alternative states what the data
says (first and last values, extremes and where, NaN, bars, histograms, grids) in both languages,
and the data table holds the points, thinned evenly with the first and the last kept."""

import math

import plotly.graph_objects as go
import pytest

from ui import chart_text, charts
from ui.i18n import translate


@pytest.fixture(params=["en", "zh"])
def lang(request, monkeypatch):
    monkeypatch.setattr("ui.chart_text.text", lambda key, **p: translate(key, request.param, **p))
    monkeypatch.setattr("ui.charts.text", lambda key, **p: translate(key, request.param, **p))
    return request.param


def loss_figure(values: list[float]) -> go.Figure:
    steps = list(range(1, len(values) + 1))
    return go.Figure([go.Scatter(x=steps, y=values, mode="lines", name="Adam")],
                     layout={"title": {"text": "Training loss"}, "xaxis": {"title": {"text": "step"}},
                             "yaxis": {"title": {"text": "loss"}}})


def test_a_falling_line_is_told_from_its_own_data(lang):
    values = [2.3, 1.7, 0.4, 0.09, 0.12]
    said = chart_text.describe(loss_figure(values))
    expected = translate("common.chart_alt_line_fell", lang, name="Adam", first="2.3", last="0.12",
                         start="step 1", end="step 5", low="0.09", low_at="step 4", high="2.3", high_at="step 1")
    assert said == chart_text.spaced(f"{translate('common.chart_alt_title', lang, title='Training loss')} {expected}")


def test_a_rising_line_and_one_that_breaks(lang):
    values = [0.1, 0.5, float("nan"), float("nan")]
    said = chart_text.describe(loss_figure(values))
    assert chart_text.spaced(translate("common.chart_alt_broken", lang, where="step 3")) in said
    head = translate("common.chart_alt_title", lang, title="Training loss")
    rose = translate("common.chart_alt_line_rose", lang, name="Adam", first="0.1", last="0.5", start="step 1",
                     end="step 2", low="0.1", low_at="step 1", high="0.5", high_at="step 2")
    assert said.startswith(chart_text.spaced(f"{head} {rose}"))


def test_bars_histograms_points_and_grids(lang):
    figure = go.Figure([go.Bar(x=["fp32", "bf16"], y=[97.5, 96.25], name="accuracy"),
                        go.Histogram(x=[1.0, 2.0, 3.0, 10.0], name="gradients"),
                        go.Scatter(x=[0, 4], y=[-1, 3], mode="markers", name="data"),
                        go.Heatmap(z=[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], name="Gram")])
    said = chart_text.describe(figure)
    separator = translate("common.chart_alt_separator", lang)
    bars = separator.join(translate("common.chart_alt_bar", lang, category=c, value=v)
                          for c, v in (("fp32", "97.5"), ("bf16", "96.25")))
    assert translate("common.chart_alt_bars", lang, name="accuracy", values=bars) in said
    assert translate("common.chart_alt_histogram", lang, name="gradients", count=4, low="1", high="10",
                     median="2.5") in said
    assert chart_text.spaced(translate("common.chart_alt_points", lang, name="data", count=2, x="x", y="y",
                                       x_low="0", x_high="4", y_low="-1", y_high="3")) in said
    assert translate("common.chart_alt_grid", lang, name="Gram", rows=2, columns=3, low="0", high="5") in said


def test_the_previous_run_and_the_divergence_marks_are_not_described_again(lang):
    figure = charts.with_previous(loss_figure([1.0, 0.5]), loss_figure([3.0, 2.0]))
    figure.add_trace(go.Scatter(x=[2], y=[0.5], mode="markers", name="Adam diverged: loss NaN at step 2",
                                meta=chart_text.DIVERGED))
    said = chart_text.describe(figure)
    assert "3" not in said.replace("step", "")                     # the faint previous run (3 -> 2) is left out
    assert "diverged" not in said                                  # its line's own sentence says where it broke


def test_the_table_thins_a_long_series_evenly_and_keeps_its_ends(lang):
    values = [math.exp(-i / 100) for i in range(1000)]
    table = chart_text.table(loss_figure(values))
    rows = [line for line in table.splitlines() if line.startswith("| Adam |")]
    assert len(rows) == chart_text.TABLE_ROWS
    assert rows[0] == "| Adam | 1 | 1 |" and rows[-1] == f"| Adam | 1000 | {chart_text.number(values[-1])} |"
    assert table.splitlines()[0] == f"| {translate('common.chart_table_series', lang)} | step | loss |"
    assert translate("common.chart_table_thinned", lang, rows=chart_text.TABLE_ROWS) in table


def test_markdown_characters_in_a_name_stay_text(lang):
    figure = go.Figure([go.Scatter(x=[1, 2], y=[1, 2], mode="lines", name="a*b_$c$|d")])
    assert "a\\*b\\_\\$c\\$\\|d" in chart_text.markdown_escaped(chart_text.describe(figure))
    assert "a*b_\\$c\\$\\|d" in chart_text.table(figure)


def test_chinese_and_latin_are_spaced_as_the_app_writes_them():
    assert chart_text.spaced("fp32从 2.3（训练步 1）到第8步。 fp16") == "fp32 从 2.3（训练步 1）到第 8 步。fp16"


def test_a_percent_axis_and_a_reference_line_are_read_as_drawn(lang):
    """Values on an axis drawn as percentages read as percentages; a dashed reference line (a layout
    shape with its label) is said, with its value, and listed in the table."""
    figure = charts.history_figure({"robust": "robust"}, "Accuracy under attack", "ε", references={"PCA": 0.25},
                                   log_y=False, y_title="accuracy")
    figure = charts.update_history(figure, {"step": [0.0, 0.3], "robust": [0.98, 0.766]})
    figure.update_layout(yaxis_tickformat=".0%")
    said = chart_text.describe(figure)
    assert "98%" in said and "76.6%" in said
    assert translate("common.chart_alt_reference", lang, label="PCA", value="0.25") in said
    assert translate("common.chart_table_reference", lang, label="PCA") in chart_text.table(figure)
