"""Before any run every page teaches: step 0 for the current settings, its data and what the untrained
model makes of it (`experiment(..., preview=...)`), and beside Run how long runs took on this server.

The engines' step-0 functions must show the model a run really starts from: a spy on the function
that builds the run's model keeps its parameters as built (before any step), and they must equal the
untrained model's; where a report shows a value of the untrained model (a loss on the first batch, the
starting image), the step-0 function gives that very value.
"""

import copy
import pickle
from collections import OrderedDict, defaultdict, deque

import pytest
import torch
from streamlit.testing.v1.element_tree import Block

from engine import (
    adversarial,
    autoencoder,
    data,
    distributed,
    half_precision,
    lstm,
    multitask,
    optimizers,
    regression,
    style_transfer,
    unet,
    vgg,
)
from ui import queue_times
from ui.i18n import translate
from ui.runner import Runner

DIGITS = data.load_digits()
SERIES = lstm.synthetic_series(lstm.SeriesConfig())
POINTS = regression.make_data(regression.DataConfig())


def _regression(c):
    return regression.train(c, POINTS), [regression.untrained(c, POINTS)]


def _adversarial(c):
    return adversarial.train(c, DIGITS), [adversarial.untrained(c)]


def _autoencoder(c):
    return autoencoder.train(c, DIGITS), [autoencoder.untrained(c)]


def _unet(c):
    return unet.train(c), [unet.untrained(c)]


def _multitask(c):
    return multitask.train(c, DIGITS), list(multitask.untrained(c).values())


def _forecast(c):
    return lstm.train_forecaster(c, SERIES), [lstm.untrained_forecaster(c)]


def _adding(c):
    return lstm.train_adding(c), list(lstm.untrained_adding(c).values())


def _rows(c):
    return lstm.train_rows(c, DIGITS), [lstm.untrained_rows(c)]


def _race(c):
    return half_precision.train_race(c, DIGITS), [half_precision.untrained(c)]


def _network(c):
    return optimizers.compare_on_network(c, DIGITS), [optimizers.untrained_network(c)]


# (engine module, the function in it that builds a run's model(s), a small config, run and untrained models)
BUILT = {
    "regression": (regression, "Regressor", regression.RegressionConfig(model="mlp", num_steps=3), _regression),
    "adversarial": (adversarial, "build", adversarial.AdversarialConfig(steps=2, eval_size=20, live_size=10),
                    _adversarial),
    "autoencoder": (autoencoder, "build", autoencoder.AutoencoderConfig(model="conv", steps=2), _autoencoder),
    "unet": (unet, "build_unet", unet.SegmentationConfig(steps=2, train_images=16, val_images=8), _unet),
    "multitask": (multitask, "build", multitask.MultitaskConfig(steps=2, width=32, live_size=50), _multitask),
    "lstm_forecast": (lstm, "new_model", lstm.ForecastConfig(steps=2, layers=2), _forecast),
    "lstm_race": (lstm, "new_model", lstm.AddingConfig(steps=2, length=20, test_size=20), _adding),
    "lstm_rows": (lstm, "new_model", lstm.RowsConfig(steps=2, pooling="attention", live_size=20), _rows),
    "half_precision": (half_precision, "build", half_precision.RaceConfig(modes=("fp32",), steps=2), _race),
    "optimizers": (optimizers, "build", optimizers.NetworkConfig(optimizers=("sgd", "adam"), steps=2), _network),
}


@pytest.mark.parametrize("name", BUILT)
def test_the_untrained_model_is_the_one_a_run_starts_from(monkeypatch, name):
    module, builder, config, start = BUILT[name]
    steps, untrained = start(config)          # the generator builds nothing until it is first advanced
    made, original = [], getattr(module, builder)

    def spy(*args, **kwargs):
        model = original(*args, **kwargs)
        made.append(copy.deepcopy(model.state_dict()))        # as built: before any step
        return model

    monkeypatch.setattr(module, builder, spy)
    next(steps)
    steps.close()
    assert len(made) == len(untrained), (len(made), len(untrained))
    for built, model in zip(made, untrained, strict=True):
        state = model.state_dict()
        assert built.keys() == state.keys()
        assert all(torch.equal(built[key].cpu(), state[key].cpu()) for key in built), name


def test_the_race_starts_at_each_modes_first_loss():
    config = half_precision.RaceConfig(modes=("fp32", "bf16", "fp16_scaler", "fp16_naive"), steps=2)
    start = half_precision.race_step_zero(config, DIGITS).extras["history"]
    steps = half_precision.train_race(config, DIGITS)
    first = next(steps).extras["history"]
    steps.close()
    for mode in config.modes:        # the loss of step 1 is the untrained model's, computed in each mode
        assert start[f"loss/{mode}"] == first[f"loss/{mode}"], mode
    assert start["step"] == [0] and start["scale/fp16_scaler"] == [2.0**16]


def test_every_optimizer_starts_at_the_networks_first_loss():
    config = optimizers.NetworkConfig(optimizers=("sgd", "rmsprop"), steps=2)
    start = optimizers.network_step_zero(config, DIGITS).extras["history"]
    steps = optimizers.compare_on_network(config, DIGITS)
    first = next(steps).extras["history"]
    steps.close()
    for name in config.optimizers:
        assert start[name]["loss"][0] == first[name]["loss"][0], name


def test_the_ranks_start_where_one_process_with_the_global_batch_starts():
    """DDP's ranks are processes of their own: their step-0 losses (each on its first batch, in this
    process) average to the single-process reference's first loss, the loss of the global batch."""
    config = distributed.DDPConfig(world_size=3, batch_size=16, steps=1)
    start = distributed.step_zero(config, DIGITS)
    _, losses = distributed.single_process(config)
    assert start.metrics["loss"] == pytest.approx(losses[0], rel=1e-6)
    shards = start.extras["shards"]
    assert sum(len(shard) for shard in shards.values()) == 3 * 16
    assert not set(shards[0]) & set(shards[1])                 # the ranks' batches never overlap


@pytest.mark.parametrize("init", ["content", "noise"])
def test_the_starting_image_is_the_first_image_a_run_shows(init):
    """With Adam every evaluation is a step, so the first report shows the image it evaluated first:
    the starting image (content, or noise from the run's own generator), whatever the coarse stages."""
    extractor = vgg.load_extractor(vgg.find_weights(user_file="", hub_dir="/nonexistent"))
    content, style = (torch.rand(3, 40, 56, generator=torch.Generator().manual_seed(k)) for k in (1, 2))
    config = style_transfer.StyleConfig(size=48, steps=2, coarse_steps=(1,), optimizer="adam", init=init,
                                        preserve_colors=True, seed=3)
    steps = style_transfer.transfer(config, extractor, content, style)
    first = next(steps)
    steps.close()
    assert torch.equal(style_transfer.starting_image(config, content), first.extras["image"])


STEP_ZERO = {                          # what each page caches per config (st.cache_data pickles it)
    "multitask": lambda: multitask.step_zero(multitask.MultitaskConfig(), DIGITS),
    "lstm_forecast": lambda: lstm.forecast_step_zero(lstm.ForecastConfig(), SERIES),
    "lstm_race": lambda: lstm.adding_step_zero(lstm.AddingConfig()),
    "lstm_rows": lambda: lstm.rows_step_zero(lstm.RowsConfig(), DIGITS),
    "regression": lambda: regression.step_zero(regression.RegressionConfig(), POINTS),
    "optimizers": lambda: optimizers.network_step_zero(optimizers.NetworkConfig(), DIGITS),
    "adversarial": lambda: adversarial.step_zero(adversarial.AdversarialConfig(), DIGITS),
    "unet": lambda: unet.step_zero(unet.SegmentationConfig()),
    "autoencoder": lambda: autoencoder.step_zero(autoencoder.AutoencoderConfig(), DIGITS),
    "half_precision": lambda: half_precision.race_step_zero(half_precision.RaceConfig(), DIGITS),
    "distributed": lambda: distributed.step_zero(distributed.DDPConfig(world_size=4), DIGITS),
}


@pytest.mark.parametrize("name", STEP_ZERO)
def test_a_cached_step_zero_holds_no_view_of_the_dataset(name):
    """A tensor pickles with its whole storage: a slice of the shared digits would put all 5,000 of
    them (16 MB) into every cache entry."""
    assert len(pickle.dumps(STEP_ZERO[name]())) < 500_000


# ------------------------------------------------------------------ the pages' first screens

# page, experiment key, (AppTest accessor, widget key, value): a setting that must change the picture
FIRST_SCREENS = [
    ("multitask", "multitask_train", ("selectbox", "multitask_architecture", "separate")),
    ("lstm", "lstm_forecast_train", ("slider", "lstm_window", 20)),
    ("regression", "regression_train", ("slider", "regression_degree", 2)),
    ("optimizers", "optimizers_network", ("multiselect", "optimizers_racers", ["sgd", "adam"])),
    ("adversarial", "adversarial_train", ("slider", "adversarial_epsilon", 0.1)),
    ("unet", "unet_train", ("slider", "unet_objects", 2)),
    ("autoencoder", "autoencoder_train", ("slider", "autoencoder_noise", 0.3)),
    ("half_precision", "half_precision_train", ("select_slider", "half_precision_hidden", 256)),
    ("distributed", "distributed_train", ("slider", "distributed_world", 1)),
    ("style_transfer", "style_transfer_run", ("radio", "style_transfer_init", "noise")),
]
PICTURES = {"plotly_chart", "image"}
DATA = PICTURES | {"dataframe", "metric"}          # what shows the data and the model's output


def preview_block(app_test, key: str) -> Block:
    """The container `experiment` draws step 0 in (`preview_<key>`)."""
    blocks = [app_test._tree]
    while blocks:
        block = blocks.pop()
        if getattr(getattr(block, "proto", None), "id", "").endswith(f"-preview_{key}"):
            return block
        blocks += [child for child in block.children.values() if isinstance(child, Block)]
    raise AssertionError(f"no step-0 picture for {key}")


def drawn(block: Block) -> list[tuple[str, bytes]]:
    """Every element inside `block`, as (type, its message): what the learner sees there."""
    found, blocks = [], [block]
    while blocks:
        for child in blocks.pop().children.values():
            if isinstance(child, Block):
                blocks.append(child)
            else:
                found.append((child.type, child.proto.SerializeToString()))
    return found


@pytest.mark.parametrize(("slug", "key", "setting"), FIRST_SCREENS, ids=[page for page, *_ in FIRST_SCREENS])
def test_the_first_screen_shows_step_zero_and_follows_the_settings(app, slug, key, setting):
    app_test = app(f"pages/{slug}.py", "zh" if FIRST_SCREENS.index((slug, key, setting)) % 2 else "en")
    assert not app_test.exception, [e.message for e in app_test.exception]
    before = drawn(preview_block(app_test, key))
    assert {kind for kind, _ in before} & PICTURES, before          # a chart or a picture of the data
    kind, widget, value = setting
    getattr(app_test, kind)(key=widget).set_value(value).run()
    assert not app_test.exception, [e.message for e in app_test.exception]
    after = drawn(preview_block(app_test, key))
    assert [m for k, m in after if k in DATA] != [m for k, m in before if k in DATA], widget


# ------------------------------------------------------------------ how long runs took here

def test_the_usual_time_is_a_median_of_this_servers_runs_with_these_settings_first():
    runner = Runner(workers=1)
    assert queue_times.usual(runner.durations, runner.settings_durations, "a", ("a", 1)) is None   # never a guess
    runner.durations["a"].extend([4.0, 2.0, 9.0])
    runner.durations["b"].append(100.0)                        # another experiment's runs never count
    assert runner.usual_duration("a", ("a", 1)) == (4.0, 3, False)
    for seconds in (2.5, 3.5):
        queue_times.remember(runner.settings_durations, ("a", 1), seconds)
    assert runner.usual_duration("a", ("a", 1)) == (3.0, 2, True)
    assert runner.usual_duration("a", ("a", 2)) == (4.0, 3, False)       # other settings: the experiment's
    assert runner.usual_duration("c", None) is None


def test_the_settings_remembered_are_bounded_and_the_most_recent_stay():
    kept: OrderedDict = OrderedDict()
    for key in range(5):
        queue_times.remember(kept, key, float(key), kept=3)
    queue_times.remember(kept, 2, 20.0, kept=3)                # used again: now the most recent
    queue_times.remember(kept, 5, 5.0, kept=3)
    assert list(kept) == [4, 2, 5] and list(kept[2]) == [2.0, 20.0]
    for _ in range(queue_times.RUNS_KEPT + 5):
        queue_times.remember(kept, 5, 1.0, kept=3)
    assert len(kept[5]) == queue_times.RUNS_KEPT


def test_beside_run_the_page_says_how_long_runs_took_here(app, monkeypatch):
    from ui import runner as jobs
    from ui.records import replay_key
    from ui.settings.regression import TRAIN

    server = jobs.runner()
    monkeypatch.setattr(server, "durations", defaultdict(lambda: deque(maxlen=20)))
    monkeypatch.setattr(server, "settings_durations", OrderedDict())
    app_test = app("pages/regression.py")
    took = [c.value for c in app_test.caption if "took" in c.value]
    assert not took, took                                     # nothing has finished: no number at all
    server.durations[TRAIN.key].extend([2.0, 6.0, 3.0])
    app_test.run()
    captions = [c.value for c in app_test.caption]
    assert translate("common.took_experiment", "en", time="3.0 s", count=3) in captions
    config, data_key = TRAIN.config()
    queue_times.remember(server.settings_durations, replay_key(TRAIN.key, config, data_key), 12.4)
    app_test.radio(key="lang").set_value("zh").run()
    assert translate("common.took_settings_one", "zh", time="12 秒", count=1) in [c.value for c in app_test.caption]
    app_test.slider(key="regression_degree").set_value(3).run()          # other settings: the experiment's runs
    assert translate("common.took_experiment", "zh", time="3.0 秒", count=3) in [c.value for c in app_test.caption]

