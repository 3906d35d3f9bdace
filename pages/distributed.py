"""69 · Distributed training: real DDP worker processes from the page, proven equal to one process."""

import pandas as pd
import streamlit as st

from engine import distributed
from engine.device import usable_cores
from engine.errors import InputError
from ui.charts import history_figure, lines_figure, ring_figure, timeline_figure, update_history
from ui.i18n import text
from ui.links import linked
from ui.widgets import (
    misconceptions_and_prompts,
    number_format,
    page_title,
    previous,
    run_live,
    show_input_error,
    show_source,
)

LEARNING_RATES = (0.01, 0.02, 0.05, 0.1, 0.2)


def settings_ui() -> distributed.DDPConfig:
    world = linked(st.slider, text("distributed.world_size"), 1, distributed.MAX_WORLD, 2, key="distributed_world")
    return distributed.DDPConfig(
        world_size=world,
        batch_size=linked(st.select_slider, text("distributed.batch_size"), (8, 16, 32, 64, 128), 32,
                          key="distributed_batch"),
        hidden=linked(st.select_slider, text("distributed.hidden"), (32, 64, 128, 256), 64, key="distributed_hidden"),
        steps=linked(st.slider, text("distributed.steps"), 10, 500, 60, 10, key="distributed_steps"),
        learning_rate=linked(st.select_slider, text("distributed.learning_rate"), LEARNING_RATES, 0.05,
                             key="distributed_learning_rate"),
        backend="nccl" if distributed.gpus_for(world) else "gloo")


def draw(step, config, chart, slots) -> None:
    ranks = step.extras["ranks"]
    with slots["metrics"].container():
        columns = st.columns(3)
        columns[0].metric(text("distributed.metric_loss"), number_format(step.metrics["loss"]))
        spread = max(step.extras["history"]["spread"])           # over every step so far
        columns[1].metric(text("distributed.metric_sync"), text("distributed.in_sync") if spread == 0 else
                          text("distributed.out_of_sync", spread=spread))
        if step.extras["startup"] is not None:
            columns[2].metric(text("distributed.metric_startup"), f"{step.extras['startup']:.1f} s")
    slots["losses"].plotly_chart(update_history(chart, step.extras["history"]), width="stretch")
    with slots["details"].container():
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


def loss_chart(config):
    series = {f"rank{r}": text("distributed.rank", rank=r) for r in range(config.world_size)}
    return history_figure(series, text("distributed.losses_title"), text("distributed.step_axis"))


def run_section() -> None:
    st.header(text("distributed.run_title"))
    st.markdown(text("distributed.run_intro"))
    with st.sidebar:
        config = settings_ui()
    st.markdown(text("distributed.backend_note", backend=config.backend, global_batch=config.world_size *
                     config.batch_size, world=config.world_size, batch=config.batch_size))
    clicked = st.button(text("common.train"), type="primary", key="act_distributed_train")
    progress = st.empty()
    slots = {name: st.empty() for name in ("metrics", "losses", "details")}
    if clicked:
        chart = loss_chart(config)
        progress.info(text("distributed.starting", world=config.world_size))
        if not run_live(distributed.launch(config), "distributed_result", {"config": config},
                        lambda step: draw(step, config, chart, slots), progress):
            return
        st.session_state.distributed_reference = distributed.single_process(config)
    elif (result := previous("distributed_result", {"config": config}, progress)) is not None:
        draw(result["step"], result["config"], loss_chart(result["config"]), slots)
    else:
        progress.info(text("distributed.press_train"))
    equivalence_section()


def equivalence_section() -> None:
    result = st.session_state.get("distributed_result")
    reference = st.session_state.get("distributed_reference")
    if result is None:
        return
    st.subheader(text("distributed.equivalence_title"))
    step, config = result["step"], result["config"]
    if reference is None or not step.finished:
        st.caption(text("distributed.equivalence_need"))
        return
    parameters, losses = reference
    history = step.extras["history"]
    mean = [sum(history[f"rank{r}"][i] for r in range(config.world_size)) / config.world_size
            for i in range(len(history["step"]))]
    st.plotly_chart(lines_figure(history["step"], {text("distributed.ddp_mean"): mean,
                                                    text("distributed.single_process"): losses[:len(mean)]},
                                 "", text("distributed.step_axis"), text("distributed.loss_axis")), width="stretch")
    st.markdown(text("distributed.equivalence_caption", global_batch=config.world_size * config.batch_size,
                     difference=distributed.max_difference(step.extras["parameters"], parameters)))


def scaling_section() -> None:
    st.header(text("distributed.scaling_title"))
    st.markdown(text("distributed.scaling_intro", cores=usable_cores()))
    if st.button(text("distributed.scaling_run"), key="act_distributed_scaling"):
        try:
            with st.spinner():
                st.session_state.distributed_scaling = distributed.scaling(worlds=(1, 2, 4), steps=40)
        except InputError as error:
            show_input_error(error)
    rows = st.session_state.get("distributed_scaling")
    if rows:
        st.dataframe(pd.DataFrame([{text("distributed.scaling_world"): r["world"],
                                    text("distributed.scaling_step"): f"{1000 * r['step_seconds']:.1f} ms",
                                    text("distributed.scaling_throughput"): f"{r['throughput']:.0f}",
                                    text("distributed.scaling_efficiency"): f"{r['efficiency']:.0%}",
                                    text("distributed.scaling_startup"): f"{r['startup']:.1f} s"} for r in rows]),
                     hide_index=True, width="stretch")


def ring_section() -> None:
    st.header(text("distributed.ring_demo_title"))
    with st.expander(text("distributed.ring_title")):
        st.markdown(text("distributed.ring"))
    left, right = st.columns(2)
    devices = linked(left.slider, text("distributed.ring_devices"), 2, 8, 4, key="distributed_ring_devices")
    frames = distributed.ring_schedule(devices)
    if st.session_state.get("distributed_ring_step", 0) > len(frames) - 1:
        st.session_state.distributed_ring_step = len(frames) - 1
    index = linked(right.slider, text("distributed.ring_step"), 0, len(frames) - 1, 0, key="distributed_ring_step")
    frame = frames[index]
    phase_step = index if frame["phase"] == "scatter_reduce" else index - (devices - 1)
    st.markdown(text(f"distributed.ring_phase_{frame['phase']}", n=devices, k=phase_step, total=devices - 1))
    st.plotly_chart(ring_figure(frame["holds"], frame["sends"], text("distributed.ring_device"),
                                text("distributed.ring_chunk")), width="stretch")
    ratio = distributed.ring_bytes_per_device(devices, 1.0)
    st.caption(text("distributed.ring_bytes", ratio=ratio, mb=ratio * 25e6 * 4 / 1e6, naive=devices - 1))


def pipeline_section() -> None:
    st.header(text("distributed.pipeline_title"))
    with st.expander(text("distributed.beyond_title")):
        st.markdown(text("distributed.beyond"))
    first, second = distributed.stage_flops()
    total = {part: first[part] + second[part] for part in ("forward", "backward")}
    step_share = (first["forward"] + first["backward"]) / (total["forward"] + total["backward"])
    st.markdown(text("distributed.pipeline_intro", forward0=first["forward"] / total["forward"],
                     forward1=second["forward"] / total["forward"], step0=step_share, step1=1 - step_share,
                     mflops0=(first["forward"] + first["backward"]) / 1e6,
                     mflops1=(second["forward"] + second["backward"]) / 1e6))
    micro = linked(st.select_slider, text("distributed.micro_batches"), (1, 2, 4, 8, 16), 4, key="distributed_micro")
    if st.button(text("distributed.pipeline_run"), key="act_distributed_pipeline"):
        try:
            with st.spinner():
                st.session_state.distributed_pipeline = (micro, distributed.pipeline_timeline(micro))
        except InputError as error:
            show_input_error(error)
    result = st.session_state.get("distributed_pipeline")
    if result:
        count, timelines = result
        labels = {"stage": [text("distributed.stage", stage=s) for s in range(2)],
                  "forward": text("distributed.forward"), "backward": text("distributed.backward")}
        flops = distributed.stage_flops()
        from_flops = distributed.gpipe_bubble(count, [f["forward"] for f in flops], [f["backward"] for f in flops])
        st.plotly_chart(timeline_figure(timelines, labels, text("distributed.pipeline_chart",
                                                                bubble=distributed.bubble(timelines),
                                                                expected=1 / (count + 1), from_flops=from_flops),
                                        text("distributed.time_ms")), width="stretch")


page_title(69, "distributed")
st.markdown(text("distributed.intro"))
run_section()
with st.expander(text("distributed.practice_title")):
    st.markdown(text("distributed.practice"))
scaling_section()
ring_section()
pipeline_section()
st.header(text("distributed.torchrun_title"))
st.markdown(text("distributed.torchrun"))
misconceptions_and_prompts("distributed")
show_source(distributed.launch, distributed.single_process, distributed.ring_schedule)
