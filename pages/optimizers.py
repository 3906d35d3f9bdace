"""64 · Optimizers: race SGD, momentum, Nesterov, Adagrad, Adadelta, RMSprop, Adam and AdamW."""

import math

import plotly.graph_objects as go
import streamlit as st

from engine import optimizers
from engine.cards import optimizers as optimizers_cards
from ui.cards import cards_section
from ui.charts import NEUTRAL, contour_paths, lines_figure, overlaid_histograms, show, watch_divergence, with_previous
from ui.data_widgets import dataset_ui
from ui.experiment import RunRecord, TakeHome, Training, experiment
from ui.fields import Form
from ui.i18n import text
from ui.settings.optimizers import NETWORK, RACE
from ui.widgets import (
    chosen_option,
    clamp_state,
    lab_columns,
    misconceptions,
    number_format,
    page_title,
    show_source,
)

RULES = {   # exactly what reference_step (and torch.optim) computes; g = gradient, t = step
    "sgd": r"\theta \leftarrow \theta - \eta\, g",
    "momentum": r"v \leftarrow \mu v + g, \qquad \theta \leftarrow \theta - \eta\, v",
    "nesterov": r"v \leftarrow \mu v + g, \qquad \theta \leftarrow \theta - \eta\,(g + \mu v)",
    "adagrad": r"G \leftarrow G + g^2, \qquad \theta \leftarrow \theta - \frac{\eta\, g}{\sqrt{G} + \epsilon}",
    "adadelta": (r"E[g^2] \leftarrow \rho E[g^2] + (1-\rho) g^2,\quad \Delta = "
                 r"\frac{\sqrt{E[\Delta^2] + \epsilon}}{\sqrt{E[g^2] + \epsilon}}\, g,\quad "
                 r"E[\Delta^2] \leftarrow \rho E[\Delta^2] + (1-\rho)\Delta^2,\quad "
                 r"\theta \leftarrow \theta - \eta\Delta"),
    "rmsprop": (r"E[g^2] \leftarrow \alpha E[g^2] + (1-\alpha) g^2, \qquad "
                r"\theta \leftarrow \theta - \frac{\eta\, g}{\sqrt{E[g^2]} + \epsilon}"),
    "adam": (r"m \leftarrow \beta_1 m + (1-\beta_1) g,\quad v \leftarrow \beta_2 v + (1-\beta_2) g^2,\quad "
             r"\hat m = \frac{m}{1-\beta_1^t},\ \hat v = \frac{v}{1-\beta_2^t},\quad "
             r"\theta \leftarrow \theta - \frac{\eta\, \hat m}{\sqrt{\hat v} + \epsilon}"),
}
RULES["adamw"] = r"\begin{gathered}\theta \leftarrow \theta\,(1 - \eta\lambda) \\ " + RULES["adam"] + r"\end{gathered}"
CHART_HEIGHT = 400          # two charts side by side in the run column: both on the first screen


def recommend() -> None:
    """Button callback: the chosen surface's recommended learning rates, start and steps, with μ and β₂
    back at the values the recommendations were measured with."""
    surface = chosen_option(RACE.widget_key("surface"), optimizers.SURFACES)
    if surface is None:                 # a label sent mid language switch, not the learner's choice
        return
    spec = optimizers.SURFACES[surface]
    recommended = {f"lr_{name}": spec.recommended[name]["lr"] for name in optimizers.OPTIMIZERS}
    recommended |= {"start_x": spec.start[0], "start_y": spec.start[1], "steps": spec.steps,
                    "mu": RACE["mu"].default, "beta2": RACE["beta2"].default}
    for name, value in recommended.items():
        st.session_state[RACE.widget_key(name)] = value


@st.cache_data(max_entries=32, show_spinner=False)
def run_race(surface: str, settings: tuple, steps: int, start: tuple[float, float]) -> dict:
    return optimizers_cards.summarize(optimizers.race(surface, {name: dict(hp) for name, hp in settings}, steps, start))


@st.cache_data(max_entries=8, show_spinner=False)
def surface_grid(surface: str) -> tuple:
    return optimizers.contour_grid(surface)


def race_settings_ui(form: Form) -> tuple[str, tuple, int, tuple[float, float]]:
    """The race's settings, drawn for the chosen surface (its rates, window and length as the
    defaults); the race as the cards build it."""
    st.header(text("optimizers.race_title"))
    surface = form("surface", on_change=recommend)
    spec = optimizers.SURFACES[surface]
    racers = form("racers")
    st.button(text("optimizers.recommended"), on_click=recommend, key="act_optimizers_recommend",
              help=text("optimizers.recommended_help"))
    with st.expander(text("optimizers.hyperparameters")):
        for name in racers:
            form(f"lr_{name}", value=spec.recommended[name]["lr"])
        form("mu")
        form("beta2")
    for axis, (low, high), start in (("x", spec.x_range, spec.start[0]), ("y", spec.y_range, spec.start[1])):
        clamp_state(RACE.widget_key(f"start_{axis}"), low, high)
        form(f"start_{axis}", min_value=float(low), max_value=float(high), value=float(start))
    form("steps", value=spec.steps)
    race, _ = form.config()
    return race


@st.cache_data(max_entries=32, show_spinner=False)
def path_heights(surface: str, settings: tuple, steps: int, start: tuple[float, float]) -> dict[str, list[float]]:
    """Each racer's height at every point of its path, for the 3-D view (computed once per race)."""
    result = run_race(surface, settings, steps, start)
    return {name: optimizers.log_heights(surface, r["points"]) for name, r in result.items()}


LOG_FLOOR = 1e-12           # float32 losses and distances reach 1e-30 and below: the log axes stop here
SADDLE_RANGE = (-3.0, 2.5)  # the saddle's loss has no floor (it runs to -inf): show the escape at -1


def log_range(curves: list[list[float]]) -> list[float]:
    """A log axis's range (in powers of ten) over the positive finite values, cut at LOG_FLOOR."""
    values = [v for curve in curves for v in curve if v is not None and math.isfinite(v) and v > 0]
    low, high = max(min(values, default=1.0), LOG_FLOOR), max(values, default=1.0)
    return [math.log10(low) - 0.2, math.log10(high) + 0.2]


def race_lines(steps: int, curves: dict[str, list[float]], title: str, y_title: str, log: bool,
               quantity: str) -> go.Figure:
    """One line per optimizer over the race's steps, from the start (step 0), named as on the contour
    (so in its colour); a curve that overflows (inf, nan) stops there, marked."""
    figure = watch_divergence(lines_figure(list(range(steps + 1)), curves, title, text("optimizers.step_axis"),
                                           y_title), quantity)
    figure.update_layout(height=CHART_HEIGHT)
    if log:
        figure.update_yaxes(type="log", range=log_range(list(curves.values())))
    return figure


def show_race(surface: str, settings: tuple, steps: int, start: tuple[float, float]) -> None:
    """The race in the run column: the paths and the loss side by side, then the distance and the table."""
    if not settings:
        st.info(text("optimizers.no_racers"))
        return
    result = run_race(surface, settings, steps, start)
    label = {name: text(f"optimizers.name_{name}") for name in result}
    spec = optimizers.SURFACES[surface]
    saddle = not spec.minima                       # the only surface without a minimum (and a loss below 0)
    paths_column, loss_column = st.columns(2)
    with paths_column:
        race_paths(surface, settings, steps, start)
    losses = race_lines(steps, {label[n]: r["losses"] for n, r in result.items()},
                        text("optimizers.loss_title_saddle" if saddle else "optimizers.loss_title"),
                        text("optimizers.loss_axis"), log=not saddle, quantity="loss")
    if saddle:
        losses.update_yaxes(range=list(SADDLE_RANGE))
        losses.add_hline(y=-1, line={"dash": "dash", "color": NEUTRAL}, annotation_text=text("optimizers.escape_line"),
                         annotation_position="bottom left")
    show(losses, loss_column)
    if saddle:
        loss_column.caption(text("optimizers.saddle_caption"))
    goal = "tolerance" if spec.minima else "escape"       # reach a minimum, or get off the saddle
    table = {"": [label[n] for n in result],
             text("optimizers.table_final"): [number_format(r["losses"][-1]) for r in result.values()],
             text(f"optimizers.table_{goal}"): [step_count(r[goal]) for r in result.values()]}
    if spec.minima:
        left, right = st.columns(2)
        show(race_lines(steps, {label[n]: r["distances"] for n, r in result.items()},
                        text("optimizers.distance_title"), text("optimizers.distance_axis"), log=True,
                        quantity="distance"), left)
        right.dataframe(table, hide_index=True)
    else:
        st.dataframe(table, hide_index=True)
    if surface == "bowl":
        show_tuning(surface)


@st.fragment
def race_paths(surface: str, settings: tuple, steps: int, start: tuple[float, float]) -> None:
    """The trajectory scrubber: moving it (or the 3-D switch) reruns only this part of the page.
    Both only change the view, so they are plain widgets, not part of a shared link."""
    result = run_race(surface, settings, steps, start)
    label = {name: text(f"optimizers.name_{name}") for name in result}
    clamp_state("optimizers_scrub", 0, steps)
    scrub, switch = st.columns([3, 2], vertical_alignment="bottom")
    at = scrub.slider(text("optimizers.scrub"), 0, steps, steps, key="optimizers_scrub")
    three_d = switch.toggle(text("optimizers.show_3d"), False, key="optimizers_3d")
    paths = {label[n]: r["points"][: at + 1] for n, r in result.items()}
    heights = ({label[n]: h[: at + 1] for n, h in path_heights(surface, settings, steps, start).items()}
               if three_d else None)
    figure = contour_paths(surface_grid(surface), paths, list(optimizers.SURFACES[surface].minima),
                           text("optimizers.contour_title"), three_d, heights)
    figure.update_layout(height=CHART_HEIGHT, margin={"l": 10, "r": 10, "t": 40})
    if three_d:
        figure.update_scenes(xaxis_title_text="x", yaxis_title_text="y",
                             zaxis_title_text=text("optimizers.height_axis"))
    else:
        figure.update_xaxes(title_text="x")
        figure.update_yaxes(title_text="y")
    show(figure)
    st.caption(text("optimizers.contour_caption"))


RACE_JOB = "_optimizers_race_job"     # Session State: (race, job): one job object per race drawn


def race_record(race: tuple, form: Form) -> optimizers_cards.RaceRecord:
    """The race drawn above, as the cards read a run: its result, its settings as drawn (by their
    declared names) and a job object that stays the same while the race does (so a card judges each
    race once)."""
    kept = st.session_state.get(RACE_JOB)
    if kept is None or kept[0] != race:
        kept = st.session_state[RACE_JOB] = (race, object())
    return optimizers_cards.RaceRecord(optimizers_cards.race_step(run_race(*race), race[2]), dict(form.values),
                                       kept[1])


def step_count(step: int | None) -> str:
    return str(step) if step is not None else text("optimizers.never")


def show_tuning(surface: str) -> None:
    """The best constant settings of gradient descent and the heavy ball, from the Hessian, and the
    steps each one takes in a race of the surface's own length."""
    tuning = optimizers.quadratic_tuning(surface)
    settings = (("sgd", (("lr", tuning.gd_rate),)),
                ("momentum", (("lr", tuning.heavy_ball_rate), ("momentum", tuning.heavy_ball_momentum))))
    spec = optimizers.SURFACES[surface]
    result = run_race(surface, settings, spec.steps, spec.start)
    low, high = tuning.curvatures
    st.info(text("optimizers.bowl_tuning", low=f"{low:g}", high=f"{high:g}", kappa=f"{high / low:g}",
                 gd_rate=f"{tuning.gd_rate:.4f}", gd_steps=step_count(result["sgd"]["tolerance"]),
                 hb_rate=f"{tuning.heavy_ball_rate:.4f}", hb_momentum=f"{tuning.heavy_ball_momentum:.3f}",
                 hb_steps=step_count(result["momentum"]["tolerance"])))


def network_figures(history: dict) -> tuple[go.Figure, go.Figure]:
    """The comparison's loss (log axis) and accuracy curves, one line per optimizer."""
    label = {name: text(f"optimizers.name_{name}") for name in history}
    figures = []
    first = next(iter(history.values()))
    for metric, x, y_title in (("loss", "step", "network_loss_axis"),
                               ("accuracy", "eval_step", "network_accuracy_axis")):
        values = {label[n]: h[metric] if metric == "loss" else [100 * a for a in h[metric]]    # accuracy in %
                  for n, h in history.items()}
        figure = watch_divergence(lines_figure(first[x], values, text(f"optimizers.network_{metric}"),
                                               text("optimizers.step_axis"), text(f"optimizers.{y_title}")), metric)
        figure.update_layout(height=CHART_HEIGHT)
        if metric == "loss":
            figure.update_yaxes(type="log")
        figures.append(figure)
    return figures[0], figures[1]


@st.cache_data(max_entries=16, show_spinner=False)
def untrained_network(config: optimizers.NetworkConfig, source: str, _data):
    """The comparison's start on digits of `source` (the digits themselves are not hashed on every rerun)."""
    return optimizers.network_step_zero(config, _data)


def network_preview(config: optimizers.NetworkConfig, data) -> None:
    """Before a run: every optimizer's first point, the same untrained network, on the run's charts."""
    step = untrained_network(config, data.source, data)
    loss, accuracy = network_figures(step.extras["history"])
    for figure in (loss, accuracy):              # the one starting point, on the run's whole length
        figure.update_xaxes(range=[-0.02 * config.steps, config.steps])
    accuracy.update_yaxes(range=[0, 100])
    left, right = st.columns(2)
    show(loss, left)
    show(accuracy, right)
    start = next(iter(step.extras["history"].values()))
    st.caption(text("optimizers.network_preview", loss=number_format(start["loss"][0]),
                    accuracy=f"{start['accuracy'][0]:.0%}"))


def draw_network(record: RunRecord) -> None:
    """The comparison's latest step: loss and accuracy curves (the previous run's faint), the table,
    the effective step sizes."""
    step = record.step
    history = step.extras["history"]
    label = {name: text(f"optimizers.name_{name}") for name in history}
    loss, accuracy = network_figures(history)
    if record.previous is not None:
        before = network_figures(record.previous.step.extras["history"])
        with_previous(loss, before[0])
        with_previous(accuracy, before[1])
    left, right = st.columns(2)
    show(loss, left)
    show(accuracy, right)
    st.dataframe({"": [label[n] for n in history],
                  text("optimizers.network_table_accuracy"): [f"{step.metrics[f'{n}_accuracy']:.1%}" for n in history],
                  text("optimizers.network_table_time"): [f"{step.extras['ms_per_step'][n]:.2f}" for n in history],
                  text("optimizers.network_table_state"): [f"{step.extras['state_bytes'][n] / 1024:.0f}"
                                                           for n in history]}, hide_index=True)
    effective = step.extras["effective"]                  # per adaptive optimizer, tens of thousands of values
    logs = record.cached("effective", lambda: {n: optimizers.log10_list(v) for n, v in effective.items()})
    if logs:
        figure = overlaid_histograms({label[n]: v for n, v in logs.items()}, text("optimizers.effective_title"),
                                     text("optimizers.effective_axis"))
        figure.update_yaxes(title_text=text("optimizers.effective_count"))
        show(figure)
        st.caption(text("optimizers.effective_caption"))


page_title(64, "optimizers")
st.markdown(text("optimizers.intro"))

settings_column, run_column = lab_columns()
with settings_column:
    race_form = Form(RACE)
    race = race_settings_ui(race_form)
with run_column:
    show_race(*race)

st.header(text("optimizers.network_title"))
st.caption(text("optimizers.network_caption"))
network_settings, network_run = lab_columns()
with network_settings:
    network_form = Form(NETWORK)
    network_form.set("racers", race_form.values["racers"])         # drawn once, with the race
    data = dataset_ui(network_form)
    network_form("network_steps")
    config, _ = network_form.config()
    st.caption(text("optimizers.network_racers", rates=", ".join(
        f"{text(f'optimizers.name_{n}')} {optimizers.NETWORK_LR[n]:g}" for n in config.optimizers)))
with network_run:
    experiment(NETWORK.key,
               Training(lambda: optimizers.compare_on_network(config, data), config, data.source,
                        take_home=TakeHome("optimizers", {"dataset": data.source, "config": config}),
                        form=network_form),
               draw=draw_network, run_label=text("optimizers.network_run"), idle=text("optimizers.network_idle"),
               preview=lambda: network_preview(config, data))

st.header(text("optimizers.ideas_title"))
with st.expander(text("optimizers.rules_title"), expanded=False):
    st.caption(text("optimizers.rules_note"))
    for name in optimizers.OPTIMIZERS:
        st.markdown(text(f"optimizers.{name}"))
        st.latex(RULES[name])

cards_section("optimizers", optimizers_cards, records={RACE.key: race_record(race, race_form)})
misconceptions("optimizers")
show_source(optimizers.reference_step, optimizers.race, optimizers.compare_on_network)
