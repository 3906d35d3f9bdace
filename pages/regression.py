"""63 · Regression: fit a line, a polynomial or a small MLP live, and compare with exact least squares."""

import plotly.graph_objects as go
import streamlit as st

from engine import regression
from engine.cards import regression as regression_cards
from engine.errors import InputError
from engine.tabular import paired_finite, read_numeric_csv
from ui.cards import cards_section
from ui.charts import history_figure, regression_fit_figure, show, update_history, update_regression_fit, with_previous
from ui.data_widgets import csv_format_caption, kept_upload
from ui.experiment import RunRecord, TakeHome, Training, experiment, lab
from ui.fields import Form
from ui.hosted import table_limits
from ui.i18n import text
from ui.links import linked
from ui.settings.regression import TRAIN
from ui.widgets import lab_columns, misconceptions, number_format, page_title, show_source

PACE_SECONDS = 2.0         # a default run trains in about 0.3 s: spread it out so the fit can be watched
MODELS_TEX = (r"\hat y = w x + b \qquad \hat y = b + \sum_{k=1}^{d} w_k x^k \qquad "
              r"\theta^\star = \arg\min_\theta \lVert X\theta - y \rVert^2")
LOSSES_TEX = (r"\mathrm{MSE} = \frac1N\sum_i (\hat y_i - y_i)^2 \qquad "
              r"\mathrm{MAE} = \frac1N\sum_i |\hat y_i - y_i|")
HUBER_TEX = (r"\mathrm{Huber}_\delta(r) = \begin{cases} \tfrac12 r^2 & |r| \le \delta \\ "
             r"\delta\,(|r| - \tfrac12\delta) & |r| > \delta \end{cases}")
SCALING_TEX = (r"z = \frac{x - \mu}{\sigma} \qquad H = \frac{2}{N} X^\top X \qquad "
               r"\eta < \frac{1}{\lambda_{\max}} \qquad 1 - 2\eta\lambda_{\min} \qquad "
               r"\kappa = \frac{\lambda_{\max}}{\lambda_{\min}}")


@st.cache_data(max_entries=32, show_spinner=False)
def generated(config: regression.DataConfig) -> regression.RegressionData:
    return regression.make_data(config)


@st.cache_data(max_entries=8, show_spinner=False)
def uploaded_table(data: bytes, limits):
    return read_numeric_csv(data, limits)


def data_ui(form: Form) -> tuple[regression.RegressionData | None, object, InputError | None, object]:
    """Generated data or an uploaded CSV. Returns the data (None when there is none), what identifies
    it (a run made on other data gets the stale note), the settings' input error and what an exported
    script needs to make the same data (the DataConfig, or the file's two columns)."""
    if form("source") == "generated":
        form("function")
        form("noise")
        with st.expander(text("regression.more_data")):
            for name in ("train_share", "points", "outliers", "seed"):
                form(name)
        _, config = form.config()
        return generated(config), config, None, config
    train_share = form("train_share")
    kept = kept_upload("regression_csv", text("regression.csv_upload"),
                       lambda content: uploaded_table(content, table_limits()), types=["csv", "txt", "tsv"])
    if kept is None:
        return None, None, None, None
    name, table = kept
    st.caption(text("regression.csv_loaded", name=name, rows=table.total_rows))
    csv_format_caption(table)
    if table.sampled:
        st.caption(text("regression.csv_sampled", rows=len(next(iter(table.columns.values())))))
    names = list(table.columns)
    x_name = st.selectbox(text("regression.x_column"), names, key="regression_x_column",
                          placeholder=text("common.choose_one"))
    y_name = st.selectbox(text("regression.y_column"), names, index=1, key="regression_y_column",
                          placeholder=text("common.choose_one"))
    key = (name, table.total_rows, x_name, y_name, train_share)
    try:
        if x_name == y_name:
            raise InputError("same_column")
        x, y, dropped = paired_finite(table.columns[x_name], table.columns[y_name])
    except InputError as error:
        return None, key, error, None
    if dropped:
        st.caption(text("regression.csv_dropped", count=dropped))
    columns = {"x": [float(v) for v in x], "y": [float(v) for v in y], "train_share": train_share}
    return regression.from_arrays(x, y, train_share), key, None, columns


def model_ui(form: Form) -> regression.RegressionConfig:
    """Model, loss and optimizer settings; the model's config, as the cards build it."""
    model = form("model")
    if model == "polynomial":
        form("degree")
    if model == "mlp":
        form("width")
        form("layers")
    form("learning_rate")
    with st.expander(text("regression.more_training")):
        if form("loss") == "huber":
            form("huber_delta")
        for name in ("optimizer", "steps", "normalize"):
            form(name)
    return form.config()[0]


def figures(config: regression.RegressionConfig, data: regression.RegressionData,
            fit: regression.LeastSquaresFit | None) -> tuple:
    """The run's two figures; `draw` fills in its latest step."""
    kinds = ("loss", "mse") if config.loss != "mse" else ("mse",)
    series = {f"{part}_{kind}": text(f"regression.curve_{part}_{kind}") for part in ("train", "test") for kind in kinds}
    reference = ({text("regression.lstsq_train_line"): fit.train_mse,
                  text("regression.lstsq_test_line"): fit.test_mse} if fit else {})
    return (regression_fit_figure(data, fit),
            history_figure(series, text("regression.loss_title"), text("regression.step_axis"), reference,
                           y_title=text(f"regression.loss_axis_{config.loss}"), quantity=None))


def draw(record: RunRecord) -> None:
    """The run's latest step: metrics against least squares, the fitted curve, the loss curves."""
    step = record.step
    fit = step.extras["least_squares"]
    columns = st.columns(4)
    columns[0].metric(text("regression.metric_train"), number_format(step.metrics["train_mse"]))
    columns[1].metric(text("regression.metric_test"), number_format(step.metrics["test_mse"]))
    if fit:
        gap = 100 * (step.metrics["train_mse"] / max(fit.train_mse, 1e-12) - 1)
        columns[2].metric(text("regression.metric_lstsq"), number_format(fit.train_mse))
        columns[3].metric(text("regression.metric_gap"), text("regression.gap_value", gap=f"{gap:+.2f}"))
    else:
        columns[2].caption(text("regression.no_closed_form"))
    if step.extras["diverged"]:
        st.error(text("regression.diverged"))
    fit_chart, loss_chart = figures(record.config, step.extras["data"], fit)
    update_regression_fit(fit_chart, step)
    update_history(loss_chart, step.extras["history"])
    before = record.previous.step if record.previous is not None else None
    if before is not None:                 # the previous run's fitted curve and losses, faint
        with_previous(fit_chart, go.Figure(fit_chart.data[-1:]).update_traces(
            x=before.extras["grid_x"].tolist(), y=before.extras["grid_y"].tolist()))
        with_previous(loss_chart, update_history(figures(record.previous.config, before.extras["data"], None)[1],
                                                 before.extras["history"]))
    show(fit_chart)
    show(loss_chart)


@st.cache_data(max_entries=32, show_spinner=False)
def untrained_step(config: regression.RegressionConfig, data_key, _data: regression.RegressionData):
    """The untrained model on the data `data_key` names (the data itself is not hashed on every rerun)."""
    return regression.step_zero(config, _data)


def preview(config: regression.RegressionConfig, data: regression.RegressionData, data_key) -> None:
    """Before a run: the points to fit, the least-squares fit and the untrained model's curve, on the
    chart the run then draws into."""
    step = untrained_step(config, data_key, data)
    show(update_regression_fit(regression_fit_figure(data, step.extras["least_squares"]), step))
    st.caption(text("regression.preview", train=number_format(step.metrics["train_mse"]),
                    test=number_format(step.metrics["test_mse"])))


@lab
def predict_section(record: RunRecord) -> None:
    """The prediction lab: changing x reruns only this part of the page."""
    x_value = linked(st.number_input, text("regression.predict_x"), value=5.0, key="regression_predict_x",
                     url_check=lambda x: abs(x) <= 1e6)            # a link's 1e308 would only print inf
    y_value = regression.predict(record.model, [x_value])[0]
    st.markdown(text("regression.predict_y", x=number_format(x_value), y=number_format(y_value)))


page_title(63, "regression")
st.markdown(text("regression.intro"))

settings_column, run_column = lab_columns()
with settings_column:
    st.markdown(f"**{text('regression.data_header')}**")
    form = Form(TRAIN)
    data, data_key, error, export_data = data_ui(form)
    st.markdown(f"**{text('regression.model_header')}**")
    config = model_ui(form)

with run_column:
    waiting = data is None and error is None          # no file yet: nothing to train on, the last result stays
    if waiting:
        st.info(text("regression.csv_hint"))
    record = experiment(TRAIN.key,
                        Training(lambda: regression.train(config, data), config, data_key, pace=PACE_SECONDS,
                                 ready=not waiting,
                                 take_home=None if export_data is None else TakeHome(
                                     "regression", {"data": export_data, "config": config}), form=form),
                        draw=draw, idle=None if waiting else text("regression.press_train"), error=error,
                        preview=None if data is None else lambda: preview(config, data, data_key))

st.header(text("regression.predict_title"))
if record is not None and record.usable(data_key):
    predict_section(record)
else:
    st.caption(text("regression.need_model"))

st.header(text("regression.ideas_title"))
with st.expander(text("regression.workflow_title"), expanded=False):
    st.markdown(text("regression.workflow"))
with st.expander(text("regression.models_title")):
    st.markdown(text("regression.models"))
    st.latex(MODELS_TEX)
with st.expander(text("regression.losses_title")):
    st.latex(LOSSES_TEX)
    st.latex(HUBER_TEX)
    st.markdown(text("regression.losses"))
with st.expander(text("regression.normalization_title")):
    st.markdown(text("regression.normalization"))
    st.latex(SCALING_TEX)

cards_section("regression", regression_cards)
misconceptions("regression")
show_source(regression.train, regression.Regressor, regression.Features, regression.least_squares,
            regression.make_data)
