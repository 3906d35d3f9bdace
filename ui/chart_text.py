"""Charts that speak (issue 31): every figure `ui.charts.show` draws gets a short text alternative
computed from its own data, in the learner's language (the chart's accessible name, and the first
line of its "Chart as text" box), and a data table in that box.

What a sighted learner reads off a chart is said per trace: a line's first and last value and where
it was lowest and highest, where it first became NaN or infinite; a cloud of points' extent; a bar
chart's values; a histogram's count, range and median; a heatmap's size and range. Pure functions of
the figure: tests/test_chart_text.py checks them against figures with known data, and
tests/test_chart_style.py that every figure of every page has both.
"""

import math
import re

import numpy as np
import plotly.graph_objects as go

from ui.i18n import text
from ui.widgets import number_format

TABLE_ROWS = 40          # rows of a series in the data table: evenly thinned beyond this, first and last kept
NAMED_BARS = 12          # bars named in the text alternative; the table has them all
PREVIOUS_GROUP = "previous"
DIVERGED = "diverged"
REFERENCE = "reference"  # an annotation named "reference <value>" labels a dashed reference line (ui.charts)


def plain(label) -> str:
    """A Plotly label (HTML line breaks and spans) as one line of plain text."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", str(label or ""))).strip()


number = number_format          # the app's one number format (4 significant digits)


def _axis_title(figure: go.Figure, ref: str) -> str:
    """The title of axis `ref` ("x", "y2"): its own, or the horizontal annotation `ui.charts` puts in
    place of a CJK y title; "" when it has none."""
    name = f"{ref[0]}axis{ref[1:]}"
    axis = figure.layout[name]
    if axis is not None and axis.title is not None and axis.title.text:
        return plain(axis.title.text)
    for note in figure.layout.annotations or ():
        if note.name == f"ytitle:{name}":
            return plain(note.text)
    return ""


def _where(figure: go.Figure, trace, at) -> str:
    """ "step 40": the x axis's title without its bracketed gloss or unit, and the value."""
    title = re.sub(r"\s*[（(][^（）()]*[)）]\s*$", "", _axis_title(figure, getattr(trace, "xaxis", None) or "x"))
    shown = _formatter(figure, trace, "x")(at) if isinstance(at, (int, float)) and not isinstance(at, bool) \
        else plain(at)
    return f"{title} {shown}".strip()


def _formatter(figure: go.Figure, trace, letter: str):
    """How a value on the trace's `letter` axis reads: as a percentage where the axis shows one."""
    ref = getattr(trace, f"{letter}axis", None) or letter
    axis = figure.layout[f"{letter}axis{ref[1:]}"]
    if axis is not None and axis.tickformat and axis.tickformat.endswith("%"):
        return lambda value: f"{100 * value:.3g}%"
    return number


def _values(sequence) -> list:
    return [] if sequence is None else list(sequence)


def _finite(values: list) -> list[int]:
    return [i for i, v in enumerate(values) if isinstance(v, (int, float)) and math.isfinite(v)]


def _line(figure: go.Figure, trace, name: str) -> str | None:
    ys = _values(trace.y)
    xs = _values(trace.x) or list(range(1, len(ys) + 1))
    good = _finite(ys)
    broken = next((i for i, v in enumerate(ys) if isinstance(v, (int, float)) and not math.isfinite(v)), None)
    if not good:
        return None if broken is None else text("common.chart_alt_point", name=name, value="NaN",
                                                 where=_where(figure, trace, xs[broken]))
    number = _formatter(figure, trace, "y")
    first, last = good[0], good[-1]
    low = min(good, key=lambda i: ys[i])
    high = max(good, key=lambda i: ys[i])
    if len(good) == 1:
        sentence = text("common.chart_alt_point", name=name, value=number(ys[first]),
                        where=_where(figure, trace, xs[first]))
    else:
        start, end = ys[first], ys[last]
        close = abs(end - start) <= 1e-3 * max(abs(start), abs(end), 1e-12)
        verb = "same" if close else "fell" if end < start else "rose"
        sentence = text(f"common.chart_alt_line_{verb}", name=name, first=number(start), last=number(end),
                        start=_where(figure, trace, xs[first]), end=_where(figure, trace, xs[last]),
                        low=number(ys[low]), low_at=_where(figure, trace, xs[low]),
                        high=number(ys[high]), high_at=_where(figure, trace, xs[high]))
    if broken is not None:
        sentence += " " + text("common.chart_alt_broken", where=_where(figure, trace, xs[broken]))
    return sentence


def _points(figure: go.Figure, trace, name: str) -> str | None:
    xs, ys = _values(trace.x), _values(trace.y)
    pairs = [(x, y) for x, y in zip(xs, ys, strict=False) if isinstance(x, (int, float)) and isinstance(y, (int, float))
             and math.isfinite(x) and math.isfinite(y)]
    if not pairs:
        return None
    x_title = _axis_title(figure, getattr(trace, "xaxis", None) or "x") or text("common.chart_table_x")
    y_title = _axis_title(figure, getattr(trace, "yaxis", None) or "y") or text("common.chart_table_y")
    x_number, y_number = _formatter(figure, trace, "x"), _formatter(figure, trace, "y")
    return text("common.chart_alt_points", name=name, count=len(pairs), x=x_title, y=y_title,
                x_low=x_number(min(p[0] for p in pairs)), x_high=x_number(max(p[0] for p in pairs)),
                y_low=y_number(min(p[1] for p in pairs)), y_high=y_number(max(p[1] for p in pairs)))


def _bars(figure: go.Figure, trace, name: str) -> str | None:
    horizontal = trace.orientation == "h"
    number = _formatter(figure, trace, "x" if horizontal else "y")
    categories, values = (_values(trace.y), _values(trace.x)) if horizontal else (_values(trace.x), _values(trace.y))
    if not values:
        return None
    categories = categories or list(range(1, len(values) + 1))
    named = [text("common.chart_alt_bar", category=plain(c) if isinstance(c, str) else f"{c:.4g}", value=number(v))
             for c, v in list(zip(categories, values, strict=False))[:NAMED_BARS] if isinstance(v, (int, float))]
    more = text("common.chart_alt_more", count=len(values) - NAMED_BARS) if len(values) > NAMED_BARS else ""
    return text("common.chart_alt_bars", name=name, values=text("common.chart_alt_separator").join(named) + more)


def _histogram(trace, name: str) -> str | None:
    values = np.asarray([v for v in _values(trace.x) or _values(trace.y)
                         if isinstance(v, (int, float)) and math.isfinite(v)], dtype=float)
    if not len(values):
        return None
    return text("common.chart_alt_histogram", name=name, count=len(values), low=number(values.min()),
                high=number(values.max()), median=number(float(np.median(values))))


def _grid(trace, name: str) -> str | None:
    z = np.asarray(trace.z, dtype=float) if trace.z is not None else np.empty(0)
    finite = z[np.isfinite(z)] if z.size else z
    if z.ndim != 2 or not finite.size:
        return None
    return text("common.chart_alt_grid", name=name, rows=z.shape[0], columns=z.shape[1],
                low=number(finite.min()), high=number(finite.max()))


def _series_name(trace, index: int) -> str:
    return plain(trace.name) or text("common.chart_alt_unnamed", number=index + 1)


def _described(trace) -> bool:
    """Traces a learner reads: not the faint copy of the previous run, not a legend-only entry."""
    return trace.legendgroup != PREVIOUS_GROUP


def describe(figure: go.Figure) -> str:
    """The figure's text alternative: its title, then one sentence per trace (a line that breaks says
    from where, as its ✕ on the chart does)."""
    sentences = []
    title = plain(figure.layout.title.text if figure.layout.title is not None else "")
    for index, trace in enumerate(figure.data):
        if not _described(trace):
            continue
        if trace.meta == DIVERGED:          # the ✕ on the chart: its line's sentence says where it broke
            continue
        name = _series_name(trace, index)
        kind = trace.type
        if kind in ("scatter", "scattergl"):
            lines = trace.mode is None or "lines" in trace.mode
            said = _line(figure, trace, name) if lines else _points(figure, trace, name)
        elif kind == "bar":
            said = _bars(figure, trace, name)
        elif kind == "histogram":
            said = _histogram(trace, name)
        elif kind in ("heatmap", "contour"):
            said = _grid(trace, name if trace.name else title or name)
        else:
            said = None
        if said:
            sentences.append(said)
    sentences += [text("common.chart_alt_reference", label=label, value=number(value))
                  for label, value in references(figure)]
    if not sentences:
        sentences.append(text("common.chart_alt_empty"))
    if title:
        ended = title.endswith((".", "。", "?", "？", ":", "："))
        sentences.insert(0, title if ended else text("common.chart_alt_title", title=title))
    return spaced(" ".join(sentences))


def spaced(sentence: str) -> str:
    """A space between Chinese and Latin letters or digits, as the app's Chinese writes them (a series
    name like "fp32" meets the template's 从), and none after a full-width stop."""
    sentence = re.sub(r"(?<=[。；！？])\s+", "", sentence)
    return re.sub(r"(?<=[A-Za-z0-9%)\]])(?=[\u4e00-\u9fff])|(?<=[\u4e00-\u9fff])(?=[A-Za-z0-9(\[])", " ", sentence)


def references(figure: go.Figure) -> list[tuple[str, float]]:
    """The figure's dashed reference lines: (label, value), from their annotations."""
    found = []
    for note in figure.layout.annotations or ():
        if note.name and note.name.startswith(REFERENCE + " "):
            found.append((plain(note.text), float(note.name.split(" ", 1)[1])))
    return found


def _thinned(count: int) -> list[int]:
    """At most TABLE_ROWS indices of `count`, evenly spread, the first and the last included."""
    if count <= TABLE_ROWS:
        return list(range(count))
    return sorted({round(i * (count - 1) / (TABLE_ROWS - 1)) for i in range(TABLE_ROWS)})


def _cell(value) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return number(value) if math.isfinite(value) else ("NaN" if math.isnan(value) else ("∞" if value > 0 else "−∞"))
    return plain(value).replace("|", "\\|").replace("$", "\\$") if value is not None else ""


def table(figure: go.Figure) -> str:
    """The figure's data as a Markdown table (a real table on the page, read cell by cell by a screen
    reader): one row per point, series by series, each series thinned to TABLE_ROWS rows; a heatmap
    by its rows' ranges. "" when the figure has no data."""
    drawn = [t for t in figure.data if _described(t) and t.meta != DIVERGED]
    axes = {(getattr(t, "xaxis", None) or "x", getattr(t, "yaxis", None) or "y") for t in drawn}
    x_title, y_title = (_axis_title(figure, a) for a in next(iter(axes))) if len(axes) == 1 else ("", "")
    header = [text("common.chart_table_series"), x_title or text("common.chart_table_x"),
              y_title or text("common.chart_table_y")]
    rows: list[list[str]] = []
    thinned = False
    for index, trace in enumerate(figure.data):
        if not _described(trace) or trace.meta == DIVERGED:
            continue
        name = _series_name(trace, index)
        if trace.type in ("heatmap", "contour") and trace.z is not None:
            z = np.asarray(trace.z, dtype=float)
            if z.ndim != 2:
                continue
            picked = _thinned(z.shape[0])
            thinned |= len(picked) < z.shape[0]
            for r in picked:
                finite = z[r][np.isfinite(z[r])]
                span = f"{number(finite.min())} … {number(finite.max())}" if finite.size else "NaN"
                rows.append([name, text("common.chart_table_row", row=r + 1), span])
            continue
        if trace.type == "histogram":
            values = [v for v in _values(trace.x) or _values(trace.y) if isinstance(v, (int, float))]
            counts, edges = np.histogram([v for v in values if math.isfinite(v)] or [0.0], bins=10)
            rows += [[name, f"{number(edges[i])} … {number(edges[i + 1])}", str(int(counts[i]))] for i in range(10)]
            continue
        if trace.type not in ("scatter", "scattergl", "bar"):
            continue
        xs, ys = _values(trace.x), _values(trace.y)
        if trace.type == "bar" and trace.orientation == "h":
            xs, ys = ys, xs
        xs = xs or list(range(1, len(ys) + 1))
        if not any(isinstance(v, (int, float)) for v in ys):
            continue
        picked = _thinned(len(ys))
        thinned |= len(picked) < len(ys)
        rows += [[name, _cell(xs[i]) if i < len(xs) else "", _cell(ys[i])] for i in picked]
    rows += [[text("common.chart_table_reference", label=label), "", number(value)]
             for label, value in references(figure)]
    if not rows:
        return ""
    header = [_cell(h) for h in header]
    rows = [[row[0].replace("|", "\\|").replace("$", "\\$"), *row[1:]] for row in rows]
    lines = [f"| {' | '.join(header)} |", "|---|--:|--:|", *(f"| {' | '.join(row)} |" for row in rows)]
    note = f"\n\n{text('common.chart_table_thinned', rows=TABLE_ROWS)}" if thinned else ""
    return "\n".join(lines) + note


def markdown_escaped(sentence: str) -> str:
    """A text alternative shown as Markdown: the characters Markdown or Streamlit's maths would read."""
    return re.sub(r"([\\`*_$#<>\[\]|~])", r"\\\1", sentence)
