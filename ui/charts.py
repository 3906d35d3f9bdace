"""Plotly figures for the pages: curves over training steps, and each concept's own views.

A live run redraws many times, and building a Plotly figure (it validates every property) costs
10-30 ms, far more than updating one. So each figure is built once per run with its static parts,
and an `update_*` function swaps in the values that change.
"""

import math

import numpy as np
import plotly.graph_objects as go

from engine import regression
from engine.training import TrainingStep
from ui.i18n import text


def history_figure(series: dict[str, str], title: str, x_title: str,
                   references: dict[str, float] | None = None, log_y: bool = True) -> go.Figure:
    """One line per `series` entry (history key -> label) plus dashed horizontal reference lines
    (label -> value); empty until `update_history` fills it. Built from one dict: Plotly validates
    a whole spec about 3x faster than a figure assembled with add_* calls."""
    lines = [{"type": "scatter", "mode": "lines", "x": [], "y": [], "name": label, "meta": key}
             for key, label in series.items()]
    shapes = [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": value, "y1": value,
               "line": {"dash": "dash", "color": "grey"}} for value in (references or {}).values()]
    notes = [{"xref": "paper", "x": 0, "y": value, "yref": "y", "text": label, "showarrow": False,
              "xanchor": "left", "yanchor": "bottom"} for label, value in (references or {}).items()]
    if log_y:    # log axes place annotations by log10 of the value
        notes = [{**note, "y": math.log10(note["y"]) if note["y"] > 0 else 0} for note in notes]
    return go.Figure({"data": lines, "layout": {
        "title": {"text": title}, "xaxis": {"title": {"text": x_title}},
        "yaxis": {"type": "log" if log_y else "linear"}, "height": 330, "margin": {"t": 50, "b": 10},
        "legend": {"orientation": "h", "y": -0.25},
        "shapes": shapes, "annotations": notes}})


def update_history(figure: go.Figure, history: dict[str, list[float]]) -> go.Figure:
    """Plot `history[key]` against `history["step"]` on each line built by `history_figure`."""
    for trace in figure.data:
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
        "xaxis": {"title": {"text": "x"}}, "height": 430, "margin": {"t": 50, "b": 10},
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
    def span(low: list[float], high: list[float], label: str, colour: str) -> dict:
        return {"type": "bar", "orientation": "h", "y": names, "base": [math.log10(v) for v in low],
                "x": [math.log10(h) - math.log10(v) for v, h in zip(low, high, strict=True)], "name": label,
                "marker": {"color": colour}}
    return go.Figure({"data": [span(subnormal, normal, labels["subnormal"], "#f2a65a"),
                               span(normal, largest, labels["normal"], "#4c78a8")],
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
              "font": {"size": 11}} for k, (label, x) in enumerate(lines.items())]
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
    colours = {"forward": "#4c78a8", "backward": "#f58518"}
    data = []
    for kind in ("forward", "backward"):
        bars = [(stage, e) for stage, events in sorted(timelines.items()) for e in events if e["kind"] == kind]
        data.append({"type": "bar", "orientation": "h", "name": labels[kind],
                     "y": [labels["stage"][int(stage)] for stage, _ in bars],
                     "base": [1000 * e["start"] for _, e in bars],
                     "x": [1000 * (e["end"] - e["start"]) for _, e in bars],
                     "text": [str(e["micro"] + 1) for _, e in bars], "textposition": "inside",
                     "marker": {"color": colours[kind], "line": {"color": "white", "width": 1}}})
    return go.Figure({"data": data, "layout": {"title": {"text": title}, "barmode": "overlay", "height": 260,
                                               "margin": {"t": 50, "b": 10}, "xaxis": {"title": {"text": x_title}},
                                               "yaxis": {"autorange": "reversed"},
                                               "legend": {"orientation": "h", "y": -0.35}}})
