"""Pages 68 and 69 in Chinese: overflow shown as overflow, and no English in tables, captions or axes."""

import json

from tests.test_pages import assert_clean
from ui.i18n import translate


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
    app_test.button(key="act_distributed_train").click().run()
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
