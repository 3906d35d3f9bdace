"""68 · Half and mixed precision: see the number formats, then train in fp32, bf16 and fp16 side by side."""

import math

import pandas as pd
import streamlit as st

from engine import half_precision as hp
from engine.device import describe, pick_device
from engine.errors import InputError
from ui import audit
from ui.charts import histogram_with_lines, history_figure, range_bars, spacing_figure, update_history
from ui.data_widgets import dataset
from ui.experiment import RunRecord, experiment
from ui.i18n import option_labels, text
from ui.links import linked
from ui.widgets import misconceptions_and_prompts, page_title, show_source

LOSS_FACTORS = {"1": 1.0, "small": 2.0**-20}


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
    raw = linked(st.text_input, text("half_precision.value"), "0.1", key="half_precision_value",
                 help=text("half_precision.value_help"), url_check=lambda typed: parse_number(typed) is not None)
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
    left.plotly_chart(range_bars([f.name for f in facts], [f.smallest_subnormal for f in facts],
                                 [f.smallest_normal for f in facts], [f.largest for f in facts],
                                 {"subnormal": text("half_precision.range_subnormal"),
                                  "normal": text("half_precision.range_normal")},
                                 text("half_precision.ranges_title")), width="stretch")
    curves = {name: hp.spacing_curve(name) for name in hp.DTYPES}
    right.plotly_chart(spacing_figure(curves, text("half_precision.spacing_title"), text("half_precision.spacing_x"),
                                      text("half_precision.spacing_y")), width="stretch")


def accumulation() -> None:
    st.subheader(text("half_precision.accumulate_title"))
    columns = st.columns(3)
    count = linked(columns[0].select_slider, text("half_precision.accumulate_count"),
                   (100, 1000, 5000, 10000, 20000), 10000, key="half_precision_count")
    value = linked(columns[1].select_slider, text("half_precision.accumulate_value"),
                   (0.0001, 0.001, 0.01, 0.1, 1.0), 0.01, key="half_precision_add")
    name = linked(columns[2].radio, text("half_precision.bits_format"), ["fp16", "bf16"],
                  key="half_precision_sum_format", horizontal=True)
    naive, wide = hp.accumulate(count, value, name)
    st.markdown(text("half_precision.accumulate_result", exact=count * value, format=name, naive=naive, wide=wide))
    st.caption(text("half_precision.accumulate_why"))


def examples_table() -> None:
    st.subheader(text("half_precision.examples_title"))
    rows = [{text("half_precision.examples_expression"): label, **{n: number_text(v) for n, v in values.items()}}
            for label, values in hp.examples()]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


# ---------------------------------------------------------------- training race

def race_settings(checks: dict[str, hp.ModeCheck]) -> hp.RaceConfig:
    runnable = [m for m in hp.MODES if checks[m].runs]
    defaults = [m for m in hp.RaceConfig().modes if m in runnable]
    if any(m not in runnable for m in st.session_state.get("half_precision_modes", [])):
        st.session_state.half_precision_modes = [m for m in st.session_state.half_precision_modes if m in runnable]
    modes = linked(st.multiselect, text("half_precision.modes"), runnable, defaults, key="half_precision_modes",
                   format_func=option_labels("half_precision.short_"), help=text("half_precision.modes_help"))
    factor = linked(st.radio, text("half_precision.loss_factor"), list(LOSS_FACTORS), key="half_precision_factor",
                    format_func=option_labels("half_precision.factor_"), help=text("half_precision.loss_factor_help"),
                    horizontal=True)
    return hp.RaceConfig(
        modes=tuple(m for m in hp.MODES if m in modes), loss_factor=LOSS_FACTORS[factor],
        hidden=linked(st.select_slider, text("half_precision.hidden"), (64, 128, 256, 512), 128,
                      key="half_precision_hidden"),
        steps=linked(st.slider, text("half_precision.steps"), 20, 1000, 300, 20, key="half_precision_steps"))


def availability_table(checks: dict[str, hp.ModeCheck], label: str) -> None:
    st.caption(text("half_precision.availability_title", device=label))
    rows = [{text("half_precision.availability_mode"): text(f"half_precision.mode_{mode}"),
             text("half_precision.availability_runs"): text(f"half_precision.{'yes' if check.runs else 'no'}"),
             text("half_precision.availability_note"): text(f"half_precision.note_{check.note}")}
            for mode, check in checks.items()]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def race_figures(config: hp.RaceConfig) -> dict:
    labels = {mode: text(f"half_precision.mode_{mode}") for mode in config.modes}
    axis = text("half_precision.step_axis")
    figures = {"losses": history_figure({f"loss/{m}": label for m, label in labels.items()},
                                        text("half_precision.losses_title"), axis),
               "accuracy": history_figure({f"accuracy/{m}": label for m, label in labels.items()},
                                          text("half_precision.accuracy_title"), axis, log_y=False)}
    if "fp16_scaler" in config.modes:
        figures["scale"] = history_figure({"scale/fp16_scaler": labels["fp16_scaler"]},
                                          text("half_precision.scale_title"), axis)
    return figures


def draw_race(record: RunRecord) -> None:
    step, config = record.step, record.config
    figures = race_figures(config)
    history = step.extras["history"]
    left, right = st.columns(2)
    left.plotly_chart(update_history(figures["losses"], history), width="stretch")
    right.plotly_chart(update_history(figures["accuracy"], history), width="stretch")
    rows = []
    for mode in config.modes:
        accuracy = step.metrics[f"{mode}/accuracy"]
        rows.append({text("half_precision.table_mode"): text(f"half_precision.mode_{mode}"),
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
        st.plotly_chart(update_history(figures["scale"], history), width="stretch")
        st.caption(text("half_precision.scale_caption", interval=config.growth_interval))
    if "gradients" not in step.extras:
        st.caption(text("half_precision.need_fp32"))
        return
    logs = step.extras["gradients"]
    scale = history["scale/fp16_scaler"][-1] if "scale/fp16_scaler" in history else 2.0**16
    shift = math.log10(scale)
    fp16 = hp.format_facts("fp16")
    below, subnormal = step.extras["fp16_shares"]
    st.plotly_chart(histogram_with_lines(
        {text("half_precision.gradients_plain"): logs,
         text("half_precision.gradients_scaled", scale=scale): [v + shift for v in logs]},
        {text("half_precision.line_subnormal"): math.log10(fp16.smallest_subnormal),
         text("half_precision.line_normal"): math.log10(fp16.smallest_normal),
         text("half_precision.line_max"): math.log10(fp16.largest)},
        text("half_precision.gradients_title"), "log₁₀ |g|"), width="stretch")
    st.caption(text("half_precision.gradients_caption", below=below, subnormal=subnormal))


def race_section(label: str, checks) -> None:
    st.header(text("half_precision.race_title"))
    st.markdown(text("half_precision.race_intro"))
    availability_table(checks, label)
    with st.sidebar:
        config = race_settings(checks)
    digits, _ = dataset("subset")
    experiment("half_precision_train", lambda: hp.train_race(config, digits), config, draw=draw_race,
               idle=text("half_precision.press_race"), error=None if config.modes else InputError("half_no_mode"))


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
    experiment("half_precision_speed", lambda: hp.speed_run(config), config, draw=draw_speed,
               run_label=text("half_precision.speed_run"), steps=False)


page_title(68, "half_precision")
st.markdown(text("half_precision.intro"))
for part in ("formats", "faster", "mixed"):
    with st.expander(text(f"half_precision.{part}_title")):
        st.markdown(text(f"half_precision.{part}"))

st.header(text("half_precision.lab_title"))
facts_table()
bit_lab()
charts()
accumulation()
examples_table()

device = pick_device()
info = describe(device)
label = device_label(device, info)
race_section(label, mode_checks(str(device), info.bf16_fast))
speed_section(label)

misconceptions_and_prompts("half_precision")
show_source(hp.step_once, hp.train_race, hp.encode, hp.training_bytes, hp.availability)
