"""69 · Distributed training: real DDP worker processes from the page, proven equal to one process."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from engine import distributed, export, images
from engine.cards import distributed as distributed_cards
from engine.device import usable_cores
from ui.cards import cards_section
from ui.charts import history_figure, ring_figure, show, timeline_figure, update_history, with_previous
from ui.data_widgets import dataset
from ui.experiment import RunRecord, TakeHome, Training, experiment
from ui.fields import Form
from ui.i18n import text
from ui.settings.distributed import PIPELINE, TRAIN
from ui.widgets import alt_of, lab_columns, misconceptions, number_format, page_title, show_source


def settings_ui(form: Form) -> distributed.DDPConfig:
    """The run's size first, the model's and the optimiser's in an expander; the config, as the cards build it."""
    for name in ("world", "batch", "steps"):
        form(name)
    with st.expander(text("distributed.more_settings")):
        form("hidden")
        form("learning_rate")
    return form.config()[0]


def draw(record: RunRecord) -> None:
    step, config = record.step, record.config
    if step.step == 0:                  # the workers are starting: what they will do, before any step
        st.info(text("distributed.starting", world=config.world_size,
                     pids=", ".join(str(pid) for pid in step.extras["pids"])), icon=":material/hourglass_top:")
        st.caption(text("distributed.plan_caption", world=config.world_size, batch=config.batch_size,
                        **step.extras["plan"]))
        return
    ranks = step.extras["ranks"]
    chart = update_history(loss_chart(config), step.extras["history"])
    if record.previous is not None:                                   # the previous run's ranks, faint
        with_previous(chart, update_history(loss_chart(record.previous.config),
                                            record.previous.step.extras["history"]))
    show(chart)
    columns = st.columns(3)
    columns[0].metric(text("distributed.metric_loss"), number_format(step.metrics["loss"]))
    spread = max(step.extras["history"]["spread"])           # over every step so far
    columns[1].metric(text("distributed.metric_sync"), text("distributed.in_sync") if spread == 0 else
                      text("distributed.out_of_sync", spread=spread))
    if step.extras["startup"] is not None:
        columns[2].metric(text("distributed.metric_startup"), f"{step.extras['startup']:.1f} s")
    if not record.active:
        equivalence(step, config)
    left, right = st.columns(2)
    with left:
        st.subheader(text("distributed.gradient_title", step=step.step))
        rows = [{text("distributed.rank_column"): rank,
                 text("distributed.gradient_before"): ", ".join(f"{v:+.4f}" for v in r["before"][:3]),
                 text("distributed.gradient_after"): ", ".join(f"{v:+.4f}" for v in r["after"][:3])}
                for rank, r in ranks.items()]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        st.caption(text("distributed.gradient_caption"))
    with right:
        st.subheader(text("distributed.timing_title"))
        rows = [{text("distributed.rank_column"): rank,
                 text("distributed.timing_compute"): f"{1000 * max(r['seconds'] - r['comm_seconds'], 0.0):.1f} ms",
                 text("distributed.timing_comm"): f"{1000 * r['comm_seconds']:.1f} ms",
                 text("distributed.timing_step"): f"{1000 * r['seconds']:.1f} ms"}
                for rank, r in ranks.items()]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    if "shards" in step.extras:
        st.subheader(text("distributed.shards_title"))
        st.dataframe(pd.DataFrame([{text("distributed.rank_column"): rank,
                                    text("distributed.shards_indices"): ", ".join(map(str, shard))}
                                   for rank, shard in step.extras["shards"].items()]),
                     hide_index=True, width="stretch")
        st.caption(text("distributed.shards_caption", world=config.world_size, batch=config.batch_size,
                        **step.extras["plan"]))


def loss_chart(config) -> go.Figure:
    series = {f"rank{r}": text("distributed.rank", rank=r) for r in range(config.world_size)}
    return history_figure(series, text("distributed.losses_title"), text("distributed.step_axis"),
                          y_title=text("distributed.loss_axis"))


@st.cache_data(max_entries=16, show_spinner=False)
def untrained_step(config: distributed.DDPConfig, source: str, _digits):
    """The run's plan and start on digits of `source` (the digits themselves are not hashed on every rerun)."""
    return distributed.step_zero(config, _digits)


def preview(config: distributed.DDPConfig) -> None:
    """Before a run: each rank's first batch (its first digits) and the untrained model's loss on it,
    then the plan for every epoch and the model every rank starts from."""
    digits, _ = dataset("subset")
    step = untrained_step(config, digits.source, digits)
    extras = step.extras
    for column, (rank, batch) in zip(st.columns(config.world_size), extras["digits"].items(), strict=True):
        picture = images.to_image(images.tile(batch, 4))
        caption = text("distributed.preview_rank", rank=rank, count=config.batch_size,
                       loss=number_format(extras["losses"][rank]))
        column.image(picture.resize((picture.width * 2, picture.height * 2), Image.Resampling.NEAREST),
                     width=min(2 * picture.width, 240), caption=caption,
                     alt=alt_of(text("distributed.alt_batch"), caption))
    st.caption(text("distributed.preview", shown=len(extras["digits"][0]), batch=config.batch_size,
                    hidden=config.hidden, parameters=f"{extras['parameters']:,}",
                    loss=number_format(step.metrics["loss"]), global_batch=config.world_size * config.batch_size,
                    world=config.world_size, **extras["plan"]))


def run_section() -> None:
    settings_column, run_column = lab_columns()
    with settings_column:
        st.header(text("distributed.run_title"))
        form = Form(TRAIN)
        config = settings_ui(form)
        st.caption(text("distributed.backend_note", backend=distributed.backend_for(config),
                        global_batch=config.world_size * config.batch_size, world=config.world_size,
                        batch=config.batch_size))
    with run_column:
        experiment(TRAIN.key,
                   Training(lambda: distributed.train(config), config, replay=TRAIN.replays, form=form,
                            take_home=TakeHome("distributed", export.distributed_settings(config))),
                   draw=draw, idle=text("distributed.press_train"), preview=lambda: preview(config))


def curve_gap(a: list[float], b: list[float]) -> float:
    """The largest relative difference between two loss curves, step by step."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-12)))


def equivalence(step, config) -> None:
    """DDP's mean loss against the single-process run's, and the largest parameter difference."""
    st.subheader(text("distributed.equivalence_title"))
    if not step.finished or "reference" not in step.extras:
        st.caption(text("distributed.equivalence_need"))
        return
    reference = step.extras["reference"]
    history = step.extras["history"]
    mean = [sum(history[f"rank{r}"][i] for r in range(config.world_size)) / config.world_size
            for i in range(len(history["step"]))]
    single = reference["losses"][:len(mean)]
    figure = history_figure({"ddp": text("distributed.ddp_mean"), "single": text("distributed.single_process")},
                            text("distributed.equivalence_chart"), text("distributed.step_axis"),
                            y_title=text("distributed.loss_axis"))
    # The title and finish()'s note above the plot, with room under them for a horizontal Chinese y title.
    figure.update_layout(height=380, title={"yref": "paper", "y": 1, "yanchor": "bottom", "pad": {"b": 28}})
    show(update_history(figure, {"step": history["step"], "ddp": mean, "single": single}))   # title, note: above
    st.markdown(text("distributed.equivalence_caption", global_batch=config.world_size * config.batch_size,
                     difference=reference["difference"], gap=f"{curve_gap(mean, single):.1e}"))


def draw_scaling(record: RunRecord) -> None:
    rows = record.step.extras["rows"]
    if not rows:
        return
    st.dataframe(pd.DataFrame([{text("distributed.scaling_world"): r["world"],
                                text("distributed.scaling_step"): f"{1000 * r['step_seconds']:.1f} ms",
                                text("distributed.scaling_throughput"): f"{r['throughput']:.0f}",
                                text("distributed.scaling_efficiency"): f"{r['efficiency']:.0%}",
                                text("distributed.scaling_startup"): f"{r['startup']:.1f} s"} for r in rows]),
                 hide_index=True, width="stretch")


def scaling_section() -> None:
    st.header(text("distributed.scaling_title"))
    config = distributed.ScalingConfig()
    backend = distributed.backend_for(distributed.DDPConfig(world_size=max(config.worlds)))
    st.markdown(text("distributed.scaling_intro", cores=usable_cores(), backend=text(f"distributed.backend_{backend}")))
    experiment("distributed_scaling",
               Training(lambda: distributed.scaling(config), config, replay=False),
               draw=draw_scaling, run_label=text("distributed.scaling_run"))


@st.fragment
def ring_section() -> None:
    """The ring lab: exploring, so plain widgets kept out of the page's link; moving them reruns only this part."""
    st.header(text("distributed.ring_demo_title"))
    left, right = st.columns(2)
    devices = left.slider(text("distributed.ring_devices"), 2, 8, 4, key="distributed_ring_devices")
    frames = distributed.ring_schedule(devices)
    if st.session_state.get("distributed_ring_step", 0) > len(frames) - 1:
        st.session_state.distributed_ring_step = len(frames) - 1
    index = right.slider(text("distributed.ring_step"), 0, len(frames) - 1, 0, key="distributed_ring_step")
    frame = frames[index]
    phase_step = index if frame["phase"] == "scatter_reduce" else index - (devices - 1)
    st.markdown(text(f"distributed.ring_phase_{frame['phase']}", n=devices, k=phase_step, total=devices - 1))
    figure = ring_figure(frame["holds"], frame["sends"], text("distributed.ring_device"),
                         text("distributed.ring_chunk"))
    show(figure.update_layout(margin_t=70))             # room above the top x axis for a horizontal y title
    ratio = distributed.ring_bytes_per_device(devices, 1.0)
    st.caption(text("distributed.ring_bytes", ratio=ratio, mb=ratio * 25e6 * 4 / 1e6, naive=devices - 1))


def pipeline_section() -> None:
    st.header(text("distributed.pipeline_title"))
    first, second = distributed.stage_flops()
    total = {part: first[part] + second[part] for part in ("forward", "backward")}
    step_share = (first["forward"] + first["backward"]) / (total["forward"] + total["backward"])
    st.markdown(text("distributed.pipeline_intro", forward0=first["forward"] / total["forward"],
                     forward1=second["forward"] / total["forward"], step0=step_share, step1=1 - step_share,
                     mflops0=(first["forward"] + first["backward"]) / 1e6,
                     mflops1=(second["forward"] + second["backward"]) / 1e6))
    settings_column, run_column = lab_columns()
    form = Form(PIPELINE)
    form("micro", where=settings_column)
    config, _ = form.config()
    with run_column:
        experiment(PIPELINE.key,
                   Training(lambda: distributed.pipeline_run(config), config, replay=PIPELINE.replays, steps=False,
                            form=form),
                   draw=draw_pipeline, run_label=text("distributed.pipeline_run"))


def draw_pipeline(record: RunRecord) -> None:
    step = record.step
    count = step.extras["micro_batches"]
    labels = {"stage": [text("distributed.stage", stage=s) for s in range(2)],
              "forward": text("distributed.forward"), "backward": text("distributed.backward")}
    title = text("distributed.pipeline_chart", bubble=step.metrics["bubble"], expected=1 / (count + 1),
                 from_flops=step.extras["from_flops"])
    figure = timeline_figure(step.extras["timelines"], labels, title, text("distributed.time_ms"))
    figure.update_traces(marker_color=None)                   # colours by name, as on every chart
    show(figure.update_layout(yaxis_title_text=text("distributed.stage_axis")))


page_title(69, "distributed")
st.markdown(text("distributed.intro"))
run_section()
scaling_section()
pipeline_section()
ring_section()

st.header(text("distributed.ideas_title"))
for part in ("ddp", "run_intro", "practice", "ring", "beyond", "torchrun"):
    with st.expander(text(f"distributed.{part}_title")):
        st.markdown(text(f"distributed.{part}"))

cards_section("distributed", distributed_cards)
misconceptions("distributed")
show_source(distributed.train, distributed.launch, distributed.single_process, distributed.ring_schedule)
