"""Plotly figures shared by the pages (curves over training steps)."""

import plotly.graph_objects as go


def history_figure(history: dict[str, list[float]], series: dict[str, str], title: str, x_title: str,
                   references: dict[str, float] | None = None, log_y: bool = True) -> go.Figure:
    """Lines of `history[key]` against `history["step"]` for each key in `series` (key -> label),
    plus horizontal reference lines (label -> value)."""
    figure = go.Figure()
    for key, label in series.items():
        figure.add_scatter(x=history["step"], y=history[key], name=label, mode="lines")
    for label, value in (references or {}).items():
        figure.add_hline(y=value, line_dash="dash", line_color="grey", annotation_text=label,
                         annotation_position="top left")
    figure.update_layout(title=title, xaxis_title=x_title, height=330, margin={"t": 50, "b": 10},
                         legend={"orientation": "h", "y": -0.25})
    if log_y:
        figure.update_yaxes(type="log")
    return figure
