"""Pages 68 and 69 through the entry file: the race, the speed check, real DDP ranks, the scaling
and pipeline runs as jobs (Run / Pause / Step / Resume / Stop), and no English on the zh pages."""

import json

import pytest

from tests.conftest import train
from tests.conftest import wait_until as _wait
from tests.test_pages import assert_clean
from ui import runner
from ui.i18n import translate


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_half_precision_lab_race_and_speed_check(app, lang):
    app_test = app("pages/half_precision.py", lang)
    facts = app_test.dataframe[0].value
    assert list(facts.iloc[:, 0]) == ["fp32", "fp16", "bf16", "fp8_e4m3", "fp8_e5m2"]
    app_test.text_input(key="half_precision_value").set_value("70000").run()
    bits = app_test.dataframe[1].value
    assert list(bits.iloc[:, 2]) == ["70000", "inf", "70144"]                          # stored in fp32, fp16, bf16
    app_test.text_input(key="half_precision_value").set_value("seventy").run()
    assert_clean(app_test)
    assert translate("half_precision.bad_value", lang, value="seventy") in [e.value for e in app_test.error]
    app_test.slider(key="half_precision_steps").set_value(20).run()
    train(app_test, "half_precision_train")
    assert_clean(app_test)
    race = app_test.dataframe[-1].value
    assert len(race) == 4 and len(app_test.get("plotly_chart")) == 6        # ranges, spacing, loss, accuracy,
    assert translate("half_precision.naive_failed", lang) in [w.value for w in app_test.warning]  # scale, histogram
    train(app_test, "half_precision_speed")
    assert_clean(app_test)
    assert list(app_test.dataframe[-1].value.iloc[:, 0]) == ["fp32", "bf16", "fp16"]
    assert len(app_test.dataframe) == 5         # facts, examples, modes, race (kept), speed; no bits for "seventy"


def test_half_precision_train_obeys_pause_step_resume_stop_and_notes_changed_settings(app):
    app_test = app("pages/half_precision.py")
    app_test.slider(key="half_precision_steps").set_value(1000).run()
    app_test.button(key="act_half_precision_train").click().run()
    record = app_test.session_state["half_precision_train"]
    _wait(lambda: record.step is not None)
    app_test.select_slider(key="half_precision_hidden").set_value(64).run()          # mid-run: the note
    assert app_test.session_state["half_precision_train"] is record and record.active
    assert translate("common.stale_running", "en") in [c.value for c in app_test.caption]
    app_test.select_slider(key="half_precision_hidden").set_value(128).run()
    app_test.button(key="act_half_precision_train_pause").click().run()
    _wait(lambda: record.job.state == runner.PAUSED)
    paused_at = record.step.step
    app_test.run()
    assert app_test.button(key="act_half_precision_train_pause").label == translate("common.resume", "en")
    app_test.button(key="act_half_precision_train_step").click().run()
    _wait(lambda: record.job.state == runner.PAUSED and record.step.step > paused_at)
    app_test.button(key="act_half_precision_train_pause").click().run()             # Resume
    _wait(lambda: record.step.step > paused_at + 5 or not record.active)
    app_test.button(key="act_half_precision_train_stop").click().run()
    _wait(lambda: record.job.done)
    app_test.run()
    assert_clean(app_test)
    stopped = record.step.step
    assert record.job.state == runner.STOPPED and paused_at < stopped < 1000
    assert translate("common.run_stopped", "en", step=stopped, total=1000, device="CPU") in \
        [c.value for c in app_test.caption]
    assert len(app_test.dataframe[-1].value) == 4                                  # the stopped race's table
    assert set(record.model) == {"fp32", "bf16", "fp16_scaler", "fp16_naive"}
    app_test.text_input(key="half_precision_value").set_value("65520").run()        # the bit lab still answers
    assert_clean(app_test)


@pytest.mark.slow
def test_distributed_trains_two_real_ranks_and_a_pipeline(app, lang="en"):
    """(In Chinese: `test_distributed_tables_captions_and_axes_are_chinese`.)"""
    app_test = app("pages/distributed.py", lang)
    app_test.slider(key="distributed_steps").set_value(10)
    app_test.select_slider(key="distributed_batch").set_value(8).run()
    train(app_test, "distributed_train")
    assert_clean(app_test)
    assert app_test.metric[1].value == translate("distributed.in_sync", lang)
    caption = translate("distributed.equivalence_caption", lang, global_batch=16, difference=0.0)
    matched = [m.value for m in app_test.markdown if m.value.startswith(caption.split("**")[0])]
    assert matched and float(matched[0].split("**")[1]) <= 1e-5                     # DDP = one process
    app_test.slider(key="distributed_ring_devices").set_value(3).run()
    app_test.slider(key="distributed_ring_step").set_value(4).run()                  # the last all-gather step
    assert_clean(app_test)
    app_test.select_slider(key="distributed_micro").set_value(2).run()
    train(app_test, "distributed_pipeline")
    assert_clean(app_test)
    assert len(app_test.get("plotly_chart")) == 4           # losses, equivalence, ring, pipeline schedule


def test_distributed_train_obeys_pause_step_resume_stop_and_leaves_no_worker(app):
    app_test = app("pages/distributed.py")
    app_test.slider(key="distributed_steps").set_value(500)
    app_test.select_slider(key="distributed_batch").set_value(8).run()
    app_test.button(key="act_distributed_train").click().run()
    record = app_test.session_state["distributed_train"]
    _wait(lambda: record.step is not None)
    app_test.select_slider(key="distributed_hidden").set_value(32).run()
    assert translate("common.stale_running", "en") in [c.value for c in app_test.caption]
    app_test.select_slider(key="distributed_hidden").set_value(64).run()
    app_test.button(key="act_distributed_train_pause").click().run()
    _wait(lambda: record.job.state == runner.PAUSED)
    paused_at = record.step.step
    app_test.run()
    app_test.button(key="act_distributed_train_step").click().run()
    _wait(lambda: record.job.state == runner.PAUSED and record.step.step > paused_at)
    app_test.button(key="act_distributed_train_pause").click().run()                  # Resume
    _wait(lambda: record.step.step > paused_at + 5 or not record.active)
    app_test.button(key="act_distributed_train_stop").click().run()
    _wait(lambda: record.job.done)
    app_test.run()
    assert_clean(app_test)
    stopped = record.step.step
    assert record.job.state == runner.STOPPED and paused_at < stopped < 500
    assert translate("common.run_stopped", "en", step=stopped, total=500, device="CPU") in \
        [c.value for c in app_test.caption]
    assert translate("distributed.equivalence_need", "en") in [c.value for c in app_test.caption]
    for pid in record.step.extras["pids"]:
        with pytest.raises(FileNotFoundError):
            open(f"/proc/{pid}/cmdline").close()                                  # no worker left


def test_half_precision_shows_overflow_and_a_chinese_device_label(app):
    app_test = app("pages/half_precision.py", "zh")
    app_test.text_input(key="half_precision_value").set_value("65520").run()
    assert_clean(app_test)
    bits = app_test.dataframe[1].value.set_index(translate("half_precision.bits_format", "zh"))
    fp16 = bits.loc["fp16"]
    assert fp16[translate("half_precision.bits_error", "zh")] == translate("half_precision.error_overflow", "zh")
    assert fp16[translate("half_precision.bits_kind", "zh")] == translate("half_precision.kind_overflow", "zh")
    assert bits.loc["fp32", translate("half_precision.bits_error", "zh")] == "0"
    captions = [c.value for c in app_test.caption]
    assert any("个线程" in c for c in captions) and not any("threads" in c for c in captions)
    examples = app_test.dataframe[2].value
    assert "1 + 2⁻⁹" in list(examples.iloc[:, 0])


def test_distributed_tables_captions_and_axes_are_chinese(app):
    app_test = app("pages/distributed.py", "zh")
    app_test.slider(key="distributed_steps").set_value(10)
    app_test.select_slider(key="distributed_batch").set_value(8).run()
    train(app_test, "distributed_train")
    assert_clean(app_test)
    shards = app_test.dataframe[2].value
    assert list(shards.columns) == [translate("distributed.rank_column", "zh"),
                                    translate("distributed.shards_indices", "zh")]
    plan = {"items": 4000, "per_rank": 2000, "trimmed": 0, "padded": 0, "batches": 250, "unused": 0}
    caption = translate("distributed.shards_caption", "zh", world=2, batch=8, **plan)
    assert caption in [c.value for c in app_test.caption]
    figures = [json.loads(chart.proto.spec) for chart in app_test.get("plotly_chart")]
    axes = [f["layout"].get(axis, {}).get("title", {}).get("text") for f in figures for axis in ("xaxis", "yaxis")]
    assert translate("distributed.loss_axis", "zh") in axes and "loss" not in axes
    assert translate("distributed.step_axis", "zh") in axes
