"""Hosted mode (PTLAB_HOSTED=1): caps on steps, image sizes, uploads, datasets and DDP world size,
each one said on the page; without the variable nothing is capped."""

import io

import pytest
from PIL import Image

from tests.conftest import WAIT
from tests.test_links import SLUGS, open_link
from tests.test_pages import assert_clean
from ui import hosted, settings
from ui.i18n import translate


@pytest.fixture
def hosted_mode(monkeypatch):
    monkeypatch.setenv(hosted.ENV, "1")


def captions(app_test) -> list[str]:
    return [caption.value for caption in app_test.caption]


def _big_png() -> bytes:
    """20 megapixels (over the hosted 16, under the local 40), a few kB as a 1-bit PNG."""
    buffer = io.BytesIO()
    Image.new("1", (5000, 4000), 1).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.slow
def test_every_cap_is_at_or_above_the_default_and_below_the_full_range(app):
    """A default run is the same in both modes; every cap really lowers something."""
    checked, caps = set(), settings.caps()
    for slug in SLUGS:
        app_test = app(f"pages/{slug}.py")
        for kind in ("slider", "select_slider"):
            for element in app_test.get(kind):
                if element.key in caps:
                    ceiling = caps[element.key]
                    largest = element.max if kind == "slider" else max(float(o) for o in element.options)
                    assert float(element.value) <= ceiling < largest, element.key
                    checked.add(element.key)
    assert len(checked) >= 14, sorted(set(caps) - checked)     # the rest appear after a first run


def test_hosted_caps_sliders_links_and_says_so(app, hosted_mode):
    app_test = open_link(app, "pages/style_transfer.py",
                         {"lang": "zh", "style_transfer_size": "512", "style_transfer_steps": "150"})
    assert_clean(app_test)
    size, steps = app_test.slider(key="style_transfer_size"), app_test.slider(key="style_transfer_steps")
    assert (size.max, size.value) == (256, 256)                  # the link asked for 512: clamped to the cap
    assert (steps.max, steps.value) == (30, 30)
    assert translate("common.hosted_cap", "zh", cap="256", full="512") in captions(app_test)
    assert app_test.query_params["style_transfer_steps"] == "30"          # the URL says what runs
    assert app_test.query_params["style_transfer_size"] == "256"         # the cap, above the default (192)
    app_test.selectbox(key="style_transfer_preset").set_value("quality").run()    # a preset above the cap
    assert_clean(app_test)
    assert app_test.slider(key="style_transfer_size").value == 256


def test_hosted_limits_the_ddp_world_and_the_datasets(app, hosted_mode):
    app_test = app("pages/distributed.py")
    assert app_test.slider(key="distributed_world").max == 2
    app_test = app("pages/autoencoder.py", "zh")
    assert app_test.selectbox(key="autoencoder_dataset").options == [translate("data.dataset_subset", "zh")]
    assert translate("data.hosted_subset", "zh") in captions(app_test)


def test_hosted_refuses_a_20_megapixel_upload_that_a_laptop_takes(app, monkeypatch):
    def upload(app_test):
        app_test.radio(key="style_transfer_content_source").set_value("upload").run()
        app_test.file_uploader(key="act_style_transfer_content_upload").set_value(
            ("big.png", _big_png(), "image/png")).run()
        assert_clean(app_test)
        return [error.value for error in app_test.error]

    assert upload(app("pages/style_transfer.py")) == []
    monkeypatch.setenv(hosted.ENV, "1")
    app_test = app("pages/style_transfer.py", "zh")
    assert upload(app_test) == [translate("errors.too_many_pixels", "zh", width=5000, height=4000, max_mp=16)]
    assert translate("common.hosted_uploads", "zh", mb=8, mp=16, rows="5,000") in captions(app_test)


def test_hosted_keeps_5000_rows_of_a_long_csv(app, hosted_mode):
    app_test = app("pages/regression.py")
    app_test.radio(key="regression_source").set_value("csv").run()
    rows = "x,y\n" + "".join(f"{i},{2 * i}\n" for i in range(8000))
    app_test.file_uploader(key="act_regression_csv").set_value(("long.csv", rows.encode(), "text/csv")).run()
    assert_clean(app_test)
    assert translate("regression.csv_sampled", "en", rows=5000) in captions(app_test)


def test_without_the_variable_nothing_is_capped(app, monkeypatch):
    monkeypatch.delenv(hosted.ENV, raising=False)
    app_test = app("pages/style_transfer.py")
    assert app_test.slider(key="style_transfer_size").max == 512
    assert not any("Hosted" in caption for caption in captions(app_test))


@pytest.mark.slow
@pytest.mark.live_runs            # the runner's own replays and bring-backs, as a server runs them
def test_a_class_pressing_train_with_the_defaults_gets_replays_each_with_its_own_model(app, hosted_mode):
    """Hosted: the second learner's default run is played from the first's recording (same numbers,
    an equal model of their own, the note in their language); a changed setting trains for real."""
    from engine.fingerprint import fingerprint
    from tests.conftest import train
    from ui import runner as jobs

    first = train(app("pages/regression.py"), "regression_train")
    second = train(app("pages/regression.py", lang="zh"), "regression_train")
    mine, theirs = second.session_state["regression_train"], first.session_state["regression_train"]
    assert theirs.job.replayed is None and mine.job.replayed is not None
    assert mine.step.metrics == theirs.step.metrics and mine.step.step == theirs.step.step
    assert mine.model is not theirs.model and fingerprint(mine.model) == fingerprint(theirs.model)
    assert any("确定性" in caption for caption in captions(second))
    assert not any("deterministic" in caption for caption in captions(first))      # the first one trained
    assert_clean(second)

    second.number_input(key="regression_seed").set_value(5).run()
    train(second, "regression_train")
    assert second.session_state["regression_train"].job.replayed is None
    assert jobs.runner().recordings() == 2


@pytest.mark.slow
@pytest.mark.live_runs            # the runner's own replays and bring-backs, as a server runs them
def test_a_model_put_away_comes_back_trained_again_to_the_same_weights(app, hosted_mode, monkeypatch):
    """A session over its cap has its models on other pages put away (curves and numbers stay); back
    on the page, the run is trained again from its settings and gives the same model."""
    from engine.fingerprint import fingerprint
    from tests.conftest import train
    from ui import runner as jobs

    monkeypatch.setenv("PTLAB_REPLAYS", "0")            # trained again for real, not replayed
    monkeypatch.setenv("PTLAB_SESSION_MB", "0.001")      # any model on another page is over the cap
    page = train(app("pages/regression.py"), "regression_train")
    record = page.session_state["regression_train"]
    metrics, weights, curve = record.step.metrics, fingerprint(record.model), record.step.extras["history"]
    page.switch_page("pages/optimizers.py").run()
    assert record.job.put_away and record.model is None
    assert record.step.metrics == metrics and record.step.extras["history"] == curve
    page.switch_page("pages/regression.py").run()
    assert record.job.rebuilt and record.job.replayed is None
    assert any("Bringing back your model" in caption for caption in captions(page))
    assert record.step.metrics == metrics                  # the curves and numbers stay while it comes back
    jobs.runner().stop(record.job)                           # cut short (the learner left the page meanwhile)
    assert jobs.wait_for_runs(timeout=WAIT)
    page.run()                                               # the finished run is not lost: tried again
    assert record.job.rebuilt and record.step.metrics == metrics
    assert jobs.wait_for_runs(timeout=WAIT)
    page.run()
    assert record.step.metrics == metrics and fingerprint(record.model) == weights
    assert_clean(page)
