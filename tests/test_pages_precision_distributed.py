"""Pages 68 and 69 through the entry file: the race, the speed check, real DDP ranks, the scaling
and pipeline runs as jobs (Run / Pause / Step / Resume / Stop), and no English on the zh pages."""

import json
import math

import numpy as np
import pytest

from tests.conftest import train
from tests.test_pages import assert_clean
from ui.charts import COINCIDE, LABEL_CHARS, LINE_CHARS, _columns, first_non_finite, wrap
from ui.i18n import translate


def percent(value: float) -> str:
    """As the page writes a gap (pages/half_precision.py)."""
    return f"{value:.2g}" if value < 100 else f"{value:,.0f}"


def frame(app_test, lang: str, column: str):
    """The first table on page 68 with the column `half_precision.<column>` (tables move as runs add some)."""
    name = translate(f"half_precision.{column}", lang)
    return next(d.value for d in app_test.dataframe if name in d.value.columns)


def figures(app_test) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in app_test.get("plotly_chart")]


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_half_precision_lab_race_and_speed_check(app, lang):
    app_test = app("pages/half_precision.py", lang)
    facts = frame(app_test, lang, "facts_bits")
    assert list(facts.iloc[:, 0]) == ["fp32", "fp16", "bf16", "fp8_e4m3", "fp8_e5m2"]
    app_test.text_input(key="half_precision_value").set_value("70000").run()
    assert "half_precision_value" not in app_test.query_params          # exploring: not in the link
    bits = frame(app_test, lang, "bits_pattern")
    assert list(bits.iloc[:, 2]) == ["70000", "inf", "70144"]                          # stored in fp32, fp16, bf16
    app_test.text_input(key="half_precision_value").set_value("seventy").run()
    assert_clean(app_test)
    assert translate("half_precision.bad_value", lang, value="seventy") in [e.value for e in app_test.error]
    app_test.slider(key="half_precision_steps").set_value(20).run()
    train(app_test, "half_precision_train")
    assert_clean(app_test)
    race = frame(app_test, lang, "table_skipped")
    assert len(race) == 4 and len(app_test.get("plotly_chart")) == 6        # ranges, spacing, loss, accuracy,
    assert translate("half_precision.naive_failed", lang) in [w.value for w in app_test.warning]  # scale, histogram
    assert_divergence_marked(app_test, lang)
    assert_race_curves_read_apart(app_test, lang)
    train(app_test, "half_precision_speed")
    assert_clean(app_test)
    assert list(app_test.dataframe[-1].value.iloc[:, 0]) == ["fp32", "bf16", "fp16"]
    assert len(app_test.dataframe) == 5         # modes, race (kept), facts, examples, speed; no bits for "seventy"


def assert_divergence_marked(app_test, lang: str) -> None:
    """Pure fp16's loss turns NaN: the loss chart marks the first report where it is, with an ✕ there
    and a label naming the mode, in the page's language; the other modes' losses stay finite and
    are not marked, and no accuracy (pure fp16's stays finite) is."""
    history = app_test.session_state["half_precision_train"].step.extras["history"]
    step, value = first_non_finite(history["step"], history["loss/fp16_naive"])
    assert math.isnan(value)
    index = history["step"].index(step)
    when = "at" if (history["step"][index - 1] == step - 1 if index else step <= 1) else "by"
    label = translate("common.diverged", lang, line=translate("half_precision.short_fp16_naive", lang),
                      quantity=translate("common.diverged_loss", lang), value="NaN",
                      when=translate(f"common.diverged_{when}_step", lang, step=step))
    marked = {}
    for spec in figures(app_test):
        crosses = [t for t in spec["data"] if t.get("meta") == "diverged"]
        notes = [a["text"] for a in spec["layout"].get("annotations", []) if a.get("name") == "diverged"]
        if crosses or notes:
            marked[spec["data"][0].get("meta")] = ([(t["x"], t["hovertemplate"]) for t in crosses], notes)
    assert marked == {"loss/fp32": ([([step], f"{label}<extra></extra>")], [wrap(label, LABEL_CHARS)])}
    for mode in ("fp32", "bf16", "fp16_scaler"):
        assert first_non_finite(history["step"], history[f"loss/{mode}"]) is None, mode


def assert_race_curves_read_apart(app_test, lang: str) -> None:
    """The race's curves: short names that fit a legend line; on each chart, two modes' curves either
    have different dash styles or are noted as identical within 0.1 %; the caption's gaps to fp32
    are the data's."""
    history = app_test.session_state["half_precision_train"].step.extras["history"]
    short = {translate(f"half_precision.short_{m}", lang): m for m in ("fp32", "bf16", "fp16_scaler", "fp16_naive")}
    race = [f for f in figures(app_test) if {t.get("name") for t in f["data"]} >= set(short)]
    assert len(race) == 2                                                       # loss and accuracy
    for figure in race:
        title = figure["layout"]["title"]["text"]
        lines = {t["name"]: t for t in figure["data"] if t.get("name") in short}
        assert all("<br>" not in name and _columns(name) <= LINE_CHARS for name in lines)
        names = list(lines)
        for i, first in enumerate(names):
            for later in names[i + 1:]:
                a, b = (np.asarray(lines[n]["y"], dtype=float) for n in (first, later))
                note = translate("common.coincide", lang, later=later, first=first, share="0.1%")
                if np.isfinite(a).all() and np.isfinite(b).all() and \
                        np.all(np.abs(a - b) <= COINCIDE * np.maximum(np.maximum(abs(a), abs(b)), 1e-12)):
                    assert note in title.replace("<br>", " ")                   # coinciding, and said so
                else:
                    assert lines[first]["line"]["dash"] != lines[later]["line"]["dash"]   # or told apart
    fp32 = np.asarray(history["loss/fp32"])
    caption = next(c.value for c in app_test.caption
                   if c.value.startswith(translate("half_precision.gap_note", lang, gaps="")[:12]))
    for mode in ("bf16", "fp16_scaler"):
        gap = np.abs(np.asarray(history[f"loss/{mode}"]) - fp32) / fp32
        assert translate("half_precision.gap_mode", lang, mode=translate(f"half_precision.short_{mode}", lang),
                         largest=percent(100 * gap.max()), median=percent(100 * np.median(gap))) in caption


@pytest.mark.slow
def test_distributed_trains_two_real_ranks_and_a_pipeline(app, lang="en"):
    """(In Chinese: `test_distributed_tables_captions_and_axes_are_chinese`.)"""
    app_test = app("pages/distributed.py", lang)
    app_test.slider(key="distributed_steps").set_value(10)
    app_test.select_slider(key="distributed_batch").set_value(8).run()
    train(app_test, "distributed_train")
    assert_clean(app_test)
    assert app_test.metric[1].value == translate("distributed.in_sync", lang)
    caption = translate("distributed.equivalence_caption", lang, global_batch=16, difference=0.0, gap="")
    matched = [m.value for m in app_test.markdown if m.value.startswith(caption.split("**")[0])]
    assert matched and float(matched[0].split("**")[1]) <= 1e-5                     # DDP = one process
    step = app_test.session_state["distributed_train"].step
    history = step.extras["history"]
    mean = np.mean([history["rank0"], history["rank1"]], axis=0)
    single = np.asarray(step.extras["reference"]["losses"])
    gap = np.max(np.abs(mean - single) / np.maximum(mean, single))
    assert gap <= 1e-4 and f"{gap:.1e}" in matched[0]                   # the caption's gap is the data's
    ddp, one = translate("distributed.ddp_mean", lang), translate("distributed.single_process", lang)
    chart = next(f for f in figures(app_test) if {t.get("name") for t in f["data"]} >= {ddp, one})
    assert [t["line"].get("dash") for t in chart["data"] if t.get("name") == one] == ["dash"]   # shown coinciding
    assert translate("common.coincide", lang, later=one, first=ddp, share="0.1%") in \
        chart["layout"]["title"]["text"].replace("<br>", " ")
    app_test.slider(key="distributed_ring_devices").set_value(3).run()
    app_test.slider(key="distributed_ring_step").set_value(4).run()                  # the last all-gather step
    assert_clean(app_test)
    app_test.select_slider(key="distributed_micro").set_value(2).run()
    train(app_test, "distributed_pipeline")
    assert_clean(app_test)
    assert len(app_test.get("plotly_chart")) == 4           # losses, equivalence, ring, pipeline schedule


def test_half_precision_shows_overflow_and_a_chinese_device_label(app):
    app_test = app("pages/half_precision.py", "zh")
    app_test.text_input(key="half_precision_value").set_value("65520").run()
    assert_clean(app_test)
    bits = frame(app_test, "zh", "bits_pattern").set_index(translate("half_precision.bits_format", "zh"))
    fp16 = bits.loc["fp16"]
    assert fp16[translate("half_precision.bits_error", "zh")] == translate("half_precision.error_overflow", "zh")
    assert fp16[translate("half_precision.bits_kind", "zh")] == translate("half_precision.kind_overflow", "zh")
    assert bits.loc["fp32", translate("half_precision.bits_error", "zh")] == "0"
    labels = [e.label for e in app_test.expander]                   # "What runs on this device (…)"
    assert any("个线程" in label for label in labels) and not any("threads" in label for label in labels)
    examples = frame(app_test, "zh", "examples_expression")
    assert "1 + 2⁻⁹" in list(examples.iloc[:, 0])


@pytest.mark.slow
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
    drawn = figures(app_test)
    axes = [f["layout"].get(axis, {}).get("title", {}).get("text") for f in drawn for axis in ("xaxis", "yaxis")]
    axes += [note["text"] for f in drawn for note in f["layout"].get("annotations", [])     # CJK y titles: set
             if note.get("name", "").startswith("ytitle:")]                                  # horizontally
    assert translate("distributed.loss_axis", "zh") in axes and translate("distributed.loss_axis", "en") not in axes
    assert translate("distributed.step_axis", "zh") in axes
