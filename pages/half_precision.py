"""68 · Half and mixed precision: see the number formats, then train in fp32, bf16 and fp16 side by side."""

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from engine import half_precision as hp
from engine.cards import half_precision as half_precision_cards
from engine.device import describe, pick_device
from engine.errors import InputError
from ui import audit
from ui.cards import cards_section
from ui.charts import (
    colour_of,
    histogram_with_lines,
    history_figure,
    range_bars,
    show,
    spacing_figure,
    update_history,
    with_previous,
)
from ui.data_widgets import dataset
from ui.experiment import RunRecord, TakeHome, Training, experiment
from ui.fields import Form
from ui.i18n import text
from ui.settings.half_precision import TRAIN
from ui.widgets import lab_columns, misconceptions, page_title, show_source

# Curves of the modes that work lie within a few per cent of each other, closer than a line's width
# on a log axis: a dash style per mode keeps each visible where it runs on top of another. "dash"
# is left to curves that coincide within 0.1 % (ui.charts.finish), "dot" to the previous run's copies.
DASHES = {"fp32": "solid", "bf16": "dashdot", "fp16_scaler": "longdash", "fp16_autocast": "12px,4px,2px,4px,2px,4px",
          "fp16_naive": "longdashdot"}

# A title (and any "identical within 0.1 %" note) above the plot area, pushing the top margin: in a
# half-width column it wraps, and a title placed in the container would be cut at the top. The gap
# under it leaves room for a Chinese y-axis title, which finish() sets horizontally there.
TITLE_ABOVE = {"yref": "paper", "y": 1, "yanchor": "bottom", "pad": {"b": 28}}


@st.cache_resource(max_entries=4, show_spinner=False)
def mode_checks(device: str, bf16_fast: bool) -> dict[str, hp.ModeCheck]:
    """Which modes this server's device runs: found once by trying each (read-only afterwards)."""
    return audit.shared("mode_checks", hp.availability(device, bf16_fast))


def device_label(device, info) -> str:
    if device.type != "cpu":
        return f"{info.name} · {device.type}"
    return text("half_precision.device_cpu", name=info.name, threads=info.threads)


def error_text(encoding: hp.Encoding) -> str:
    """The relative error, or what happened instead (overflow to ∞, NaN)."""
    if encoding.kind == "overflow":
        return text("half_precision.error_overflow")
    return "—" if math.isnan(encoding.relative_error) else f"{encoding.relative_error:.3g}"


def number_text(value: float) -> str:
    if math.isnan(value) or math.isinf(value) or value == 0:
        return str(value)
    return f"{value:.8g}" if 1e-4 <= abs(value) < 1e7 else f"{value:.6e}"


# ---------------------------------------------------------------- number lab

def facts_table() -> None:
    st.subheader(text("half_precision.facts_title"))
    rows = []
    for name in hp.FACT_DTYPES:
        facts = hp.format_facts(name)
        rows.append({text("half_precision.facts_format"): name,
                     text("half_precision.facts_bits"): f"{facts.sign_bits} / {facts.exponent_bits} / "
                                                         f"{facts.mantissa_bits}",
                     text("half_precision.facts_largest"): f"{facts.largest:.6g}",
                     text("half_precision.facts_normal"): f"{facts.smallest_normal:.6g}",
                     text("half_precision.facts_subnormal"): f"{facts.smallest_subnormal:.6g}",
                     text("half_precision.facts_epsilon"): f"{facts.epsilon:.6g}"})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def parse_number(typed: str) -> float | None:
    try:
        return float(typed.strip().replace(",", "").replace("_", ""))
    except ValueError:
        return None


@st.fragment
def bit_lab() -> None:
    """The bit lab: typing a number here reruns only this part of the page."""
    raw = st.text_input(text("half_precision.value"), "0.1", key="half_precision_value",    # exploring: not linked
                        help=text("half_precision.value_help"))
    value = parse_number(raw)
    if value is None:
        st.error(text("half_precision.bad_value", value=raw[:40]), icon=":material/error:")
        return
    rows = []
    for name in hp.DTYPES:
        encoding = hp.encode(value, name)
        sign, exponent, _ = hp.LAYOUT[name]
        bits = f"{encoding.bits[:sign]} · {encoding.bits[sign:sign + exponent]} · {encoding.bits[sign + exponent:]}"
        rows.append({text("half_precision.bits_format"): name, text("half_precision.bits_pattern"): bits,
                     text("half_precision.bits_stored"): number_text(encoding.stored),
                     text("half_precision.bits_error"): error_text(encoding),
                     text("half_precision.bits_kind"): text(f"half_precision.kind_{encoding.kind}")})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def charts() -> None:
    left, right = st.columns(2)
    facts = [hp.format_facts(name) for name in hp.FACT_DTYPES]
    ranges = range_bars([f.name for f in facts], [f.smallest_subnormal for f in facts],
                        [f.smallest_normal for f in facts], [f.largest for f in facts],
                        {"subnormal": text("half_precision.range_subnormal"),
                         "normal": text("half_precision.range_normal")}, text("half_precision.ranges_title"))
    ranges.update_traces(marker_color=None)                    # colours by name, as on every chart
    ranges.update_layout(xaxis_title_text=text("half_precision.ranges_x"),
                         yaxis_title_text=text("half_precision.facts_format"))
    show(ranges, left)
    curves = {name: hp.spacing_curve(name) for name in hp.DTYPES}
    show(spacing_figure(curves, text("half_precision.spacing_title"), text("half_precision.spacing_x"),
                        text("half_precision.spacing_y")), right)


def accumulation() -> None:
    """Exploring, not an experiment: plain widgets, kept out of the page's link."""
    st.subheader(text("half_precision.accumulate_title"))
    columns = st.columns(3)
    count = columns[0].select_slider(text("half_precision.accumulate_count"), (100, 1000, 5000, 10000, 20000), 10000,
                                     key="half_precision_count")
    value = columns[1].select_slider(text("half_precision.accumulate_value"), (0.0001, 0.001, 0.01, 0.1, 1.0), 0.01,
                                     key="half_precision_add")
    name = columns[2].radio(text("half_precision.bits_format"), ["fp16", "bf16"], key="half_precision_sum_format",
                            horizontal=True)
    naive, wide = hp.accumulate(count, value, name)
    st.markdown(text("half_precision.accumulate_result", exact=count * value, format=name, naive=naive, wide=wide))
    st.caption(text("half_precision.accumulate_why"))


def examples_table() -> None:
    st.subheader(text("half_precision.examples_title"))
    rows = [{text("half_precision.examples_expression"): label, **{n: number_text(v) for n, v in values.items()}}
            for label, values in hp.examples()]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


# ---------------------------------------------------------------- training race

def race_settings(form: Form, checks: dict[str, hp.ModeCheck]) -> hp.RaceConfig:
    """The race's settings, offering the modes this device runs; the race as the cards build it."""
    runnable = [m for m in hp.MODES if checks[m].runs]
    key = TRAIN.widget_key("modes")
    if any(m not in runnable for m in st.session_state.get(key, [])):       # kept from a link or a card
        st.session_state[key] = [m for m in st.session_state[key] if m in runnable]
    form("modes", options=runnable, default=[m for m in TRAIN["modes"].default if m in runnable],
         help=text("half_precision.modes_help"))
    form("factor", help=text("half_precision.loss_factor_help"))
    with st.expander(text("half_precision.more_settings")):
        form("hidden")
        form("steps")
    config, _ = form.config()
    return config


def availability_table(checks: dict[str, hp.ModeCheck], label: str) -> None:
    with st.expander(text("half_precision.availability_title", device=label)):
        rows = [{text("half_precision.availability_mode"): text(f"half_precision.mode_{mode}"),
                 text("half_precision.availability_runs"): text(f"half_precision.{'yes' if check.runs else 'no'}"),
                 text("half_precision.availability_note"): text(f"half_precision.note_{check.note}")}
                for mode, check in checks.items()]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def mode_name(mode: str) -> str:
    """The short name a mode has on every chart and table of the race."""
    return text(f"half_precision.short_{mode}")


def race_figures(config: hp.RaceConfig, history: dict[str, list[float]]) -> dict:
    """The race's charts, filled from `history` (accuracy drawn in per cent)."""
    names = {mode: mode_name(mode) for mode in config.modes}
    axis = text("half_precision.step_axis")
    figures = {"losses": history_figure({f"loss/{m}": name for m, name in names.items()},
                                        text("half_precision.losses_title"), axis,
                                        y_title=text("half_precision.loss_axis")),
               "accuracy": history_figure({f"accuracy/{m}": name for m, name in names.items()},
                                          text("half_precision.accuracy_title"), axis, log_y=False,
                                          y_title=text("half_precision.accuracy_axis"), quantity="accuracy")}
    if "fp16_scaler" in config.modes:
        figures["scale"] = history_figure({"scale/fp16_scaler": names["fp16_scaler"]},
                                          text("half_precision.scale_title"), axis,
                                          y_title=text("half_precision.scale_axis"), quantity=None)
    percent = {k: [100 * v for v in values] if k.startswith("accuracy/") else values for k, values in history.items()}
    for figure in figures.values():
        update_history(figure, percent)
        figure.update_layout(height=380, title=TITLE_ABOVE)
        for trace in figure.data:
            trace.line.dash = DASHES[trace.meta.split("/")[1]]
    return figures


def percent(value: float) -> str:
    """Two significant digits below 100 (0.76, 1.7), whole numbers above (360), never 3.6e+02."""
    return f"{value:.2g}" if value < 100 else f"{value:,.0f}"


def gaps_to_fp32(config: hp.RaceConfig, history: dict[str, list[float]]) -> str | None:
    """How far each finite mode's loss curve lies from fp32's: the largest and the median relative gap."""
    if "fp32" not in config.modes or not history["step"]:
        return None
    reference = np.asarray(history["loss/fp32"])
    parts = []
    for mode in config.modes:
        curve = np.asarray(history[f"loss/{mode}"])
        if mode == "fp32" or not np.isfinite(curve).all():
            continue
        gap = np.abs(curve - reference) / np.maximum(np.abs(reference), 1e-12)
        parts.append(text("half_precision.gap_mode", mode=mode_name(mode), largest=percent(100 * gap.max()),
                          median=percent(100 * np.median(gap))))
    return text("half_precision.gap_note", gaps="; ".join(parts)) if parts else None


def draw_race(record: RunRecord) -> None:
    step, config = record.step, record.config
    history = step.extras["history"]
    figures = race_figures(config, history)
    if record.previous is not None:                          # the previous race, faint
        before = race_figures(record.previous.config, record.previous.step.extras["history"])
        for name in ("losses", "accuracy"):
            with_previous(figures[name], before[name])
    left, right = st.columns(2)
    show(figures["losses"], left)
    show(figures["accuracy"], right)
    gaps = gaps_to_fp32(config, history)
    if gaps:
        st.caption(gaps)
    rows = []
    for mode in config.modes:
        accuracy = step.metrics[f"{mode}/accuracy"]
        rows.append({text("half_precision.table_mode"): mode_name(mode),
                     text("half_precision.table_accuracy"): f"{100 * accuracy:.1f}%",
                     text("half_precision.table_step"): f"{1000 * step.extras['seconds_per_step'][mode]:.1f} ms",
                     text("half_precision.table_memory"): f"{step.extras['memory'][mode] / 1e6:.2f} MB",
                     text("half_precision.table_skipped"): str(step.extras["skipped"][mode]),
                     text("half_precision.table_zero"): f"{100 * step.extras['zero_gradients'][mode]:.1f}%"})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    where = "cuda" if step.extras["device"].startswith("cuda") else "cpu"
    st.caption(text(f"half_precision.memory_{where}"))
    if "fp16_naive" in config.modes and math.isnan(step.metrics["fp16_naive/loss"]):
        st.warning(text("half_precision.naive_failed"), icon=":material/warning:")
    if "scale" in figures:
        show(figures["scale"])
        st.caption(text("half_precision.scale_caption", interval=config.growth_interval))
    if "gradients" not in step.extras:
        st.caption(text("half_precision.need_fp32"))
        return
    figure, scale = gradient_histogram(step, history)
    show(figure)
    below, subnormal = step.extras["fp16_shares"]
    st.caption(text("half_precision.gradients_caption", below=below, subnormal=subnormal, scale=scale))


def gradient_histogram(step, history: dict[str, list[float]]) -> tuple[go.Figure, float]:
    """The fp32 model's gradient magnitudes, as computed and after loss scaling by the scaler's latest
    scale (returned too), against fp16's range."""
    logs = step.extras["gradients"]
    scale = history["scale/fp16_scaler"][-1] if "scale/fp16_scaler" in history else 2.0**16
    shift = math.log10(scale)
    fp16 = hp.format_facts("fp16")
    figure = histogram_with_lines(
        {text("half_precision.gradients_plain"): logs,
         text("half_precision.gradients_scaled"): [v + shift for v in logs]},
        {text("half_precision.line_subnormal"): math.log10(fp16.smallest_subnormal),
         text("half_precision.line_normal"): math.log10(fp16.smallest_normal),
         text("half_precision.line_max"): math.log10(fp16.largest)},
        text("half_precision.gradients_title"), text("half_precision.gradients_x"))
    return figure.update_layout(yaxis_title_text=text("half_precision.gradients_y")), scale


@st.cache_data(max_entries=16, show_spinner=False)
def untrained_race(config: hp.RaceConfig, source: str, _digits):
    """The race's start on digits of `source` (the digits themselves are not hashed on every rerun)."""
    return hp.race_step_zero(config, _digits)


def race_preview(config: hp.RaceConfig, digits) -> None:
    """Before a run: each mode's loss and accuracy at step 0, the first points of the race's charts."""
    step = untrained_race(config, digits.source, digits)
    figures = race_figures(config, step.extras["history"])
    for figure in figures.values():             # one point per mode, on the race's whole length
        figure.update_traces(mode="lines+markers").update_xaxes(range=[-0.02 * config.steps, config.steps])
    figures["accuracy"].update_yaxes(range=[0, 100])
    losses = [v for mode in config.modes if math.isfinite(v := step.metrics[f"{mode}/loss"]) and v > 0]
    if losses:                                  # whole decades, where the tick labels are (not a 10⁻⁵ sliver)
        figures["losses"].update_yaxes(range=[math.floor(math.log10(min(losses))) - 0.05,
                                              math.ceil(math.log10(max(losses))) + 0.05])
    left, right = st.columns(2)
    show(figures["losses"], left)
    show(figures["accuracy"], right)
    st.caption(text("half_precision.preview", batch=config.batch_size, count=config.live_size))


def race_section(label: str, checks) -> None:
    for mode in hp.MODES:         # the race's modes take the palette's first, most distinct colours
        colour_of(mode_name(mode))
    settings_column, run_column = lab_columns()
    with settings_column:
        st.header(text("half_precision.race_settings"))
        form = Form(TRAIN)
        config = race_settings(form, checks)
        availability_table(checks, label)
    digits, _ = dataset("subset")
    with run_column:
        experiment(TRAIN.key,
                   Training(lambda: hp.train_race(config, digits), config, replay=TRAIN.replays,
                            take_home=TakeHome("half_precision", {"dataset": digits.source, "config": config}),
                            form=form),
                   draw=draw_race, idle=text("half_precision.press_race"),
                   error=None if config.modes else InputError("half_no_mode"),
                   preview=(lambda: race_preview(config, digits)) if config.modes else None)


# ---------------------------------------------------------------- is it faster here?

def draw_speed(record: RunRecord) -> None:
    results = record.step.extras["results"]
    rows = [{text("half_precision.speed_format"): r.name, text("half_precision.speed_matmul"): f"{r.matmul_gflops:.1f}",
             text("half_precision.speed_conv"): f"{r.conv_ms:.1f}",
             text("half_precision.speed_ratio"): f"{r.matmul_speedup:.2f}× / {r.conv_speedup:.2f}×"} for r in results]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    for result in results[1:]:
        verdict = "faster" if result.matmul_speedup > 1.1 else "slower" if result.matmul_speedup < 0.9 else "same"
        st.markdown(text(f"half_precision.verdict_{verdict}", format=result.name, ratio=result.matmul_speedup))


def speed_section(label: str) -> None:
    st.header(text("half_precision.speed_title"))
    st.markdown(text("half_precision.speed_intro", device=label))
    config = hp.SpeedConfig()
    experiment("half_precision_speed",
               Training(lambda: hp.speed_run(config), config, replay=False, steps=False),
               draw=draw_speed, run_label=text("half_precision.speed_run"))


page_title(68, "half_precision")
st.markdown(text("half_precision.intro"))

device = pick_device()
info = describe(device)
label = device_label(device, info)
race_section(label, mode_checks(str(device), info.bf16_fast))

st.header(text("half_precision.lab_title"))
facts_table()
bit_lab()
charts()
accumulation()
examples_table()

speed_section(label)

st.header(text("half_precision.ideas_title"))
for part in ("stored", "mixed", "faster", "formats"):
    with st.expander(text(f"half_precision.{part}_title")):
        st.markdown(text(f"half_precision.{part}"))

cards_section("half_precision", half_precision_cards)
misconceptions("half_precision")
show_source(hp.step_once, hp.train_race, hp.encode, hp.training_bytes, hp.availability)
