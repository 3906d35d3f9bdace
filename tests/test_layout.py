"""The pieces every page shares for issue 17: the chart style (ui/charts.finish and friends),
the previous run with the settings that changed, "Share this setup", paced short runs, and the
home page's suggested path with reading times computed from each page's text."""

import re

import plotly.graph_objects as go
import pytest

from engine.training import Throttle
from tests.conftest import train
from ui import catalog, charts
from ui.i18n import catalog as strings


def line(name: str, y: list[float], **extra) -> dict:
    return {"type": "scatter", "mode": "lines", "name": name, "x": list(range(len(y))), "y": y, **extra}


@pytest.mark.parametrize("low, high", [(0.003, 0.02), (1e-6, 700.0), (0.4, 0.9), (12.0, 30_000.0)])
def test_log_ticks_are_powers_of_ten_with_2_and_5_on_narrow_ranges(low, high):
    values, labels = charts.log_ticks([low, high])
    decades = [v for v in values if abs(v / 10 ** round(__import__("math").log10(v)) - 1) < 1e-9]
    assert decades and all(re.fullmatch(r"\d+(\.\d+)?|10[⁻¹²³⁴⁵⁶⁷⁸⁹⁰]+|[25]×10[⁻¹²³⁴⁵⁶⁷⁸⁹⁰]+", t) for t in labels)
    assert values[0] <= low and values[-1] >= high                 # the ticks bracket the data
    narrow = __import__("math").log10(high / low) < 2
    assert (len(values) > len(decades)) == narrow                  # 2x and 5x only where decades are few


def test_wrap_keeps_lines_short_in_both_scripts():
    english = charts.wrap("fp16 autocast + GradScaler, dynamic loss scaling", 20)
    assert all(len(part) <= 20 for part in english.split("<br>")) and "Gra…" not in english
    assert english.replace("<br>", " ") == "fp16 autocast + GradScaler, dynamic loss scaling"
    chinese = charts.wrap("使用动态损失缩放的半精度自动混合精度训练", 12)
    assert all(charts._columns(part) <= 12 for part in chinese.split("<br>"))
    assert chinese.replace("<br>", "") == "使用动态损失缩放的半精度自动混合精度训练"


def test_curves_within_a_tenth_of_a_percent_are_drawn_as_coinciding_and_said_to():
    base = [1.0 / (k + 1) for k in range(50)]
    figure = go.Figure({"data": [line("fp32", base), line("bf16", [v * 1.0005 for v in base]),
                                 line("fp16", [v * 1.01 for v in base])], "layout": {"title": {"text": "loss"}}})
    charts.finish(figure)
    assert figure.data[1].line.dash == "dash" and figure.data[2].line.dash is None   # 0.05 % vs 1 %
    assert "bf16" in figure.layout.title.text and "fp32" in figure.layout.title.text
    assert "fp16" not in figure.layout.title.text


def test_one_name_one_colour_across_charts_distinct_hues_and_few_markers_on_dense_lines():
    table: dict[str, str] = {}
    first = go.Figure({"data": [line("Adam", [1, 2]), line("SGD", [2, 1])]})
    second = go.Figure({"data": [line("SGD", [0.0] * 100, mode="lines+markers"), line("Adam", [1.0] * 100)]})
    for figure in (first, second):
        for trace in figure.data:
            charts._set_colour(trace, charts.colour_of(trace.name, table))
    assert first.data[0].line.color == second.data[1].line.color != first.data[1].line.color
    assert set(charts.PALETTE[:2]) == {first.data[0].line.color, first.data[1].line.color}
    charts.finish(second)
    dense = second.data[0]                               # shapes mark each series, a few of them on a dense line
    assert dense.mode == "lines+markers" and dense.marker.maxdisplayed == charts.MARKERS_SHOWN
    assert dense.marker.symbol == charts.SYMBOLS[charts.PALETTE.index(dense.line.color)]


def test_a_cjk_y_title_is_set_horizontally_above_its_axis():
    figure = charts.finish(go.Figure({"data": [line("a", [1, 2])], "layout": {"yaxis": {"title": {"text": "损失"}}}}))
    assert not figure.layout.yaxis.title.text
    notes = [a for a in figure.layout.annotations if a.name == "ytitle:yaxis"]
    assert len(notes) == 1 and notes[0].text == "损失" and notes[0].textangle in (None, 0)


def test_the_previous_run_is_added_faint_in_the_same_colours_with_one_legend_entry():
    current = go.Figure({"data": [line("train", [3, 2, 1]), line("test", [4, 3, 2])]})
    previous = go.Figure({"data": [line("train", [5, 4, 3]), line("test", [6, 5, 4])]})
    charts.with_previous(current, previous)
    charts.finish(current)
    faint = [t for t in current.data if t.legendgroup == charts.PREVIOUS_GROUP]
    assert len(faint) == 3 and sum(t.showlegend is not False for t in faint) == 1
    assert faint[0].line.color == current.data[0].line.color and faint[0].opacity < 0.5


NAN, INF = float("nan"), float("inf")


def marks(figure: go.Figure) -> dict[str, tuple]:
    """The divergence marks `finish()` drew, by the label's text: (step, y, colour) of each ✕, after
    checking that the ✕'s hover says what its label says and that there is one label per ✕."""
    crosses = [t for t in figure.data if t.meta == charts.DIVERGED]
    labels = [a.text for a in figure.layout.annotations if a.name == charts.DIVERGED]
    hovers = [t.hovertemplate.removesuffix("<extra></extra>") for t in crosses]
    assert labels == [charts.wrap(hover, charts.LABEL_CHARS) for hover in hovers]
    assert all(t.marker.symbol == "x" and t.showlegend is False and t.cliponaxis is False for t in crosses)
    return {hover: (t.x[0], t.y[0], t.marker.color) for hover, t in zip(hovers, crosses, strict=True)}


def colour(figure: go.Figure, name: str) -> str:
    return next(t.line.color for t in figure.data if t.name == name)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_curve_that_turns_nan_or_infinite_is_marked_once_at_that_step(lang, monkeypatch):
    """Each diverged line gets one ✕ at the first step that is NaN or ∞, in its colour, at its last
    finite value, and a label naming the line, the value and the step in the learner's language;
    a line that stays finite gets none, and drawing the figure again does not add more."""
    from ui import i18n

    monkeypatch.setattr(i18n, "language", lambda: lang)
    figure = charts.history_figure({"loss/a": "A", "loss/b": "B", "loss/c": "C"}, "t", "step")
    charts.update_history(figure, {"step": [1, 2, 3, 4, 5, 6], "loss/a": [2.0, 1.5, 1.0, NAN, NAN, NAN],
                                   "loss/b": [2.0, 1.0, 0.5, 0.3, 0.2, 0.1], "loss/c": [1.0, 0.9, INF, INF, NAN, NAN]})
    for _ in range(2):
        charts.finish(figure)
    nan_at_4, inf_at_3 = {"en": ("A diverged: loss NaN at step 4", "C diverged: loss ∞ at step 3"),
                          "zh": ("A 发散：第 4 步损失变为 NaN", "C 发散：第 3 步损失变为 ∞")}[lang]
    assert marks(figure) == {nan_at_4: (4, 1.0, colour(figure, "A")), inf_at_3: (3, 0.9, colour(figure, "C"))}


def test_finite_curves_and_figures_that_are_not_watched_get_no_mark():
    figure = charts.history_figure({"loss/a": "A"}, "t", "step")
    charts.finish(charts.update_history(figure, {"step": [1, 2, 3], "loss/a": [1.0, 0.5, 0.25]}))
    epsilons = charts.finish(charts.lines_figure([0.0, 0.1], {"A": [1.0, NAN]}, "t", "ε", "accuracy"))
    assert marks(figure) == {} and marks(epsilons) == {}
    assert not [a for a in figure.layout.annotations if a.name == charts.DIVERGED]


def test_a_curve_nan_from_its_first_point_is_marked_at_the_top_of_the_plotted_range():
    figure = charts.history_figure({"loss/a": "A", "loss/b": "B"}, "t", "step")
    charts.finish(charts.update_history(figure, {"step": [1, 2, 3], "loss/a": [NAN] * 3, "loss/b": [3.0, 2.0, 1.0]}))
    assert marks(figure) == {"A diverged: loss NaN at step 1": (1, 3.0, colour(figure, "A"))}


def test_the_mark_stays_on_a_log_axis_and_over_the_previous_runs_faint_curves():
    """The ✕ lies where the log axis shows it (at the last value the line reaches, not at a 0 the
    axis cannot show), is drawn after the previous run's faint curves, and those curves, diverged
    or not, get no mark."""
    current = charts.history_figure({"loss/a": "A"}, "t", "step")
    charts.update_history(current, {"step": [1, 2, 3, 4], "loss/a": [0.5, 0.0, NAN, NAN]})
    previous = charts.update_history(charts.history_figure({"loss/a": "A"}, "t", "step"),
                                     {"step": [1, 2, 3, 4], "loss/a": [80.0, 40.0, INF, NAN]})
    charts.finish(charts.with_previous(current, previous))
    assert marks(current) == {"A diverged: loss NaN at step 3": (3, 0.5, colour(current, "A"))}
    assert current.layout.yaxis.type == "log" and current.data[-1].meta == charts.DIVERGED


def test_the_label_says_by_after_a_gap_and_names_the_quantity_and_the_unit(monkeypatch):
    """Between reports 10 and 20 the value may have broken at any step: "by step 20". A chart whose
    lines are the quantities names the line; a race counted from step 0 is marked at its own x."""
    from ui import i18n

    history = {"step": [1, 10, 20], "a": [0.5, 0.6, NAN]}
    sparse = charts.history_figure({"a": "IoU"}, "t", "step", quantity=None)
    evaluations = charts.history_figure({"a": "total"}, "t", "evaluations", quantity=None, unit="evaluation")
    race = charts.watch_divergence(charts.lines_figure([0, 1, 2, 3], {"Adam": [4.0, 9.0, INF, INF]}, "t", "step",
                                                       "distance", (0, 5)), "distance")
    for figure in (sparse, evaluations):
        charts.finish(charts.update_history(figure, history))
    charts.finish(race)
    assert list(marks(sparse)) == ["diverged: IoU NaN by step 20"]
    assert list(marks(evaluations)) == ["diverged: total NaN by evaluation 20"]
    assert marks(race) == {"Adam diverged: distance ∞ at step 2": (2, 5.0, colour(race, "Adam"))}  # in range
    monkeypatch.setattr(i18n, "language", lambda: "zh")
    assert list(marks(charts.finish(sparse))) == ["发散：到第 20 步时“IoU”变为 NaN"]


def test_throttle_frames_give_a_fast_run_enough_reports():
    throttle = Throttle(800, frames=60)
    assert sum(throttle.due(step) for step in range(800)) >= 60


def test_reading_times_come_from_each_pages_text():
    for concept in catalog.CONCEPTS:
        words, characters = catalog.reading_words(concept.slug, "en")
        assert characters == 0 and words > 500
        assert catalog.reading_minutes(concept.slug, "en") == max(1, round(words / catalog.WORDS_PER_MINUTE))
        zh_words, zh_characters = catalog.reading_words(concept.slug, "zh")
        assert zh_characters > 1000
        expected = round(zh_words / catalog.WORDS_PER_MINUTE + zh_characters / catalog.CJK_CHARACTERS_PER_MINUTE)
        assert catalog.reading_minutes(concept.slug, "zh") == max(1, expected)
    assert sorted(catalog.SUGGESTED_PATH) == sorted(c.number for c in catalog.CONCEPTS)


def test_home_shows_the_suggested_path_with_reading_times(app):
    test = app(None, "zh")
    captions = [c.value for c in test.caption]
    steps = [c for c in captions if c.startswith("第 ") and "分钟" in c]
    assert len(steps) == 10
    markdown = [m.value for m in test.markdown]
    titles = [m for m in markdown if re.fullmatch(r"\*\*\d\d · .+\*\*", m)]
    places = [int(re.match(r"第 (\d+) 步", c).group(1)) for c in steps]     # card by card, as drawn
    assert [int(t[2:4]) for t in titles] == [catalog.SUGGESTED_PATH[k - 1] for k in places]
    assert sorted(places) == list(range(1, 11))
    assert any("61–70" in m for m in markdown)


def test_a_second_run_lists_the_settings_that_changed_and_draws_the_first_faintly(app):
    test = app("pages/regression.py")
    train(test, "regression_train")
    test.slider(key="regression_noise").set_value(1.0).run()
    train(test, "regression_train")
    note = [c.value for c in test.caption if "previous run" in c.value]
    assert len(note) == 1 and "Noise" in note[0] and "0.5 → 1" in note[0], note
    import json

    specs = [json.loads(chart.proto.spec) for chart in test.get("plotly_chart")]
    faint = [t for spec in specs for t in spec["data"] if t.get("legendgroup") == charts.PREVIOUS_GROUP]
    assert len(faint) >= 3                                # the fitted curve, the losses, the legend entry
    train(test, "regression_train")                       # same settings again
    assert any(c.value == strings()["common.same_settings"]["en"] for c in test.caption)


def test_share_this_setup_shows_the_link_with_the_changed_settings(app):
    test = app("pages/regression.py", "zh")
    test.slider(key="regression_noise").set_value(1.2).run()
    links = [c.value for c in test.code if "regression_noise=1.2" in c.value]
    assert len(links) == 1 and "lang=zh" in links[0]


def test_the_language_holds_when_the_learner_changes_page(app):
    """The switch is the entry file's widget: a page switch must not put it back to English (a
    switch drawn by each page's own script was a new widget on every page and did)."""
    test = app(None, "zh")
    test.switch_page("pages/regression.py").run()
    assert test.radio(key="lang").value == "zh"
    assert test.title[0].value == "63 · 回归" and "回归" in test.markdown[0].value
    test.switch_page("pages/unet.py").run()
    assert test.radio(key="lang").value == "zh" and "UNet" in test.title[0].value
    assert any("分割" in m.value for m in test.markdown)


def test_a_select_value_sent_mid_language_switch_is_not_taken_for_a_choice(monkeypatch):
    """A selectbox travels as its shown label: a value sent while the language switches is the other
    language's label, which Streamlit passes on as a plain string. The pages' on_change callbacks (the
    optimizer surface's recommendations, the style preset) must see no choice there, not a KeyError."""
    import types

    from engine import optimizers, style_transfer
    from ui import widgets

    english = strings()["optimizers.surface_" + next(iter(optimizers.SURFACES))]["en"]
    state = {"optimizers_surface": english, "style_transfer_preset": next(iter(style_transfer.PRESETS))}
    monkeypatch.setattr(widgets, "st", types.SimpleNamespace(session_state=state))
    assert widgets.chosen_option("optimizers_surface", optimizers.SURFACES) is None
    assert widgets.chosen_option("style_transfer_preset", style_transfer.PRESETS) == next(iter(style_transfer.PRESETS))
    assert widgets.chosen_option("missing", optimizers.SURFACES) is None
