"""Plotly figures for the pages, in one chart style: curves over training steps, and each concept's own views.

A live run redraws many times, and building a Plotly figure (it validates every property) costs
10-30 ms, far more than updating one. So each figure is built once per run with its static parts,
and an `update_*` function swaps in the values that change.

Every figure reaches the page through `show()`, which applies the house style (`finish()`): one
colour per series name on every chart of a page, from a colour-blind-safe palette (Okabe & Ito);
legends under the plot; titles and legend entries wrapped instead of cut; log axes ticked at
powers of ten; no markers on dense lines; CJK y-axis titles set horizontally above the axis; curves
that coincide drawn so both show, with a note saying so; and no Plotly toolbar over the titles.
"""

import math
import re

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from engine import regression
from engine.training import TrainingStep
from ui import chart_text
from ui.chart_text import DIVERGED, PREVIOUS_GROUP  # the previous run's faint copy; the divergence marks
from ui.i18n import text

# Okabe & Ito's (2008) "Color Universal Design" hues, distinguishable with every common colour-vision
# deficiency, darkened where needed so that every line has at least 3:1 contrast with the white plot
# (WCAG 2.2, 1.4.11): blue 5.2, orange 3.8, green 3.4, purple 4.4, vermilion 3.9, black 21, olive 5.4,
# sky blue 4.1 (tests/test_chart_style.py computes them). Ordered so that the first few are distinct
# hues (no two blues early on). Each colour has its marker symbol, so colour is never the only carrier.
PALETTE = ("#0072B2", "#B07800", "#009E73", "#B8559A", "#D55E00", "#000000", "#7A6A00", "#2D84B8")
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "triangle-down", "cross", "star")
MARKERS_SHOWN = 12             # a dense line shows at most this many of its markers (Plotly's maxdisplayed)
NEUTRAL = "#888888"            # references: least squares, true curves, limits
PLOTLY_CONFIG = {"displayModeBar": False, "displaylogo": False, "responsive": True}
COLOURS_KEY = "_chart_colours"  # Session State: page -> {series name: colour}
DENSE_POINTS = 40               # a line with more points than this shows only MARKERS_SHOWN markers
COINCIDE = 1e-3                 # two curves within 0.1 % of each other everywhere "coincide"
LINE_CHARS = 34                 # wrap legend entries after about this many columns (a CJK character is two)
TITLE_CHARS = 42               # a title line that fits a phone's chart (about 45 characters)
COLOURED = {"scatter", "scattergl", "bar", "histogram", "scatter3d", "box", "violin"}
_fallback_colours: dict[str, str] = {}
CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")


def _columns(word: str) -> int:
    return sum(2 if CJK.match(ch) else 1 for ch in word)


def wrap(label: str, width: int) -> str:
    """Break `label` into lines of about `width` columns with <br> (words kept whole; CJK text may
    break between any two characters). Labels that already hold <br> are left alone."""
    if not label or "<br>" in label or _columns(label) <= width:
        return label
    tokens = re.findall(r"[\u3000-\u9fff\uff00-\uffef]|[^\s\u3000-\u9fff\uff00-\uffef]+\s*|\s+", label)
    lines, line = [], ""
    for token in tokens:
        if line and _columns(line + token.rstrip()) > width:
            lines.append(line.rstrip())
            line = token.lstrip()
        else:
            line += token
    lines.append(line.rstrip())
    return "<br>".join(part for part in lines if part)


def _page_colours() -> dict[str, str]:
    """This page's series name -> colour, kept in the session so a name keeps its colour on every
    chart and every redraw (outside a Streamlit run, one module-wide table)."""
    try:
        from ui.records import PAGE_KEY

        store = st.session_state.setdefault(COLOURS_KEY, {})
        return store.setdefault(st.session_state.get(PAGE_KEY, ""), {})
    except Exception:  # noqa: BLE001 - no script run context (a unit test): one shared table
        return _fallback_colours


def colour_of(name: str, table: dict[str, str] | None = None) -> str:
    """The colour the series `name` has on this page (the next free palette colour the first time)."""
    table = _page_colours() if table is None else table
    if name not in table:
        used = set(table.values())
        free = [c for c in PALETTE if c not in used]
        table[name] = free[0] if free else PALETTE[len(table) % len(PALETTE)]
    return table[name]


def _trace_colour(trace) -> str | None:
    if trace.type in ("bar", "histogram", "box", "violin"):
        colour = trace.marker.color
    else:
        colour = trace.line.color if trace.line is not None and trace.line.color else None
        colour = colour or (trace.marker.color if trace.marker is not None else None)
    return colour if isinstance(colour, str) else None


def _set_colour(trace, colour: str) -> None:
    if trace.type in ("bar", "histogram", "box", "violin"):
        trace.marker.color = colour
        return
    if trace.mode is None or "lines" in trace.mode or trace.type == "scatter3d":
        trace.line.color = colour
    if trace.mode is None or "markers" in trace.mode:
        trace.marker.color = colour


def _mark_series(trace) -> None:
    """Give a palette-coloured line its colour's marker symbol, so that a series differs by shape as
    well as by colour (WCAG 1.4.1); a dense line shows only MARKERS_SHOWN of its markers."""
    if trace.type not in ("scatter", "scattergl") or trace.mode is None or "lines" not in trace.mode:
        return
    colour = _trace_colour(trace)
    if colour not in PALETTE or (trace.line is not None and trace.line.dash == "dot"):   # a previous run's copy
        return
    trace.mode = "lines+markers"
    trace.marker.symbol = SYMBOLS[PALETTE.index(colour)]
    trace.marker.color = colour
    if trace.marker.size is None:
        trace.marker.size = 7
    if trace.x is not None and len(trace.x) > DENSE_POINTS:
        trace.marker.maxdisplayed = MARKERS_SHOWN


def _axis_values(figure: go.Figure, axis: str) -> list[float]:
    """Every positive finite value plotted on layout axis `axis` ("xaxis", "yaxis2", ...)."""
    letter, suffix = axis[0], axis[5:]
    values: list[float] = []
    for trace in figure.data:
        if trace.type not in ("scatter", "scattergl", "bar"):
            continue
        if (getattr(trace, f"{letter}axis", None) or letter) != letter + suffix:
            continue
        data = getattr(trace, letter)
        if data is not None:
            values += [float(v) for v in np.asarray(data, dtype=float).ravel() if math.isfinite(v) and v > 0]
    return values


SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_label(exponent: int) -> str:
    """10^k as text a reader reads at once: 0.001 to 1000 written out, else 10⁻⁴ / 10⁴."""
    if -3 <= exponent <= 3:
        return f"{10.0 ** exponent:g}"
    return "10" + str(exponent).translate(SUPERSCRIPT)


def log_ticks(values: list[float]) -> tuple[list[float], list[str]]:
    """Tick positions and labels for a log axis over `values`: every power of ten in range, and
    2 and 5 times each when the data span less than two decades (so a narrow range has ticks)."""
    if not values:
        return [], []
    low, high = math.floor(math.log10(min(values))), math.ceil(math.log10(max(values)))
    ticks = [(10.0 ** k, power_label(k)) for k in range(low, high + 1)]
    if high - low <= 2:
        ticks += [(m * 10.0 ** k, f"{m * 10.0 ** k:g}" if -3 <= k <= 3 else f"{m}×{power_label(k)}")
                  for k in range(low, high) for m in (2, 5)]
        ticks.sort()
    return [t for t, _ in ticks], [label for _, label in ticks]


def _coinciding(figure: go.Figure) -> list[tuple[str, str]]:
    """Pairs of named line traces on the same axes and x values whose y values agree within
    COINCIDE (relative) at every point: (first, later). The later one is drawn dashed on top."""
    lines = [t for t in figure.data if t.type == "scatter" and t.legendgroup != PREVIOUS_GROUP and t.name
             and (t.mode is None or "lines" in t.mode) and t.y is not None and len(t.y) >= 2]
    pairs = []
    for j, later in enumerate(lines):
        for first in lines[:j]:
            if (first.xaxis, first.yaxis) != (later.xaxis, later.yaxis) or len(first.y) != len(later.y):
                continue
            if first.x is not None and later.x is not None and list(first.x) != list(later.x):
                continue
            a, b = np.asarray(first.y, dtype=float), np.asarray(later.y, dtype=float)
            if not (np.isfinite(a).all() and np.isfinite(b).all()):
                continue
            scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-12)
            if np.all(np.abs(a - b) <= COINCIDE * scale):
                pairs.append((first.name, later.name))
                later.line.dash = "dash"
                first.line.width = max(first.line.width or 2, 5)
                break
    return pairs


def _horizontal_y_titles(figure: go.Figure) -> None:
    """A y-axis title in CJK text is set horizontally at the top of its axis (a rotated Chinese
    title reads sideways); the axis keeps no title of its own. The annotation is named
    "ytitle:<axis>" so the style test finds it."""
    layout = figure.layout
    present = layout.to_plotly_json()
    for name in [n for n in present if n.startswith("yaxis")]:
        axis = layout[name]
        title = axis.title.text if axis.title is not None else None
        if not title or not CJK.search(title):
            continue
        top = axis.domain[1] if axis.domain is not None else 1
        x_name = "xaxis" + name[5:] if "xaxis" + name[5:] in present else "xaxis"
        x_domain = present.get(x_name, {}).get("domain")
        left = x_domain[0] if x_domain else 0
        layout.annotations = (*layout.annotations, go.layout.Annotation(
            text=title, name=f"ytitle:{name}", xref="paper", yref="paper", x=left, y=top,
            xanchor="left", yanchor="bottom", showarrow=False, yshift=4, font={"size": 13}))
        axis.title.text = None


def finish(figure: go.Figure) -> go.Figure:
    """Apply the house style in place (see the module docstring) and return the figure."""
    table = _page_colours()
    notes = [text("common.coincide", later=later, first=first, share="0.1%") for first, later in _coinciding(figure)]
    for trace in figure.data:
        if trace.type not in COLOURED:
            continue
        if trace.name:
            if _trace_colour(trace) is None:
                _set_colour(trace, colour_of(trace.name, table))
            _mark_series(trace)
            trace.name = wrap(trace.name, LINE_CHARS)
    _mark_divergence(figure)
    layout = figure.layout
    for name in [n for n in layout.to_plotly_json() if n.startswith(("xaxis", "yaxis"))]:
        axis = layout[name]
        if axis.type == "log":
            values, labels = log_ticks(_axis_values(figure, name))
            axis.tickmode, axis.tickvals, axis.ticktext = "array", values, labels
    title = layout.title.text if layout.title is not None else None
    if title or notes:
        lines = [wrap(title, TITLE_CHARS)] if title else []
        lines += [f"<span style='font-size:12px'>{wrap(note, TITLE_CHARS + 14)}</span>" for note in notes]
        layout.title.text = "<br>".join(lines)
        layout.title.x, layout.title.xanchor = 0, "left"
        # Above the plot area, pushing the top margin: a title of two or three lines is never cut
        # off, and leaves room for a horizontal CJK y title under it (or the top tick label, half of
        # which stands above the plot area).
        layout.title.yref, layout.title.y, layout.title.yanchor = "paper", 1, "bottom"
        layout.title.automargin = True
        layout.title.pad.b = 28 if any(CJK.search(str((layout[n].title or {}).text or ""))
                                       for n in layout.to_plotly_json() if n.startswith("yaxis")) else 16
    _horizontal_y_titles(figure)
    if any(t.showlegend is not False and t.name for t in figure.data if t.type in COLOURED):
        layout.legend.orientation, layout.legend.x, layout.legend.xanchor = "h", 0, "left"
        layout.legend.yref, layout.legend.y, layout.legend.yanchor = "container", 0, "bottom"
        layout.margin.b = max(layout.margin.b or 0, 40 + 22 * _legend_rows(figure))
    return figure


def _legend_rows(figure: go.Figure) -> int:
    names = [t.name for t in figure.data if t.name and t.showlegend is not False]
    columns = sum(_columns(re.sub("<[^>]+>", "", n)) + 6 for n in names)
    return max(1, math.ceil(columns / 70)) + max((n.count("<br>") for n in names), default=0)


def show(figure: go.Figure, container=None, key: str | None = None) -> None:
    """Draw `figure` in the house style, full width of its container (or column), with its text
    alternative computed from its data (`ui.chart_text`): the chart's accessible name, and, under a
    "Chart as text and data" expander a learner opens on request, the same sentences and a table of
    the data (WCAG 1.1.1)."""
    finished = finish(figure)
    summary = chart_text.describe(finished)
    box = (container or st).container()
    box.plotly_chart(finished, width="stretch", config=PLOTLY_CONFIG, key=key, alt=summary)
    with box.expander(text("common.chart_as_text")):
        st.markdown(chart_text.markdown_escaped(summary))
        data = chart_text.table(finished)
        if data:
            st.markdown(data)


def with_previous(figure: go.Figure, previous: go.Figure | None) -> go.Figure:
    """Add the previous run's line traces to `figure`, faint and dotted, in the same colours, with
    one legend entry for all of them; `previous` is the same chart drawn from the previous run."""
    if previous is None:
        return figure
    copies = []
    for trace in previous.data:
        if trace.type != "scatter" or not trace.name or trace.x is None or not len(trace.x) \
                or (trace.mode and "lines" not in trace.mode):
            continue
        copy = go.Scatter(trace)
        copy.update(opacity=0.35, showlegend=False, legendgroup=PREVIOUS_GROUP, hoverinfo="skip", mode="lines",
                    meta=None)
        copy.line.dash = "dot"
        copies.append(copy)
    if not copies:
        return figure
    copies.append(go.Scatter(x=[None], y=[None], mode="lines", name=text("common.previous_run"),
                             legendgroup=PREVIOUS_GROUP, line={"color": NEUTRAL, "dash": "dot"}, opacity=0.6))
    figure.add_traces(copies)
    return figure


LABEL_CHARS = 30               # wrap a divergence label after about this many columns (a phone's chart is narrow)


def watch_divergence(figure: go.Figure, quantity: str | None = "loss", unit: str = "step") -> go.Figure:
    """Have `finish()` mark where each curve of `figure` first turns NaN or infinite. The curves are a
    run's values against its `unit`s ("step" or "evaluation": the x values); `quantity` ("loss",
    "accuracy", "score", "error", "distance") is what every curve measures, None where each curve's
    own name says it."""
    figure.layout.meta = {DIVERGED: {"quantity": quantity, "unit": unit}}
    return figure


def _first_non_finite(values) -> int | None:
    """Index of the first value that is NaN or infinite (None is a gap, not a failure), or None."""
    return next((i for i, v in enumerate(values) if v is not None and not math.isfinite(v)), None)


def first_non_finite(steps: list, values: list[float | None]) -> tuple[int, float] | None:
    """(step, value) of the first value that is NaN or infinite, or None."""
    index = _first_non_finite(values)
    return None if index is None else (steps[index], values[index])


def divergence_label(name: str, steps: list, index: int, value: float, quantity: str | None, unit: str) -> str:
    """ "pure fp16 diverged: loss NaN at step 37", in the learner's language, for the curve `name` whose
    value at `steps[index]` is `value`. "at" only where the curve has the step before as well: after a
    gap between reports it is "by", since the value may have broken at any step in the gap."""
    step = steps[index]
    exact = steps[index - 1] == step - 1 if index else step <= 1
    when = text(f"common.diverged_{'at' if exact else 'by'}_{unit}", step=f"{step:g}")
    shown = "NaN" if math.isnan(value) else ("∞" if value > 0 else "−∞")
    if quantity is None:
        return text("common.diverged_self", line=name, value=shown, when=when)
    return text("common.diverged", line=name, quantity=text(f"common.diverged_{quantity}"), value=shown, when=when)


def _extent(figure: go.Figure, ref: str) -> tuple[float, float]:
    """The lowest and highest value axis `ref` ("x", "y2") shows: its own range if it has one, else
    the finite values drawn on it (log10 of the positive ones on a log axis); (0, 0) when none."""
    letter = ref[0]
    axis = figure.layout[f"{letter}axis{ref[1:]}"]
    if axis.range is not None and axis.autorange is not True:
        return float(min(axis.range)), float(max(axis.range))
    log = axis.type == "log"
    values = [float(v) for t in figure.data if (getattr(t, f"{letter}axis", None) or letter) == ref
              and t.meta != DIVERGED and getattr(t, letter, None) is not None
              for v in getattr(t, letter) if v is not None and math.isfinite(v) and (v > 0 or not log)]
    values = [math.log10(v) for v in values] if log else values
    return (min(values), max(values)) if values else (0.0, 0.0)


def _mark_divergence(figure: go.Figure) -> None:
    """On a watched figure, for each curve that turns NaN or infinite: an ✕ in its colour at that step
    (at its last finite value, or at the top of the plotted range when it has none) and a label that
    says so, which its hover repeats. A label starts beside its ✕, where the broken curve would have
    gone, and stretches towards the middle of the plot, so a phone's narrow chart shows it whole; it
    hangs down from a ✕ high in the plot and stands up from a low one, and a second label on the
    same axes stands further off. Drawing the figure again replaces the marks."""
    figure.data = [t for t in figure.data if t.meta != DIVERGED]
    notes = [note for note in figure.layout.annotations if note.name != DIVERGED]
    watch = figure.layout.meta.get(DIVERGED) if isinstance(figure.layout.meta, dict) else None
    marks, stacked = [], {}
    for trace in figure.data if watch else ():
        if trace.type != "scatter" or not trace.name or trace.legendgroup == PREVIOUS_GROUP \
                or trace.x is None or trace.y is None or (index := _first_non_finite(trace.y)) is None:
            continue
        refs = (trace.xaxis or "x", trace.yaxis or "y")
        log = figure.layout["yaxis" + refs[1][1:]].type == "log"
        low, high = _extent(figure, refs[1])
        before = [v for v in trace.y[:index] if v is not None and math.isfinite(v) and (v > 0 or not log)]
        last = (math.log10(before[-1]) if log else before[-1]) if before else high
        at = min(max(last, low), high) if high > low else last
        y = before[-1] if before and at == last else 10 ** at if log else at
        left, right = _extent(figure, refs[0])
        step = trace.x[index]
        name = re.sub(r"(?<=[\u3000-\u9fff\uff00-\uffef])<br>|<br>(?=[\u3000-\u9fff\uff00-\uffef])", "",
                      trace.name).replace("<br>", " ")          # the legend's wrapped name, on one line
        label = divergence_label(name, list(trace.x), index, trace.y[index], watch["quantity"], watch["unit"])
        colour = _trace_colour(trace) or NEUTRAL
        k = stacked[refs] = stacked.get(refs, -1) + 1
        high_up = high > low and (at - low) / (high - low) > 0.6
        towards_left = right > left and (step - left) / (right - left) > 0.5
        marks.append({"type": "scatter", "mode": "markers", "x": [step], "y": [y],
                      "xaxis": refs[0], "yaxis": refs[1], "meta": DIVERGED, "showlegend": False,
                      "cliponaxis": False, "hovertemplate": f"{label}<extra></extra>",
                      "marker": {"symbol": "x", "size": 14, "color": colour, "line": {"color": "white", "width": 1}}})
        notes.append({"name": DIVERGED, "xref": refs[0], "yref": refs[1], "x": step, "y": at,
                      "text": wrap(label, LABEL_CHARS), "align": "left", "showarrow": True, "arrowhead": 0,
                      "arrowwidth": 1.5, "arrowcolor": colour, "standoff": 8, "ax": -18 if towards_left else 18,
                      "ay": (1 if high_up else -1) * 44 * k, "xanchor": "right" if towards_left else "left",
                      "yanchor": "top" if high_up else "bottom",
                      "bgcolor": "rgba(255,255,255,0.9)", "bordercolor": colour, "borderwidth": 1, "borderpad": 3,
                      "font": {"size": 12, "color": "#222222"}})
    if marks:
        figure.add_traces(marks)
    figure.layout.annotations = notes


def history_figure(series: dict[str, str], title: str, x_title: str,
                   references: dict[str, float] | None = None, log_y: bool = True,
                   y_title: str | None = None, quantity: str | None = "loss", unit: str = "step") -> go.Figure:
    """One line per `series` entry (history key -> label) plus dashed horizontal reference lines
    (label -> value); empty until `update_history` fills it. A line that turns NaN or infinite is
    marked there (see `watch_divergence` for `quantity` and `unit`). Built from one dict: Plotly
    validates a whole spec about 3x faster than a figure assembled with add_* calls."""
    lines = [{"type": "scatter", "mode": "lines", "x": [], "y": [], "name": label, "meta": key}
             for key, label in series.items()]
    shapes = [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": value, "y1": value,
               "line": {"dash": "dash", "color": "grey"}} for value in (references or {}).values()]
    notes = [{"xref": "paper", "x": 0, "y": value, "yref": "y", "text": label, "showarrow": False,
              "xanchor": "left", "yanchor": "bottom", "name": f"{chart_text.REFERENCE} {value!r}"}
             for label, value in (references or {}).items()]
    if log_y:    # log axes place annotations by log10 of the value
        notes = [{**note, "y": math.log10(note["y"]) if note["y"] > 0 else 0} for note in notes]
    return watch_divergence(go.Figure({"data": lines, "layout": {
        "title": {"text": title}, "xaxis": {"title": {"text": x_title}},
        "yaxis": {"type": "log" if log_y else "linear", "title": {"text": y_title}}, "height": 330,
        "margin": {"t": 50, "b": 10},
        "legend": {"orientation": "h", "y": -0.25},
        "shapes": shapes, "annotations": notes}}), quantity, unit)


def update_history(figure: go.Figure, history: dict[str, list[float]]) -> go.Figure:
    """Plot `history[key]` against `history["step"]` on each line built by `history_figure`."""
    for trace in figure.data:
        if trace.meta in history:              # not the previous run's faint copies
            trace.x, trace.y = history["step"], history[trace.meta]
    return figure


def regression_fit_figure(data: regression.RegressionData, fit: regression.LeastSquaresFit | None) -> go.Figure:
    """Training, outlier and test points, the true curve, the least-squares fit, and an empty
    last trace for the model's fit (see `update_regression_fit`)."""
    points = regression.points(data)

    def trace(x: list[float], y: list[float], label: str, **style) -> dict:
        return {"type": "scatter", "x": x, "y": y, "name": text(f"regression.{label}"), **style}

    traces = [trace(points["train_x"], points["train_y"], "train_points", mode="markers",
                    marker={"size": 6, "opacity": 0.7})]
    if points["outlier_x"]:
        traces.append(trace(points["outlier_x"], points["outlier_y"], "outlier_points", mode="markers",
                            marker={"size": 8, "symbol": "x"}))
    traces.append(trace(points["test_x"], points["test_y"], "test_points", mode="markers",
                        marker={"size": 6, "symbol": "diamond-open"}))
    if "true_x" in points:
        traces.append(trace(points["true_x"], points["true_y"], "true_curve", line={"dash": "dot", "color": "grey"}))
    if fit:
        traces.append(trace(fit.grid_x.tolist(), fit.grid_y.tolist(), "lstsq_curve", line={"dash": "dash", "width": 3}))
    traces.append(trace([], [], "gd_curve", line={"width": 3}))
    y_all = points["train_y"] + points["test_y"]
    span = max(y_all) - min(y_all) or 1.0
    return go.Figure({"data": traces, "layout": {
        "xaxis": {"title": {"text": "x"}}, "height": 370, "margin": {"t": 50, "b": 10},
        "yaxis": {"title": {"text": "y"}, "range": [min(y_all) - 0.25 * span, max(y_all) + 0.25 * span]}}})


def update_regression_fit(figure: go.Figure, step: TrainingStep) -> go.Figure:
    """Show the model's curve and the step count of `step`."""
    figure.data[-1].x, figure.data[-1].y = step.extras["grid_x"].tolist(), step.extras["grid_y"].tolist()
    figure.layout.title.text = text("regression.fit_title", step=step.step, total=step.total)
    return figure


def heatmap_pair(left: list[list[float]], right: list[list[float]], titles: tuple[str, str]) -> go.Figure:
    """Two matrices side by side on one colour scale (for Gram matrices)."""
    cell = {"type": "heatmap", "colorscale": "Magma", "zmin": 0, "zmax": 1, "showscale": False}
    return go.Figure({"data": [{**cell, "z": left, "xaxis": "x", "yaxis": "y"},
                               {**cell, "z": right, "xaxis": "x2", "yaxis": "y2", "showscale": True}],
                      "layout": {"height": 340, "margin": {"t": 40, "b": 10},
                                 "xaxis": {"domain": [0, 0.45], "showticklabels": False},
                                 "xaxis2": {"domain": [0.52, 0.97], "showticklabels": False},
                                 "yaxis": {"autorange": "reversed", "showticklabels": False},
                                 "yaxis2": {"autorange": "reversed", "showticklabels": False, "anchor": "x2"},
                                 "annotations": [{"text": titles[0], "x": 0.22, "y": 1.08, "xref": "paper",
                                                  "yref": "paper", "showarrow": False},
                                                 {"text": titles[1], "x": 0.75, "y": 1.08, "xref": "paper",
                                                  "yref": "paper", "showarrow": False}]}})


def latent_scatter(points: list[list[float]], labels: list[int], title: str) -> go.Figure:
    """Test codes coloured by digit: 3-D for three coordinates, else 2-D (1-D codes get y = 0)."""
    columns = list(zip(*points, strict=True))
    three_d = len(columns) == 3
    traces = []
    for digit in sorted(set(labels)):
        chosen = [i for i, label in enumerate(labels) if label == digit]
        trace = {"type": "scatter3d" if three_d else "scatter", "mode": "markers", "name": str(digit),
                 "x": [columns[0][i] for i in chosen],
                 "y": [columns[1][i] for i in chosen] if len(columns) > 1 else [0.0] * len(chosen),
                 "marker": {"size": 3 if three_d else 5}}
        if three_d:
            trace["z"] = [columns[2][i] for i in chosen]
        traces.append(trace)
    layout = {"title": {"text": title}, "height": 560, "margin": {"t": 50, "b": 10}}
    if three_d:
        layout["scene"] = {"aspectmode": "cube", "domain": {"x": [0, 1], "y": [0, 1]},
                           "xaxis": {"title": {"text": "z1"}}, "yaxis": {"title": {"text": "z2"}},
                           "zaxis": {"title": {"text": "z3"}}}
    return go.Figure({"data": traces, "layout": layout})


def histogram_with_marker(values: list[float], marker: float, title: str) -> go.Figure:
    """A histogram of `values` and a vertical line at `marker`."""
    return go.Figure({"data": [{"type": "histogram", "x": values, "nbinsx": 50, "showlegend": False}],
                      "layout": {"title": {"text": title}, "height": 300, "margin": {"t": 50, "b": 10},
                                 "shapes": [{"type": "line", "x0": marker, "x1": marker, "yref": "paper",
                                             "y0": 0, "y1": 1, "line": {"color": "red", "width": 3}}]}})


def lines_figure(x: list[float], lines: dict[str, list[float]], title: str, x_title: str, y_title: str,
                 y_range: tuple[float, float] | None = None) -> go.Figure:
    """A few named lines over the same x values (markers on each point)."""
    return go.Figure({"data": [{"type": "scatter", "mode": "lines+markers", "x": x, "y": y, "name": name}
                               for name, y in lines.items()],
                      "layout": {"title": {"text": title}, "height": 360, "margin": {"t": 50, "b": 10},
                                 "xaxis": {"title": {"text": x_title}},
                                 "yaxis": {"title": {"text": y_title}, "range": list(y_range) if y_range else None},
                                 "legend": {"orientation": "h", "y": -0.25}}})


def bars_figure(categories: list[str], groups: dict[str, list[float]], title: str) -> go.Figure:
    """Grouped bars: one bar per group for each category."""
    return go.Figure({"data": [{"type": "bar", "x": categories, "y": values, "name": name}
                               for name, values in groups.items()],
                      "layout": {"title": {"text": title}, "height": 260, "margin": {"t": 40, "b": 10},
                                 "barmode": "group", "yaxis": {"range": [0, 1]}, "xaxis": {"type": "category"},
                                 "legend": {"orientation": "h", "y": -0.3}}})


def contour_paths(grid: tuple[list[float], list[float], list[list[float]]], paths: dict[str, list[list[float]]],
                  minima: list[tuple[float, float]], title: str, surface_3d: bool = False,
                  heights: dict[str, list[float]] | None = None) -> go.Figure:
    """Contours (or a 3-D surface) of log(1 + loss) with each optimizer's path up to now."""
    xs, ys, z = grid
    base = {"x": xs, "y": ys, "z": z, "colorscale": "Viridis", "showscale": False}
    data: list[dict] = [{**base, "type": "surface", "opacity": 0.85} if surface_3d
                        else {**base, "type": "contour", "ncontours": 30}]
    for name, path in paths.items():
        px, py = [p[0] for p in path], [p[1] for p in path]
        if surface_3d:
            data.append({"type": "scatter3d", "mode": "lines", "x": px, "y": py, "z": heights[name], "name": name,
                         "line": {"width": 6}})
        else:
            data.append({"type": "scatter", "mode": "lines+markers", "x": px, "y": py, "name": name,
                         "marker": {"size": 3}, "line": {"width": 2}})
    if minima and not surface_3d:
        data.append({"type": "scatter", "mode": "markers", "x": [m[0] for m in minima], "y": [m[1] for m in minima],
                     "name": text("common.minimum"), "marker": {"symbol": "star", "size": 14, "color": "white",
                                               "line": {"color": "black", "width": 1}}})
    layout = {"title": {"text": title}, "height": 520, "margin": {"t": 50, "b": 10},
              "legend": {"orientation": "h", "y": -0.12}}
    if not surface_3d:
        layout |= {"xaxis": {"range": [xs[0], xs[-1]]}, "yaxis": {"range": [ys[0], ys[-1]]}}
    return go.Figure({"data": data, "layout": layout})


def overlaid_histograms(values: dict[str, list[float]], title: str, x_title: str) -> go.Figure:
    return go.Figure({"data": [{"type": "histogram", "x": v, "name": name, "opacity": 0.6, "nbinsx": 60}
                               for name, v in values.items()],
                      "layout": {"title": {"text": title}, "barmode": "overlay", "height": 320,
                                 "margin": {"t": 50, "b": 10}, "xaxis": {"title": {"text": x_title}},
                                 "legend": {"orientation": "h", "y": -0.3}}})


def forecast_figure(series: list[float], split: int, labels: dict[str, str], title: str, x_title: str) -> go.Figure:
    """The whole series, a dashed line where the held-out part starts, and two empty prediction
    traces (one-step, recursive) for `update_forecast` to fill."""
    data = [{"type": "scatter", "mode": "lines", "x": list(range(len(series))), "y": series,
             "name": labels["series"], "line": {"color": "grey", "width": 1.5}},
            {"type": "scatter", "mode": "lines", "x": [], "y": [], "name": labels["one_step"], "line": {"width": 2}},
            {"type": "scatter", "mode": "lines", "x": [], "y": [], "name": labels["recursive"],
             "line": {"width": 2, "dash": "dot"}}]
    return go.Figure({"data": data, "layout": {
        "title": {"text": title}, "height": 380, "margin": {"t": 50, "b": 10},
        "xaxis": {"title": {"text": x_title}}, "legend": {"orientation": "h", "y": -0.2},
        "shapes": [{"type": "line", "x0": split - 0.5, "x1": split - 0.5, "yref": "paper", "y0": 0, "y1": 1,
                    "line": {"dash": "dash", "color": "black"}}],
        "annotations": [{"x": split - 0.5, "y": 1, "yref": "paper", "text": labels["boundary"], "showarrow": False,
                         "xanchor": "left", "yanchor": "bottom"}]}})


def update_forecast(figure: go.Figure, split: int, one_step: list[float], recursive: list[float]) -> go.Figure:
    x = list(range(split, split + len(one_step)))
    figure.data[1].x, figure.data[1].y = x, one_step
    figure.data[2].x, figure.data[2].y = x, recursive
    return figure


def stacked_heatmaps(panels: list[tuple[str, "list[list[float]] | np.ndarray", float | None, float | None]],
                     x_title: str) -> go.Figure:
    """Matrices (rows = units, columns = time steps) one above the other, sharing the time axis;
    each panel is (title, matrix, zmin, zmax): gates 0..1 in one scale, signed states in another."""
    count = len(panels)
    gap = 0.04
    height = (1 - gap * (count - 1)) / count
    data, layout = [], {"height": 150 * count + 60, "margin": {"t": 30, "b": 40, "l": 10, "r": 10},
                        "annotations": []}
    for k, (title, matrix, low, high) in enumerate(panels):
        axis = "" if k == 0 else str(k + 1)
        top = 1 - k * (height + gap)
        signed = low is not None and low < 0
        data.append({"type": "heatmap", "z": matrix, "xaxis": f"x{axis}", "yaxis": f"y{axis}",
                     "zmin": low, "zmax": high, "colorscale": "RdBu" if signed else "Viridis",
                     "reversescale": signed, "showscale": False})
        layout[f"xaxis{axis}"] = {"anchor": f"y{axis}", "showticklabels": k == count - 1,
                                  **({"title": {"text": x_title}} if k == count - 1 else {})}
        if k:
            layout[f"xaxis{axis}"]["matches"] = "x"
        layout[f"yaxis{axis}"] = {"domain": [max(top - height, 0.0), min(top, 1.0)], "showticklabels": False}
        layout["annotations"].append({"text": title, "xref": "paper", "yref": "paper", "x": 0, "y": top,
                                      "xanchor": "left", "yanchor": "bottom", "showarrow": False,
                                      "font": {"size": 12}})
    return go.Figure({"data": data, "layout": layout})


def bar_figure(x: list[float], y: list[float], title: str, x_title: str, height: int = 260) -> go.Figure:
    return go.Figure({"data": [{"type": "bar", "x": x, "y": y, "showlegend": False}],
                      "layout": {"title": {"text": title}, "height": height, "margin": {"t": 50, "b": 10},
                                 "xaxis": {"title": {"text": x_title}}}})


def range_bars(names: list[str], subnormal: list[float], normal: list[float], largest: list[float],
               labels: dict[str, str], title: str) -> go.Figure:
    """For each format, a log-scale bar from its smallest subnormal to its smallest normal number,
    then one from there to its largest number."""
    def span(low: list[float], high: list[float], label: str) -> dict:
        return {"type": "bar", "orientation": "h", "y": names, "base": [math.log10(v) for v in low],
                "x": [math.log10(h) - math.log10(v) for v, h in zip(low, high, strict=True)], "name": label}
    return go.Figure({"data": [span(subnormal, normal, labels["subnormal"]),
                               span(normal, largest, labels["normal"])],
                      "layout": {"title": {"text": title}, "height": 320, "margin": {"t": 50, "b": 10},
                                 "barmode": "overlay", "xaxis": {"title": {"text": "log₁₀ |x|"}},
                                 "yaxis": {"autorange": "reversed"}, "legend": {"orientation": "h", "y": -0.3}}})


def spacing_figure(curves: dict[str, tuple[list[float], list[float]]], title: str, x_title: str,
                   y_title: str) -> go.Figure:
    """Gap to the next representable number against the value, log-log, one line per format."""
    return go.Figure({"data": [{"type": "scatter", "mode": "lines", "x": x, "y": y, "name": name}
                               for name, (x, y) in curves.items()],
                      "layout": {"title": {"text": title}, "height": 320, "margin": {"t": 50, "b": 10},
                                 "xaxis": {"type": "log", "title": {"text": x_title}},
                                 "yaxis": {"type": "log", "title": {"text": y_title}},
                                 "legend": {"orientation": "h", "y": -0.3}}})


def histogram_with_lines(values: dict[str, list[float]], lines: dict[str, float], title: str,
                         x_title: str) -> go.Figure:
    """Overlaid histograms and labelled vertical lines (for example a format's limits)."""
    shapes = [{"type": "line", "x0": x, "x1": x, "yref": "paper", "y0": 0, "y1": 1,
               "line": {"dash": "dash", "color": "black"}} for x in lines.values()]
    notes = [{"x": x, "y": 1 - 0.08 * k, "yref": "paper", "text": label, "showarrow": False, "xanchor": "left",
              "font": {"size": 11}, "name": f"{chart_text.REFERENCE} {x!r}"}
             for k, (label, x) in enumerate(lines.items())]
    return go.Figure({"data": [{"type": "histogram", "x": v, "name": name, "opacity": 0.6, "nbinsx": 80}
                               for name, v in values.items()],
                      "layout": {"title": {"text": title}, "barmode": "overlay", "height": 340,
                                 "margin": {"t": 50, "b": 10}, "xaxis": {"title": {"text": x_title}},
                                 "shapes": shapes, "annotations": notes, "legend": {"orientation": "h", "y": -0.3}}})


def ring_figure(holds: list[list[int]], sends: list[tuple[int, int, int]], device_title: str,
                chunk_title: str) -> go.Figure:
    """Devices (rows) x chunks (columns): how many devices' gradients each copy of a chunk sums
    (full = all of them); arrows mark this step's transfers (sender's chunk -> receiver)."""
    devices = len(holds)
    notes = [{"x": chunk, "y": receiver, "ax": chunk, "ay": sender, "xref": "x", "yref": "y", "axref": "x",
              "ayref": "y", "showarrow": True, "arrowhead": 3, "arrowwidth": 2, "arrowcolor": "#d62728",
              "text": ""} for sender, receiver, chunk in sends]
    return go.Figure({"data": [{"type": "heatmap", "z": holds, "zmin": 1, "zmax": devices, "colorscale": "Blues",
                                "text": [[f"{c}/{devices}" for c in row] for row in holds], "texttemplate": "%{text}",
                                "showscale": False, "x": list(range(devices)), "y": list(range(devices))}],
                      "layout": {"height": 90 + 45 * devices, "margin": {"t": 20, "b": 10},
                                 "xaxis": {"title": {"text": chunk_title}, "dtick": 1, "side": "top"},
                                 "yaxis": {"title": {"text": device_title}, "dtick": 1, "autorange": "reversed"},
                                 "annotations": notes}})


def timeline_figure(timelines: dict[int, list[dict]], labels: dict, title: str, x_title: str) -> go.Figure:
    """A Gantt chart of measured intervals: one row per pipeline stage, forward and backward
    micro-batches as bars (start / end in seconds, drawn in milliseconds)."""
    data = []
    for kind in ("forward", "backward"):
        bars = [(stage, e) for stage, events in sorted(timelines.items()) for e in events if e["kind"] == kind]
        data.append({"type": "bar", "orientation": "h", "name": labels[kind],
                     "y": [labels["stage"][int(stage)] for stage, _ in bars],
                     "base": [1000 * e["start"] for _, e in bars],
                     "x": [1000 * (e["end"] - e["start"]) for _, e in bars],
                     "text": [str(e["micro"] + 1) for _, e in bars], "textposition": "inside",
                     "marker": {"line": {"color": "white", "width": 1}}})
    return go.Figure({"data": data, "layout": {"title": {"text": title}, "barmode": "overlay", "height": 260,
                                               "margin": {"t": 50, "b": 10}, "xaxis": {"title": {"text": x_title}},
                                               "yaxis": {"autorange": "reversed"},
                                               "legend": {"orientation": "h", "y": -0.35}}})
