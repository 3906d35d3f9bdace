"""61 · Multi-task learning: one network, four tasks from the same digits, against separate networks."""

import pandas as pd
import streamlit as st

from engine import images, multitask
from engine.cards import multitask as multitask_cards
from engine.errors import InputError
from ui.canvas import upload_or_draw
from ui.cards import cards_section
from ui.charts import colour_of, history_figure, show, update_history, with_previous
from ui.data_widgets import dataset_ui
from ui.experiment import RunRecord, TakeHome, Training, experiment, lab
from ui.fields import Form
from ui.hosted import image_limits
from ui.i18n import option_labels, text
from ui.links import linked
from ui.settings.multitask import TRAIN
from ui.widgets import clamp_state, lab_columns, misconceptions, number_format, page_title, show_source


def task_name(task: str) -> str:
    return text(f"multitask.task_{task}")


def model_name(name: str) -> str:
    return text(f"multitask.architecture_{name}")


def settings_ui(form: Form) -> multitask.MultitaskConfig:
    """The settings column: the main choices first, task weights and the rest in expanders; the
    config, as the cards build it (the digits, drawn below, only key the run)."""
    architecture = form("architecture")
    tasks = form("tasks")
    if form("weighting") == "fixed" and tasks:
        with st.expander(text("multitask.more_weights")):
            for task in tasks:
                form(f"weight_{task}")
    form("baselines", disabled=architecture == "separate", help=text("multitask.baselines_help"))
    form("steps")
    with st.expander(text("multitask.more_training")):
        form("width")
        form("learning_rate")
    return form.config()[0]


def score_label(task: str) -> str:
    kind = "accuracy" if multitask.KINDS[task] != "regression" else "r2"
    return text(f"multitask.metric_{kind}", task=task_name(task))


def score_text(task: str, value: float) -> str:
    return f"{value:.1%}" if multitask.KINDS[task] != "regression" else f"{value:.3f}"


def figures(config: multitask.MultitaskConfig) -> dict:
    """The run's charts, empty until `update_history` fills them. A task has one name (so one colour)
    on every chart; its separate network's score is the same colour, dashed."""
    tasks = config.tasks
    axis = text("multitask.step_axis")
    scores = {f"{config.architecture}/{t}": task_name(t) for t in tasks}
    if config.baselines:
        scores |= {f"separate/{t}": separate_name(t) for t in tasks}
    charts = {"losses": history_figure({f"loss/{t}": task_name(t) for t in tasks}, text("multitask.losses_title"),
                                       axis, y_title=text("multitask.losses_axis")),
              "scores": history_figure(scores, text("multitask.scores_title_baselines" if config.baselines
                                                        else "multitask.scores_title"), axis, log_y=False,
                                       y_title=text("multitask.scores_axis"), quantity="score")}
    for chart in charts.values():
        chart.update_layout(margin={"t": 70})            # room for a title wrapped onto two lines
    for trace in charts["scores"].data:
        if trace.meta.startswith("separate/") and config.architecture != "separate":
            trace.line.dash = "dash"
            trace.line.color = colour_of(task_name(trace.meta.split("/")[1]))
    if config.architecture != "separate" and len(tasks) > 1:
        pairs = [(a, b) for i, a in enumerate(tasks) for b in tasks[i + 1:]]
        charts["cosines"] = history_figure({f"cosine/{a}|{b}": f"{task_name(a)} ↔ {task_name(b)}" for a, b in pairs},
                                           text("multitask.cosines_title"), axis, {"0": 0.0}, log_y=False,
                                           y_title=text("multitask.cosines_axis"), quantity=None)
    if config.weighting == "uncertainty":
        charts["weights"] = history_figure({f"weight/{t}": task_name(t) for t in tasks},
                                           text("multitask.weights_title"), axis,
                                           y_title=text("multitask.weights_axis"), quantity="weight")
    return charts


def separate_name(task: str) -> str:
    return f"{task_name(task)} · {text('multitask.separate_suffix')}"


def draw(record: RunRecord) -> None:
    """The run's latest report: a score per task, then the loss curves (the previous run's faint),
    the held-out scores, the gradient cosines, the learned weights; the table once it is over."""
    step, config = record.step, record.config
    charts = {name: update_history(chart, step.extras["history"]) for name, chart in figures(config).items()}
    if record.previous is not None:          # the previous run's losses and scores, faint
        before = figures(record.previous.config)
        for name in ("losses", "scores"):
            with_previous(charts[name], update_history(before[name], record.previous.step.extras["history"]))
    columns = st.columns(len(config.tasks))
    for column, task in zip(columns, config.tasks, strict=True):
        value = step.metrics[f"{config.architecture}/{task}"]
        delta = None
        if config.baselines:
            difference = value - step.metrics[f"separate/{task}"]
            if multitask.KINDS[task] == "regression":
                delta = text("multitask.delta", value=f"{difference:+.3f}")
            else:
                delta = text("multitask.delta_points", value=f"{100 * difference:+.1f}")
        column.metric(score_label(task), score_text(task, value), delta, help=text("multitask.scores_note"))
    show(charts["losses"])
    show(charts["scores"])
    st.caption(text("multitask.scores_note"))
    if "cosines" in charts:
        show(charts["cosines"])
        st.caption(text("multitask.cosines_caption"))
    else:
        st.info(text("multitask.no_cosines"))
    if "weights" in charts:
        show(charts["weights"])
    if not record.active:
        comparison_table(step, config)


@st.cache_data(max_entries=16, show_spinner=False)
def untrained_step(config: multitask.MultitaskConfig, source: str, _data):
    """The untrained model on digits of `source` (the digits themselves are not hashed on every rerun)."""
    return multitask.step_zero(config, _data)


def preview(config: multitask.MultitaskConfig, data) -> None:
    """Before a run: the untrained model's held-out scores (as a run's first row shows them), and its
    answers for a few test digits beside the true ones."""
    step = untrained_step(config, data.source, data)
    truth, answers = step.extras["truth"], step.extras["answers"]
    for column, task in zip(st.columns(len(config.tasks)), config.tasks, strict=True):
        column.metric(score_label(task), score_text(task, step.metrics[f"{config.architecture}/{task}"]))
    numbers = [str(n) for n in range(1, len(step.extras["digits"]) + 1)]
    st.image([images.to_image(digit).resize((56, 56)) for digit in step.extras["digits"]], width=56, caption=numbers,
             alt=[text("common.alt_test_digit", number=n) for n in numbers])
    rows = [{text("multitask.preview_digit"): number,
             **{task_name(t): text("multitask.preview_answer", truth=answer_text(t, truth[t][i], exact=True),
                                   answer=answer_text(t, answers[t][i])) for t in config.tasks}}
            for i, number in enumerate(numbers)]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption(text("multitask.preview", count=config.live_size))


def comparison_table(step, config) -> None:
    st.markdown(f"**{text('multitask.table_title')}**")      # the table's title, inside the run (no heading level)
    rows = []
    for name, parameters in step.extras["parameters"].items():
        row = {text("multitask.table_model"): model_name(name)}
        row |= {score_label(t): score_text(t, step.metrics[f"{name}/{t}"]) for t in config.tasks}
        row |= {text("multitask.table_parameters"): f"{parameters:,}",
                text("multitask.table_seconds"): f"{step.extras['seconds'][name]:.1f}"}
        rows.append(row)
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption(text("multitask.table_caption"))


@lab
def predict_section(record: RunRecord, data) -> None:
    """The prediction lab: a slider or an upload here reruns only this part of the page."""
    step, config = record.step, record.config
    source = linked(st.radio, text("multitask.input"), ["test", "upload"], key="multitask_input", horizontal=True,
                    format_func=option_labels("multitask.input_"))
    truth: dict[str, float | None] = {}
    if source == "test":             # which digit to ask about is exploration, not part of a shared link
        clamp_state("multitask_index", 0, len(data.test_x) - 1)
        index = st.number_input(text("multitask.index"), 0, len(data.test_x) - 1, 0, key="multitask_index")
        image, label = data.test_x[index], int(data.test_y[index])
        truth = {"digit": float(label), "parity": float(label % 2)}
    else:
        kept = upload_or_draw("multitask_upload", text("multitask.upload"), decoded_digit, list(images.UPLOAD_TYPES))
        if kept is None:
            return
        image = kept[1]
    truth |= multitask.measured(image)
    left, right = st.columns([1, 4])
    left.image(images.to_image(image).resize((112, 112)), width=112, alt=text("multitask.alt_your_digit"))
    rows = [{text("multitask.table_model"): text("multitask.prediction_true"),
             **{task_name(t): answer_text(t, truth.get(t), exact=True) for t in config.tasks}}]
    for name, model in record.model.items():
        answers = multitask.predict_one(model, image, step.extras["scale"])
        rows.append({text("multitask.table_model"): text("multitask.prediction_model", model=model_name(name)),
                     **{task_name(t): answer_text(t, answers[t]) for t in config.tasks}})
    right.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def decoded_digit(content: bytes):
    """An uploaded picture as a (1, 28, 28) digit, centred and scaled like MNIST."""
    return images.to_digit(images.load_image(content, limits=image_limits()).image).tensor


def answer_text(task: str, value: float | None, exact: bool = False) -> str:
    if value is None:
        return text("multitask.unknown")
    if task == "digit":
        return str(int(value))
    if task == "parity":
        if exact:
            return text("multitask.odd" if value else "multitask.even")
        return text("multitask.parity_answer", answer=text("multitask.odd" if value > 0.5 else "multitask.even"),
                    percent=f"{max(value, 1 - value):.0%}")
    return number_format(value)


page_title(61, "multitask")
st.markdown(text("multitask.intro"))

settings_column, run_column = lab_columns()
with settings_column:
    form = Form(TRAIN)
    config = settings_ui(form)
    with st.expander(text("multitask.more_data")):
        # the shared dataset picker draws the declared options; the run records the digits it trains on
        data = dataset_ui(form)
error = None
try:
    multitask.check(config)
except InputError as caught:
    error = caught
with run_column:
    record = experiment(TRAIN.key,
                        Training(lambda: multitask.train(config, data), config, data.source,
                                 take_home=TakeHome("multitask", {"dataset": data.source, "config": config}),
                                 form=form),
                        draw=draw, idle=text("multitask.press_train"), error=error,
                        preview=None if error is not None else lambda: preview(config, data))

st.header(text("multitask.predict_title"))
if record is not None and record.usable(data.source):
    predict_section(record, data)
else:
    st.caption(text("multitask.need_model"))

st.header(text("multitask.ideas_title"))
for part in ("tasks", "designs", "weighting", "transfer"):
    with st.expander(text(f"multitask.{part}_title")):
        st.markdown(text(f"multitask.{part}_text" if part == "tasks" else f"multitask.{part}"))

cards_section("multitask", multitask_cards)
misconceptions("multitask")
show_source(multitask.train, multitask.SharedNet, multitask.UncertaintyWeights, multitask.gradient_cosines,
            multitask.slant)
