"""One chart style on every page: every figure each page draws, after its experiments have run
(short runs through the page's own link settings), read from AppTest's figure JSON and checked
against the house rules of ui/charts.py:

- every axis that shows data has a title (for a CJK y title: the horizontal annotation
  "ytitle:<axis>" that replaces it), and no y-axis title in CJK text is rotated;
- log axes are ticked at readable values: powers of ten (with 2x and 5x on a narrow range);
- a trace name that appears in two charts of a page has the same colour in both, and every
  named trace has an explicit colour from the palette (or the neutral grey of references);
- a dense line shows at most MARKERS_SHOWN markers; the legend lies flat under the plot; no Plotly toolbar.
"""

import base64
import json
import math
import re
from dataclasses import dataclass, field

import numpy as np
import pytest

from tests.conftest import train
from ui import chart_text
from ui.charts import DENSE_POINTS, MARKERS_SHOWN, NEUTRAL, PALETTE, SYMBOLS
from ui.i18n import translate

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class View:
    link: dict[str, str]                     # the page's settings, through its link
    runs: tuple[str, ...]                    # experiment keys to run, in order
    press: tuple[str, ...] = field(default=())   # other buttons (not experiments) to press after


PAGES = {
    "multitask": [View({"multitask_steps": "100", "multitask_baselines": "1"}, ("multitask_train",))],
    "lstm": [View({"lstm_forecast_steps": "100"}, ("lstm_forecast_train",)),
             View({"lstm_demo": "race", "lstm_race_steps": "50"}, ("lstm_race_train",)),
             View({"lstm_demo": "rows", "lstm_rows_steps": "50"}, ("lstm_rows_train",))],
    "regression": [View({"regression_steps": "100"}, ("regression_train", "regression_train"))],
    "optimizers": [View({"optimizers_network_steps": "40"}, ("optimizers_network",)),
                   View({"optimizers_surface": "saddle"}, ())],          # the race only, on a linear axis
    "adversarial": [View({"adversarial_steps": "50"}, ("adversarial_train",))],
    "unet": [View({"unet_steps": "20", "unet_denoise_steps": "20"}, ("unet_train", "unet_denoise"))],
    "autoencoder": [View({"autoencoder_steps": "50"}, ("autoencoder_train",))],
    "half_precision": [View({"half_precision_steps": "20"}, ("half_precision_train", "half_precision_speed"))],
    "distributed": [View({"distributed_steps": "10"}, ("distributed_train",))],
    "style_transfer": [View({"style_transfer_size": "64", "style_transfer_steps": "5"}, ("style_transfer_run",))],
}
CJK = re.compile(r"[\u3000-\u9fff]")
READABLE_LOG_TICK = re.compile(r"^(\d+(\.\d+)?|10[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+|[25]×10[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)$")
NO_AXES = {"pie", "image", "surface", "scatter3d", "table", "indicator", "sankey"}


def page_figures(app, slug: str, lang: str) -> list[dict]:
    figures = []
    for view in PAGES[slug]:
        test = app(None, lang)
        for key, value in view.link.items():
            test.query_params[key] = value
        test.switch_page(f"pages/{slug}.py").run()
        for key in view.runs:
            train(test, key)
        assert not test.exception, [e.value for e in test.exception]
        charts = test.get("plotly_chart")
        boxes = sum(e.label == translate("common.chart_as_text", lang) for e in test.expander)
        figures += [json.loads(chart.proto.spec) | {"_config": json.loads(chart.proto.config or "{}"),
                                                     "_alt": chart.proto.alt, "_boxes": boxes, "_charts": len(charts)}
                    for chart in charts]
    return figures


def trace_colour(trace: dict) -> str | None:
    if trace.get("type") in ("bar", "histogram", "box", "violin"):
        colour = trace.get("marker", {}).get("color")
    else:
        colour = trace.get("line", {}).get("color") or trace.get("marker", {}).get("color")
    return colour if isinstance(colour, str) else None


def axes_with_data(figure: dict) -> set[str]:
    """Layout axis names ("xaxis", "yaxis2", ...) that some trace draws on and that show ticks."""
    used = set()
    for trace in figure["data"]:
        if trace.get("type", "scatter") in NO_AXES:
            continue
        for letter in "xy":
            ref = trace.get(f"{letter}axis", letter)
            used.add(f"{letter}axis{ref[1:]}")
    layout = figure["layout"]
    return {name for name in used
            if layout.get(name, {}).get("showticklabels", True) and layout.get(name, {}).get("visible", True)}


def problems_of(figure: dict) -> list[str]:
    layout, found = figure["layout"], []
    title = (layout.get("title") or {}).get("text") or "(untitled)"
    horizontal = {a.get("name", "")[len("ytitle:"):] for a in layout.get("annotations", [])
                  if a.get("name", "").startswith("ytitle:")}
    for axis in sorted(axes_with_data(figure)):
        axis_title = ((layout.get(axis) or {}).get("title") or {}).get("text")
        if not axis_title and axis not in horizontal:
            found.append(f"{title}: {axis} has no title")
        if axis.startswith("yaxis") and axis_title and CJK.search(axis_title):
            found.append(f"{title}: {axis} title {axis_title!r} is CJK text set sideways")
    for name, axis in layout.items():
        if not name.startswith(("xaxis", "yaxis")) or axis.get("type") != "log":
            continue
        labels = axis.get("ticktext")
        values = axis.get("tickvals")
        if axis.get("tickmode") != "array" or labels is None:
            found.append(f"{title}: log axis {name} left to Plotly's ticks")
            continue
        for value, label in zip(values, labels, strict=True):
            mantissa = value / 10 ** math.floor(math.log10(value) + 1e-9)
            if not READABLE_LOG_TICK.match(label) or min(abs(mantissa - m) for m in (1, 2, 5)) > 1e-6:
                found.append(f"{title}: log axis {name} tick {label!r} at {value}")
    for trace in figure["data"]:
        mode = trace.get("mode", "")
        shown = (trace.get("marker") or {}).get("maxdisplayed") or len(trace.get("x") or ())
        if "lines" in mode and "markers" in mode and len(trace.get("x") or ()) > DENSE_POINTS and shown > MARKERS_SHOWN:
            found.append(f"{title}: {trace.get('name')} has markers on {len(trace['x'])} points")
        if trace.get("name") and trace.get("type", "scatter") not in NO_AXES | {"heatmap", "contour"}:
            colour = trace_colour(trace)
            if colour is None:
                found.append(f"{title}: {trace['name']!r} has no colour of its own")
    legend = layout.get("legend", {})
    shown = [t for t in figure["data"] if t.get("name") and t.get("showlegend", True)
             and t.get("type", "scatter") not in {"heatmap", "contour", "surface"}]
    if len(shown) > 1 and legend.get("orientation") != "h":
        found.append(f"{title}: legend not laid flat under the plot")
    if figure["_config"].get("displayModeBar") is not False:
        found.append(f"{title}: Plotly's toolbar is on")
    return found


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("slug", list(PAGES))
def test_every_figure_of_a_page_follows_the_chart_style(app, slug, lang):
    figures = page_figures(app, slug, lang)
    assert figures, f"{slug} drew no figure"
    problems = [problem for figure in figures for problem in problems_of(figure)]
    colours: dict[str, set[str]] = {}
    for figure in figures:
        for trace in figure["data"]:
            name, colour = trace.get("name"), trace_colour(trace)
            if name and colour and trace.get("legendgroup") != "previous":
                colours.setdefault(name, set()).add(colour.upper())
    problems += [f"{name!r} drawn in {sorted(found)}" for name, found in colours.items() if len(found) > 1]
    problems += [problem for figure in figures for problem in text_problems(figure, lang)]
    assert not problems, "\n".join(problems)


def text_problems(figure: dict, lang: str) -> list[str]:
    """Issue 31: the chart's text alternative is there, in the page's language, and says its data (a
    finite value of its data, as ui.chart_text formats numbers, is in it); each chart has its
    "Chart as text and data" box."""
    title = (figure["layout"].get("title") or {}).get("text") or "(untitled)"
    alt, found = figure["_alt"], []
    if not alt:
        return [f"{title}: no text alternative"]
    if (lang == "zh") != bool(CJK.search(alt)):
        found.append(f"{title}: text alternative not in {lang}: {alt[:80]!r}")
    values = {chart_text.number(v) for trace in figure["data"] if trace.get("legendgroup") != "previous"
              for key in ("x", "y", "z") for v in flat(trace.get(key))}
    if values and not any(value in alt for value in values):
        found.append(f"{title}: text alternative names none of its values: {alt[:120]!r}")
    if figure["_boxes"] < figure["_charts"]:
        found.append(f"{title}: {figure['_charts']} charts, {figure['_boxes']} 'chart as text' boxes")
    return found


def flat(values) -> list[float]:
    """The finite numbers of a figure JSON's x, y or z (nested for a heatmap)."""
    if isinstance(values, (int, float)) and not isinstance(values, bool):
        return [values] if math.isfinite(values) else []
    if isinstance(values, list):
        return [v for item in values for v in flat(item)]
    if isinstance(values, dict) and "bdata" in values:          # Plotly's typed-array encoding of numpy data
        array = np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
        return [float(v) for v in array if np.isfinite(v)]
    return []


def test_the_style_rules_catch_what_the_issue_saw():
    """The checker itself: each fault the issue reported is found on a figure that has it."""
    bad = {"data": [{"type": "scatter", "mode": "lines+markers", "name": "Adam", "x": list(range(500)),
                     "y": [1.0] * 500}],
           "layout": {"yaxis": {"type": "log", "title": {"text": "损失"}}, "legend": {}}, "_config": {}}
    found = "\n".join(problems_of(bad))
    for fault in ("xaxis has no title", "CJK text set sideways", "left to Plotly's ticks", "markers on 500",
                  "no colour of its own", "toolbar"):
        assert fault in found
    assert PALETTE[0] != NEUTRAL


def _luminance(colour: str) -> float:
    """WCAG 2.2's relative luminance of a #RRGGBB colour."""
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_every_series_colour_and_the_reference_grey_stand_out_from_the_white_plot():
    """WCAG 1.4.11: a chart's lines need 3:1 against their background; and each palette colour has
    its own marker symbol (1.4.1: colour is not the only carrier)."""
    for colour in (*PALETTE, NEUTRAL):
        assert (1.05) / (_luminance(colour) + 0.05) >= 3.0, colour
    assert len(set(SYMBOLS)) == len(SYMBOLS) == len(PALETTE)
