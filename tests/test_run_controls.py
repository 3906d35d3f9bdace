"""Run controls on every training page, through the real entry file (AppTest), with one helper:
Step starts a run paused after its first report, Step goes exactly the amount its button states, Resume, a settings
change mid-run (the run keeps its own settings and the page says so), Stop keeps the model trained
so far ("stopped at step N of M"); then the page's labs use the stopped model without training it.
Half the pages in English, half in Chinese. Real Chromium does the same on two pages
(tests/test_browser_runs.py); a late Step click is tested once, here, on page 63."""

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from PIL import Image, ImageDraw

from engine import unet
from tests.conftest import wait_until
from tests.test_pages import assert_clean
from ui import runner
from ui.i18n import translate
from ui.jobs import step_amount

pytestmark = [pytest.mark.live_runs, pytest.mark.slow]

Check = Callable[..., None]


def png(drawing: Image.Image) -> bytes:
    import io

    buffer = io.BytesIO()
    drawing.save(buffer, "PNG")
    return buffer.getvalue()


def captions(app_test) -> list[str]:
    return [c.value for c in app_test.caption]


def pause_step_resume_stop(app_test, key: str, lang: str, change: Callable, while_running: Check | None = None,
                           while_paused: Callable | None = None):
    """The controls' whole sequence on experiment `key`; `change(app_test)` moves a setting while the
    run goes on, `while_running(app_test, lang)` looks at the page then, `while_paused(app_test, lang)`
    is true of the page while paused. Returns the stopped record."""
    app_test.button(key=f"act_{key}_step").click().run()
    shown = [i.value for i in app_test.info]                           # the click shows its status at once
    assert translate("common.run_preparing", lang, device="CPU") in shown or app_test.get("progress") or \
        [i for i in shown if i.startswith(translate("common.run_queued", lang, position=1)[:8])]
    record = app_test.session_state[key]
    wait_until(lambda: record.job.state == runner.PAUSED)
    first = record.step.step
    app_test.run()
    assert_clean(app_test)
    assert app_test.button(key=f"act_{key}_pause").label == translate("common.resume", lang)
    assert while_paused is None or while_paused(app_test, lang)
    amount = step_amount(record.step.total)                    # the button says how far one Step goes
    assert app_test.button(key=f"act_{key}_step").label == translate("common.step", lang, n=amount)
    app_test.button(key=f"act_{key}_step").click().run()
    wait_until(lambda: record.job.state == runner.PAUSED and record.step.step > first)
    # exactly there; page 70's L-BFGS counts evaluations, several per optimizer step, so it may pass it
    assert record.step.step == first + amount or (key.startswith("style_transfer") and record.step.step > first)
    app_test.run()                             # redrawn as the page's timer would: the button now says Resume
    app_test.button(key=f"act_{key}_pause").click()                               # Resume
    change(app_test)
    app_test.run()
    assert record.job.state in runner.ACTIVE, "the run should still be going"
    assert app_test.session_state[key] is record                                # the same run, its own settings
    assert translate("common.stale_running", lang) in captions(app_test)
    other = "zh" if lang == "en" else "en"                               # a language switch: the same run goes on
    app_test.radio(key="lang").set_value(other).run()
    assert app_test.session_state[key] is record and record.job.state in runner.ACTIVE
    assert translate("common.stale_running", other) in captions(app_test)
    app_test.radio(key="lang").set_value(lang).run()
    if while_running is not None:
        while_running(app_test, lang)
    app_test.button(key=f"act_{key}_stop").click().run()
    wait_until(lambda: record.job.done)
    app_test.run()
    assert_clean(app_test)
    assert record.job.state == runner.STOPPED and first < record.step.step < record.step.total
    assert translate("common.run_stopped", lang, step=record.step.step, total=record.step.total,
                     device="CPU") in captions(app_test)
    assert translate("common.stale_result", lang) in captions(app_test)
    return record


# ---------------------------------------------------------------- each page's labs on the stopped model

def _multitask(app_test, lang, record):
    app_test.number_input(key="multitask_index").set_value(7).run()
    assert len(app_test.dataframe) == 2 and len(app_test.dataframe[1].value) == 3


def _lstm_waits(app_test, lang):
    app_test.radio(key="lstm_demo").set_value("inside").run()                     # no lab on a model in training
    assert translate("lstm.inside_wait", lang) in captions(app_test)
    app_test.radio(key="lstm_demo").set_value("rows").run()


def _lstm(app_test, lang, record):
    app_test.radio(key="lstm_demo").set_value("inside").run()
    app_test.number_input(key="lstm_inside_digit").set_value(7).run()
    traces = json.loads(app_test.get("plotly_chart")[-1].proto.spec)["data"]
    assert [t["type"] for t in traces] == ["heatmap"] * 6


def _regression(app_test, lang, record):
    predictions = []
    for x in (1.0, 9.0):
        app_test.number_input(key="regression_predict_x").set_value(x).run()
        assert_clean(app_test)
        predictions += [m.value for m in app_test.markdown if m.value.startswith(
            translate("regression.predict_y", lang, x="@", y="@").split("@")[0])]
    assert len(predictions) == 2 and predictions[0] != predictions[1]


def _optimizers_scrubbed(app_test, lang):
    app_test.slider(key="optimizers_scrub").set_value(0).run()          # a lab slider while the run goes on
    assert app_test.session_state["optimizers_network"].job.state in runner.ACTIVE


def _optimizers(app_test, lang, record):
    assert len(app_test.get("plotly_chart")) == 6 and len(app_test.dataframe) == 2   # the stopped run's views
    app_test.slider(key="optimizers_scrub").set_value(100).run()                     # the race lab still works


def _adversarial_waits(app_test, lang):
    assert translate("adversarial.need_models", lang) in captions(app_test)          # not while it trains


def _adversarial(app_test, lang, record):
    shown = captions(app_test)
    for name in ("standard", "robust"):                           # the gallery, one line per stopped model
        before, after = translate("adversarial.gallery_caption", lang, count="@", total=300, per_class=30,
                                  model=translate(f"adversarial.{name}", lang), shown="#").split("@")
        assert [c for c in shown if c.startswith(before) and after.split("#")[0] in c], name
    app_test.slider(key="adversarial_attack_epsilon").set_value(0.3).run()
    app_test.radio(key="adversarial_method").set_value("pgd").run()
    assert len(app_test.get("plotly_chart")) == 3 and len(app_test.metric) == 6
    bars = json.loads(app_test.get("plotly_chart")[1].proto.spec)["data"]
    assert len(bars) == 2 and abs(sum(bars[1]["y"]) - 1) < 1e-4            # probabilities after the attack


def _unet(app_test, lang, record):
    assert "unet_dice" not in app_test.session_state or record.config not in app_test.session_state["unet_dice"]
    app_test.slider(key="unet_feature_image").set_value(5).run()
    assert any(translate("unet.level_bottleneck", lang) in image.captions for image in app_test.image)
    drawing = Image.new("RGB", (120, 90), "white")
    ImageDraw.Draw(drawing).ellipse((10, 10, 60, 60), fill="black")
    app_test.file_uploader(key="act_unet_shapes").set_value(("shapes.png", png(drawing), "image/png")).run()
    assert translate("unet.shapes_caption", lang, size=unet.ShapesConfig.size) in captions(app_test)


def _autoencoder_waits(app_test, lang):
    assert translate("autoencoder.need_model", lang) in captions(app_test)       # no latent tools in training


def _autoencoder(app_test, lang, record):
    assert len(app_test.get("plotly_chart")) == 2                       # losses and the latent space
    explored = app_test.slider(key="autoencoder_z0")
    images = len(app_test.image)
    explored.set_value(explored.max).run()                             # the explorer
    app_test.number_input(key="autoencoder_first").set_value(7).run()   # and the interpolation
    assert len(app_test.image) == images and app_test.slider(key="autoencoder_z0").value == explored.max


def _half_precision(app_test, lang, record):
    name = translate("half_precision.table_skipped", lang)
    table = next(d.value for d in app_test.dataframe if name in d.value.columns)
    assert len(table) == 4                                                          # the stopped race's table
    assert set(record.model) == {"fp32", "bf16", "fp16_scaler", "fp16_naive"}
    app_test.text_input(key="half_precision_value").set_value("65520").run()        # the bit lab still answers


def _distributed(app_test, lang, record):
    assert translate("distributed.equivalence_need", lang) in captions(app_test)
    for pid in record.step.extras["pids"]:
        with pytest.raises(FileNotFoundError):
            open(f"/proc/{pid}/cmdline").close()                                  # no worker left


def _style_transfer(app_test, lang, record):
    from tests.test_style_transfer_page import result_row

    result_row(app_test, lang)                                         # the result keeps its place and size
    assert [b.key for b in app_test.get("download_button")].count("act_style_transfer_download") == 1
    app_test.select_slider(key="style_transfer_tv_weight").set_value(0.1).run()
    distance = translate("style_transfer.gram_distance", lang, layer="relu3_1", distance=0, content=0)
    app_test.selectbox(key="style_transfer_gram").set_value("relu3_1").run()           # the Gram lab
    assert any(m.value.startswith(distance[:24]) for m in app_test.markdown)


Setting = tuple[str, str, object]       # (AppTest accessor, widget key, value)


@dataclass(frozen=True)
class Page:
    path: str
    key: str
    lang: str
    setup: tuple[Setting, ...]          # settings that make the run long enough to catch
    change: Setting                     # a setting moved while the run goes on
    stopped: Check                      # the page's labs on the stopped model
    while_running: Check | None = None
    while_paused: Check | None = None


def apply(app_test, setting: Setting):
    kind, key, value = setting
    return getattr(app_test, kind)(key=key).set_value(value)


PAGES = [
    Page("multitask", "multitask_train", "en", (("slider", "multitask_steps", 1500),),
         ("select_slider", "multitask_learning_rate", 5e-4), _multitask,
         while_paused=lambda t, lang: len(t.dataframe) == 2),        # a paused model answers in the lab already
    Page("lstm", "lstm_rows_train", "zh", (("radio", "lstm_demo", "rows"), ("slider", "lstm_rows_steps", 3000)),
         ("select_slider", "lstm_rows_hidden", 16), _lstm, _lstm_waits),
    Page("regression", "regression_train", "en",
         (("slider", "regression_points", 2000), ("selectbox", "regression_model", "mlp"),
          ("slider", "regression_width", 128), ("slider", "regression_layers", 4),
          ("slider", "regression_steps", 5000)),
         ("select_slider", "regression_learning_rate", 0.01), _regression),
    Page("optimizers", "optimizers_network", "zh", (("slider", "optimizers_network_steps", 2000),),
         ("slider", "optimizers_network_steps", 1000), _optimizers, _optimizers_scrubbed),
    Page("adversarial", "adversarial_train", "en", (("slider", "adversarial_steps", 2000),),
         ("slider", "adversarial_share", 0.3), _adversarial, _adversarial_waits,
         while_paused=lambda t, lang: len(t.get("plotly_chart")) == 3),   # a paused run's models in the lab
    Page("unet", "unet_train", "zh", (("slider", "unet_depth", 2), ("slider", "unet_steps", 1500)),
         ("slider", "unet_blur", 1.0), _unet),
    Page("autoencoder", "autoencoder_train", "zh", (("slider", "autoencoder_steps", 4000),),
         ("slider", "autoencoder_noise", 0.2), _autoencoder, _autoencoder_waits),
    Page("half_precision", "half_precision_train", "en", (("slider", "half_precision_steps", 1000),),
         ("select_slider", "half_precision_hidden", 64), _half_precision),
    Page("distributed", "distributed_train", "zh",
         (("slider", "distributed_steps", 500), ("select_slider", "distributed_batch", 8)),
         ("select_slider", "distributed_hidden", 32), _distributed),
    Page("style_transfer", "style_transfer_run", "en",
         (("slider", "style_transfer_size", 128), ("slider", "style_transfer_steps", 150),
          ("toggle", "style_transfer_coarse", False)),
         ("select_slider", "style_transfer_tv_weight", 1.0), _style_transfer),
]


@pytest.mark.parametrize("page", PAGES, ids=[page.path for page in PAGES])
def test_pause_step_resume_stop_and_the_stopped_model_in_the_labs(app, page: Page):
    app_test = app(f"pages/{page.path}.py", page.lang)
    app_test.radio(key="lang").set_value(page.lang).run()        # explicitly: AppTest page switches drop ?lang=
    for setting in page.setup:
        apply(app_test, setting).run()
    record = pause_step_resume_stop(app_test, page.key, page.lang, lambda t: apply(t, page.change),
                                    page.while_running, page.while_paused)
    stopped = record.step.step
    page.stopped(app_test, page.lang, record)
    assert_clean(app_test)
    assert record.step.step == stopped and record.job.state == runner.STOPPED   # the labs did not train it


def test_a_late_step_click_on_a_run_going_on_pauses_it_and_never_replaces_it(app):
    """Step drawn while the run was paused, reaching the server after it resumed (a double click, a
    busy server): the run pauses after its next report; no new run takes its place."""
    app_test = app("pages/regression.py")
    for setting in PAGES[2].setup:
        apply(app_test, setting).run()
    app_test.button(key="act_regression_train").click().run()
    record = app_test.session_state["regression_train"]
    wait_until(lambda: record.job.state == runner.RUNNING and record.job.last is not None)
    app_test.button(key="act_regression_train_pause").click().run()
    wait_until(lambda: record.job.state == runner.PAUSED)
    app_test.run()
    step = app_test.button(key="act_regression_train_step")             # drawn while paused
    assert not step.proto.disabled
    app_test.button(key="act_regression_train_pause").click().run()     # Resume
    wait_until(lambda: record.job.state == runner.RUNNING)
    reached = record.job.last.step
    step.click().run()                                                   # ... and the Step click arrives now
    assert app_test.session_state["regression_train"] is record         # the same run, not a new one
    wait_until(lambda: record.job.state == runner.PAUSED)                # paused after its next report
    assert record.job.last.step > reached
    app_test.button(key="act_regression_train_stop").click().run()
    wait_until(lambda: record.job.done)
    assert_clean(app_test)
