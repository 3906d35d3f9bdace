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


def test_one_name_one_colour_across_charts_distinct_hues_and_no_markers_on_dense_lines():
    table: dict[str, str] = {}
    first = go.Figure({"data": [line("Adam", [1, 2]), line("SGD", [2, 1])]})
    second = go.Figure({"data": [line("SGD", [0.0] * 100, mode="lines+markers"), line("Adam", [1.0] * 100)]})
    for figure in (first, second):
        for trace in figure.data:
            charts._set_colour(trace, charts.colour_of(trace.name, table))
    assert first.data[0].line.color == second.data[1].line.color != first.data[1].line.color
    assert set(charts.PALETTE[:2]) == {first.data[0].line.color, first.data[1].line.color}
    charts.finish(second)
    assert second.data[0].mode == "lines"


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
