"""62 · LSTM: forecasting, the long-memory race, digits read row by row, and every gate on view."""

import streamlit as st

from engine import images, lstm, tabular
from engine.cards import lstm as lstm_cards
from engine.errors import InputError
from ui.cards import cards_section
from ui.charts import (
    NEUTRAL,
    bar_figure,
    forecast_figure,
    history_figure,
    lines_figure,
    show,
    stacked_heatmaps,
    update_forecast,
    update_history,
    with_previous,
)
from ui.controls import bring_back
from ui.data_widgets import csv_format_caption, dataset, kept_upload
from ui.experiment import RunRecord, TakeHome, Training, experiment, lab
from ui.fields import Form
from ui.hosted import table_limits
from ui.i18n import option_labels, text
from ui.settings.lstm import FORECAST, RACE, ROWS, TRAINED
from ui.widgets import clamp_state, lab_columns, misconceptions, number_format, page_title, show_source

CSV_LIMITS = tabular.TableLimits(max_rows=5000, sample_rows=False)     # a series keeps its order
CHART_HEIGHT = 340          # the demo's first chart ends above the first screen's bottom during a run


# ---------------------------------------------------------------- 1. forecasting

@st.cache_data(max_entries=8, show_spinner=False)
def csv_table(data: bytes, limits: tabular.TableLimits) -> tabular.NumericTable:
    return tabular.read_numeric_csv(data, limits, min_columns=1)


def series_ui(form: Form):
    """The series to forecast (synthetic or a CSV column) and the key that names it for the stale
    check: the synthetic series' config (as the cards build it), or the file's name, row count and column."""
    if form("source") == "synthetic":
        with st.expander(text("lstm.more_series")):
            for name in ("length", "sine", "second", "trend", "season", "noise"):
                form(name)
        _, config = form.config()
        return lstm.synthetic_series(config), config
    kept = kept_upload("lstm_csv", text("lstm.csv"), lambda raw: csv_table(raw, table_limits(CSV_LIMITS)),
                       types=["csv", "txt", "tsv"])
    if kept is None:
        st.info(text("lstm.need_csv"))
        return None, None
    name, table = kept
    st.caption(text("lstm.csv_loaded", name=name, rows=table.total_rows))
    csv_format_caption(table)
    names = list(table.columns)
    if st.session_state.get("lstm_column") not in names:
        st.session_state.pop("lstm_column", None)
    column = st.selectbox(text("lstm.csv_column"), names, key="lstm_column",
                          placeholder=text("common.choose_one"))
    if table.sampled:
        st.caption(text("lstm.csv_rows", kept=CSV_LIMITS.max_rows, total=table.total_rows))
    return table.columns[column], (name, table.total_rows, column)


def forecast_config_ui(form: Form) -> lstm.ForecastConfig:
    """The forecaster's settings; its config, as the cards build it."""
    form("window")
    form("relative", help=text("lstm.relative_help"))
    form("forecast_steps")
    with st.expander(text("lstm.more_model")):
        for name in ("forecast_hidden", "forecast_layers", "forecast_bidirectional", "forecast_learning_rate"):
            form(name)
    return form.config()[0]


def draw_forecast(record: RunRecord) -> None:
    """A forecast run's latest report: the four RMSEs, the series with both forecasts, the curves."""
    step = record.step
    result = step.extras["forecast"]
    columns = st.columns(4)
    for column, key in zip(columns, ("one_step", "recursive", "naive", "linear"), strict=True):
        column.metric(text(f"lstm.metric_{key}"), number_format(step.metrics[f"{key}_rmse"]))
    if step.extras["dropped"]:
        st.caption(text("lstm.csv_dropped", count=step.extras["dropped"]))
    figure = series_figure(step.extras["series"].tolist(), result.split)
    show(update_forecast(figure, result.split, result.one_step.tolist(), result.recursive.tolist()))
    curves = update_history(forecast_curves(), step.extras["history"])
    if record.previous is not None:
        with_previous(curves, update_history(forecast_curves(), record.previous.step.extras["history"]))
    show(curves)


def forecast_curves():
    """The training loss and the held-out errors over training, on a log axis."""
    return history_figure({"train": text("lstm.curve_train"), "one_step": text("lstm.curve_one_step"),
                           "recursive": text("lstm.curve_recursive")},
                          text("lstm.forecast_losses"), text("lstm.step_axis"), y_title=text("lstm.forecast_axis"),
                          quantity=None)


def series_figure(values: list[float], split: int):
    labels = {name: text(f"lstm.{key}") for name, key in
              (("series", "series_values"), ("one_step", "one_step"), ("recursive", "recursive"),
               ("boundary", "boundary"))}
    figure = forecast_figure(values, split, labels, text("lstm.series_title"), text("lstm.time_axis"))
    return figure.update_layout(height=CHART_HEIGHT).update_yaxes(title_text=text("lstm.value_axis"))


@st.cache_data(max_entries=16, show_spinner=False)
def untrained_forecast(config: lstm.ForecastConfig, series_key, _values):
    """The untrained forecaster on the series `series_key` names (the values are not hashed on every rerun)."""
    return lstm.forecast_step_zero(config, _values)


def forecast_preview(config: lstm.ForecastConfig, values, series_key) -> None:
    """Before a run: the series, the window the model reads (shaded, before the first held-out
    value) and the untrained model's forecasts, on the chart the run then draws into."""
    step = untrained_forecast(config, series_key, values)
    result = step.extras["forecast"]
    figure = series_figure(step.extras["series"].tolist(), result.split)
    figure.add_vrect(x0=result.split - config.window - 0.5, x1=result.split - 0.5, fillcolor=NEUTRAL, opacity=0.25,
                     line_width=0, layer="below")
    show(update_forecast(figure, result.split, result.one_step.tolist(), result.recursive.tolist()))
    st.caption(text("lstm.preview_forecast", window=config.window,
                    one_step=number_format(step.metrics["one_step_rmse"]),
                    recursive=number_format(step.metrics["recursive_rmse"])))


def forecast_demo(values, series_key, config: lstm.ForecastConfig, form: Form) -> None:
    if values is None:
        st.markdown(text("lstm.forecast_intro"))
        return
    error = kept = None
    try:
        kept, _ = lstm.clean_series(values, config.window)
    except InputError as caught:
        error = caught
    record = experiment(FORECAST.key,
                        Training(lambda: lstm.train_forecaster(config, values), config, series_key,
                                 take_home=TakeHome("lstm_forecast", {
                                     "series": series_key if isinstance(series_key, lstm.SeriesConfig) else values,
                                     "config": config}), form=form),
                        draw=draw_forecast, idle=text("lstm.press_forecast"), error=error,
                        preview=None if error is not None else lambda: forecast_preview(config, values, series_key))
    if kept is not None and record is not None and record.data_key != series_key:   # the series a new run would use
        split = len(kept) - max(int(len(kept) * config.test_share), config.window)
        show(series_figure(kept.tolist(), split))
    st.markdown(text("lstm.forecast_intro"))


# ---------------------------------------------------------------- 2. the adding problem

def race_config_ui(form: Form) -> lstm.AddingConfig:
    """The race's settings; its config, as the cards build it."""
    for name in ("cells", "race_length", "race_hidden", "race_steps", "race_learning_rate"):
        form(name)
    return form.config()[0]


def draw_race(record: RunRecord) -> None:
    """The race's latest report: each network's held-out MSE and curve; once it is no longer
    training, every network's answer for one held-out sequence."""
    step = record.step
    columns = st.columns(max(len(step.metrics), 1))
    for column, (cell, error) in zip(columns, step.metrics.items(), strict=True):
        verdict = lstm.adding_verdict(error)
        column.metric(text("lstm.race_metric", cell=text(f"lstm.cell_{cell}")), number_format(error),
                      text(f"lstm.race_verdict_{verdict}") if verdict and step.finished else None,
                      delta_color="normal" if verdict == "solved" else "inverse")
    chart = update_history(race_chart(record.config), step.extras["history"])
    if record.previous is not None:
        with_previous(chart, update_history(race_chart(record.previous.config), record.previous.step.extras["history"]))
    show(chart)
    if record.active or record.model is None:        # a replay paused or stopped before its end has no model
        return
    x, _ = lstm.example_sequence(record.config.length, 0)
    example_answers(record.config.length, record.cached("example", lambda: lstm.answers(record.model, x)))


def example_answers(length: int, answers: dict[str, float]) -> None:
    """Held-out sequence 0 of this length, its answer, and each network's."""
    x, y = lstm.example_sequence(length, 0)
    marked = x[:, 0][x[:, 1] == 1].tolist()
    st.markdown(text("lstm.race_example", a=marked[0], b=marked[1], total=y))
    st.markdown(" · ".join(text("lstm.race_answer", cell=text(f"lstm.cell_{cell}"), value=value)
                           for cell, value in answers.items()))


@st.cache_data(max_entries=16, show_spinner=False)
def untrained_race(config: lstm.AddingConfig):
    return lstm.adding_step_zero(config)


def race_preview(config: lstm.AddingConfig) -> None:
    """Before a run: where each network starts the race (its held-out MSE at step 0, against
    predicting the mean), and its answer for one held-out sequence."""
    step = untrained_race(config)
    chart = update_history(race_chart(config), step.extras["history"])    # one point each, on the race's length
    show(chart.update_traces(mode="lines+markers").update_xaxes(range=[-0.02 * config.steps, config.steps]))
    example_answers(config.length, step.extras["answers"])
    st.caption(text("lstm.preview_race", length=config.length))


def race_chart(config: lstm.AddingConfig):
    """Each network's held-out MSE over training (log axis), against predicting the mean."""
    chart = history_figure({c: text(f"lstm.cell_{c}") for c in config.cells}, text("lstm.race_title"),
                           text("lstm.step_axis"), {text("lstm.mean_line"): lstm.MEAN_BASELINE},
                           y_title=text("lstm.race_axis"), quantity="error")
    return chart.update_layout(height=CHART_HEIGHT)


def race_demo(config: lstm.AddingConfig, form: Form) -> None:
    error = None if config.cells else InputError("lstm_no_cell")
    experiment(RACE.key,
               Training(lambda: lstm.train_adding(config), config, take_home=TakeHome("lstm_race", {"config": config}),
                        form=form),
               draw=draw_race, idle=text("lstm.press_race"), error=error,
               preview=None if error is not None else lambda: race_preview(config))
    st.markdown(text("lstm.race_intro"))


# ---------------------------------------------------------------- 3. digits row by row

def rows_config_ui(form: Form) -> lstm.RowsConfig:
    """The digit reader's settings; its config, as the cards build it."""
    for name in ("rows_hidden", "rows_layers", "rows_bidirectional", "pooling", "rows_steps", "rows_learning_rate"):
        form(name)
    return form.config()[0]


def draw_rows(record: RunRecord, test_count: int) -> None:
    """The digit reader's latest report: held-out accuracy, its size, and the accuracy curve."""
    step = record.step
    left, right = st.columns(2)
    accuracy = f"{100 * step.metrics['accuracy']:.1f}"
    left.metric(text("lstm.metric_accuracy"), text("lstm.percent", value=accuracy))
    right.metric(text("lstm.metric_parameters"), f"{step.extras['parameters']:,}")
    st.caption(text("lstm.rows_note", count=test_count))
    chart = rows_chart(step.extras["history"])
    if record.previous is not None:
        with_previous(chart, rows_chart(record.previous.step.extras["history"]))
    show(chart)


def rows_chart(history: dict[str, list[float]]):
    """Held-out accuracy (in %) over training."""
    chart = history_figure({"test": text("lstm.curve_accuracy")}, text("lstm.rows_title"), text("lstm.step_axis"),
                           log_y=False, y_title=text("lstm.rows_axis"), quantity=None)
    chart.update_layout(height=CHART_HEIGHT)
    return update_history(chart, {"step": history["step"], "test": [100 * v for v in history["test"]]})


@st.cache_data(max_entries=16, show_spinner=False)
def untrained_rows(config: lstm.RowsConfig, source: str, _digits):
    """The untrained reader on digits of `source` (the digits themselves are not hashed on every rerun)."""
    return lstm.rows_step_zero(config, _digits)


def rows_preview(config: lstm.RowsConfig, digits) -> None:
    """Before a run: the untrained reader's accuracy where the curve starts, and its answers for a
    few test digits."""
    step = untrained_rows(config, digits.source, digits)
    chart = rows_chart(step.extras["history"]).update_traces(mode="lines+markers")     # the curve's first point
    show(chart.update_xaxes(range=[-0.02 * config.steps, config.steps]).update_yaxes(range=[0, 100]))
    st.image([images.to_image(digit).resize((56, 56)) for digit in step.extras["digits"]], width=56,
             caption=[f"{label} → {answer}" for label, answer in
                      zip(step.extras["labels"].tolist(), step.extras["answers"].tolist(), strict=True)],
             alt=[text("common.alt_digit_answer", label=label, answer=answer) for label, answer in
                  zip(step.extras["labels"].tolist(), step.extras["answers"].tolist(), strict=True)])
    st.caption(text("lstm.preview_rows", count=config.live_size,
                    accuracy=text("lstm.percent", value=f"{100 * step.metrics['accuracy']:.1f}")))


def rows_demo(config: lstm.RowsConfig, digits, form: Form) -> None:
    experiment(ROWS.key,
               Training(lambda: lstm.train_rows(config, digits), config, digits.source,
                        take_home=TakeHome("lstm_rows", {"dataset": digits.source, "config": config}), form=form),
               draw=lambda record: draw_rows(record, len(digits.test_x)), idle=text("lstm.press_rows"),
               preview=lambda: rows_preview(config, digits))
    st.markdown(text("lstm.rows_intro"))


# ---------------------------------------------------------------- 4. look inside

def run_record(demo: str) -> RunRecord | None:
    """The learner's run of another demo on this page (its experiment is not drawn here)."""
    record = st.session_state.get(TRAINED[demo].key)
    return record if isinstance(record, RunRecord) else None


def inside_demo(digits) -> None:
    st.markdown(text("lstm.inside_intro"))
    rows, race = run_record("rows"), run_record("race")
    for record in (rows, race):                 # this demo's lab uses the others' models: bring them back
        if record is not None:
            bring_back(record)
    records = {}
    if rows is not None and rows.usable(digits.source):
        records["rows"] = rows
    if race is not None and race.usable() and "lstm" in race.model:
        records["race"] = race
    if records:
        inside_lab(records, digits)
    elif any(r is not None and r.active for r in (rows, race)):
        st.caption(text("lstm.inside_wait"))
    else:
        st.info(text("lstm.inside_need"))


@lab
def inside_lab(records: dict[str, RunRecord], digits) -> None:
    """Every gate of a trained (or paused, or stopped) LSTM for one input; a choice here reruns only
    this lab, and the read-out is computed once per input and report."""
    if st.session_state.get("lstm_inside_model") not in records:
        st.session_state.pop("lstm_inside_model", None)
    chosen = st.radio(text("lstm.inside_model"), list(records), key="lstm_inside_model", horizontal=True,
                      format_func=option_labels("lstm.inside_model_"))       # exploration: plain widgets, not linked
    record = records[chosen]
    model = record.model if chosen == "rows" else record.model["lstm"]
    columns = st.columns(3)
    if chosen == "rows":
        clamp_state("lstm_inside_digit", 0, len(digits.test_x) - 1)
        index = columns[0].number_input(text("lstm.inside_digit"), 0, len(digits.test_x) - 1, 0,
                                        key="lstm_inside_digit")
        x = lstm.as_rows(digits.test_x[index:index + 1])[0]
    else:
        index = columns[0].number_input(text("lstm.inside_sequence"), 0, 999, 0, key="lstm_inside_sequence")
        x, y = lstm.example_sequence(record.config.length, index)
    inside = record.cached("inside", lambda _: lstm.look_inside(model, x), index)
    layers = model.rnn.num_layers
    clamp_state("lstm_inside_layer", 1, layers)
    layer = columns[1].number_input(text("lstm.inside_layer"), 1, layers, 1,
                                    key="lstm_inside_layer") if layers > 1 else 1
    direction = 0
    if model.bidirectional:
        direction = columns[2].radio(text("lstm.inside_direction"), [0, 1], key="lstm_inside_direction",
                                     format_func=option_labels("lstm.direction_"), horizontal=True)
    read = inside["layers"][layer - 1][direction]
    if chosen == "rows":
        left, right = st.columns([1, 3])
        left.image(images.to_image(x.unsqueeze(0)).resize((112, 112)), width=112,
                   alt=text("lstm.alt_rows_digit", index=index, label=int(digits.test_y[index])))
        probabilities = inside["output"].softmax(0)
        right.markdown(text("lstm.inside_prediction", digit=int(probabilities.argmax()),
                            confidence=100 * float(probabilities.max())))
        if inside["attention"] is not None:
            bars = bar_figure(list(range(1, 29)), inside["attention"].tolist(), text("lstm.attention_title"),
                              text("lstm.attention_axis"), height=220)
            show(bars.update_yaxes(title_text=text("lstm.attention_weight_axis")), right)
    else:
        marked = x[:, 0][x[:, 1] == 1].tolist()
        st.markdown(text("lstm.inside_sum", a=marked[0], b=marked[1], total=y, value=float(inside["output"][0])))
        steps = list(range(1, len(x) + 1))
        show(lines_figure(steps, {text("lstm.sequence_values"): x[:, 0].tolist(),
                                  text("lstm.sequence_markers"): x[:, 1].tolist()},
                          "", text("lstm.time_axis"), text("lstm.sequence_axis")))
    # numpy arrays, not lists: Plotly checks a list element by element (about 3x the drawing time here)
    panels = [(text(f"lstm.panel_{gate}"), read.gates[gate].T.numpy(), 0.0, 1.0)
              for gate in ("input", "forget", "output")]
    panels.append((text("lstm.panel_candidate"), read.gates["candidate"].T.numpy(), -1.0, 1.0))
    bound = max(float(read.cell.abs().max()), 1e-6)
    panels.append((text("lstm.panel_cell"), read.cell.T.numpy(), -bound, bound))
    panels.append((text("lstm.panel_hidden"), read.hidden.T.numpy(), -1.0, 1.0))
    show(stacked_heatmaps(panels, text("lstm.time_axis")))


# ---------------------------------------------------------------- the page

page_title(62, "lstm")
st.markdown(text("lstm.intro"))

demo = Form(FORECAST)("demo")         # the selector: a setting of each demo's experiment, drawn once
digits, _ = dataset("subset")
if demo == "inside":                   # no training here: the lab uses the other demos' models
    inside_demo(digits)
else:
    form = Form(TRAINED[demo])
    form.set("demo", demo)
    settings_column, run_column = lab_columns()
    with settings_column:
        if demo == "forecast":
            values, series_key = series_ui(form)
            forecast_config = forecast_config_ui(form)
        elif demo == "race":
            race_config = race_config_ui(form)
        else:
            rows_config = rows_config_ui(form)
    with run_column:
        if demo == "forecast":
            forecast_demo(values, series_key, forecast_config, form)
        elif demo == "race":
            race_demo(race_config, form)
        else:
            rows_demo(rows_config, digits, form)

st.header(text("lstm.ideas_title"))
for part in ("rnn", "cell", "variants"):
    with st.expander(text(f"lstm.{part}_title")):
        st.markdown(text(f"lstm.{part}"))

cards_section("lstm", lstm_cards)
misconceptions("lstm")
show_source(lstm.unroll, lstm.SequenceModel, lstm.train_adding, lstm.train_forecaster, lstm.train_rows)
