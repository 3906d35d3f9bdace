"""A run depends only on its own settings, on every page: two runs with different settings, trained at
the same time in two threads of one process (as Streamlit trains two learners' runs), give exactly
what each gives alone, a repeat gives the same, and neither draws from torch's global generator
(`tests/concurrency.py`). Each page's pair is small: this checks ownership of randomness, not learning."""

from collections.abc import Callable
from dataclasses import replace

import pytest
import torch

from engine import adversarial, autoencoder, data, distributed, lstm, multitask, optimizers, regression, unet
from engine import half_precision as hp
from tests.concurrency import assert_runs_independent

Metrics = Callable[[], dict[str, float]]


def final(steps) -> dict[str, float]:
    *_, last = steps
    return last.metrics


def few_digits() -> data.ImageSplit:
    digits = data.load_digits()
    return data.ImageSplit(digits.train_x[:512], digits.train_y[:512], digits.test_x[:100], digits.test_y[:100],
                           digits.source)


def _multitask(digits) -> tuple[Metrics, Metrics]:
    small = multitask.MultitaskConfig(steps=12, live_size=100, width=32, tasks=("digit", "ink"))
    other = multitask.MultitaskConfig(steps=10, live_size=100, width=32, weighting="uncertainty",
                                      architecture="towers", seed=3)
    return lambda: final(multitask.train(small, digits)), lambda: final(multitask.train(other, digits))


def _lstm(experiment: str):
    def pair(digits) -> tuple[Metrics, Metrics]:
        series = lstm.synthetic_series(lstm.SeriesConfig(length=300))
        config, start = {
            "forecast": (lstm.ForecastConfig(window=10, hidden=8, steps=12, batch_size=32),
                         lambda c: lstm.train_forecaster(c, series)),
            "adding": (lstm.AddingConfig(length=12, cells=("rnn", "lstm"), hidden=8, steps=12, batch_size=32,
                                         test_size=64), lstm.train_adding),
            "rows": (lstm.RowsConfig(hidden=8, steps=8, batch_size=32, live_size=50),
                     lambda c: lstm.train_rows(c, few_digits())),
        }[experiment]
        other = replace(config, seed=1, learning_rate=2 * config.learning_rate)
        return lambda: final(start(config)), lambda: final(start(other))
    return pair


def _regression(digits) -> tuple[Metrics, Metrics]:
    points = regression.make_data(regression.DataConfig(num_points=60))
    config = regression.RegressionConfig(model="mlp", hidden_width=8, num_steps=40)
    return (lambda: final(regression.train(config, points)),
            lambda: final(regression.train(replace(config, seed=1), points)))


def _optimizers(digits) -> tuple[Metrics, Metrics]:
    def compare(config: optimizers.NetworkConfig) -> Metrics:
        def metrics() -> dict[str, float]:
            *_, last = optimizers.compare_on_network(config, digits)
            return last.metrics | {f"{n}_loss": h["loss"][-1] for n, h in last.extras["history"].items()}
        return metrics

    return (compare(optimizers.NetworkConfig(optimizers=("sgd", "adam"), hidden=16, steps=15)),
            compare(optimizers.NetworkConfig(optimizers=("momentum", "adam"), hidden=16, steps=15, seed=1)))


def _adversarial(digits) -> tuple[Metrics, Metrics]:
    """The random starts of the training attacks (FGSM-RS, PGD) and of the curves' PGD, the initial
    weights and the batch order."""
    small = adversarial.AdversarialConfig(steps=4, batch_size=32, eval_size=20, eval_pgd_steps=2)
    other = replace(small, defence="pgd", pgd_steps=2, seed=1)
    return lambda: final(adversarial.train(small, digits)), lambda: final(adversarial.train(other, digits))


def _unet(task: str):
    def pair(digits) -> tuple[Metrics, Metrics]:
        if task == "segment":          # initialisation, the shapes drawn and the batch order
            tiny = unet.SegmentationConfig(shapes=unet.ShapesConfig(size=32, objects=2), depth=2, base=4, steps=6,
                                           batch_size=4, train_images=16, val_images=4, shown=2)
            return lambda: final(unet.train(tiny)), lambda: final(unet.train(replace(tiny, seed=1, skips=False)))
        clean = torch.rand(1, 24, 24, generator=torch.Generator().manual_seed(0))      # the denoiser's noise
        small = unet.DenoiseConfig(steps=4, patch=16, batch_size=2, depth=1, base=4)
        return (lambda: final(unet.denoise(small, clean)),
                lambda: final(unet.denoise(replace(small, seed=1, sigma=0.3), clean)))
    return pair


def _autoencoder(digits) -> tuple[Metrics, Metrics]:
    """Initial weights, batch order, the denoising noise and the VAE's sampling noise."""
    small = autoencoder.AutoencoderConfig(model="mlp", latent=4, hidden=64, variational=True, noise=0.2, steps=20)
    other = replace(small, model="conv", beta=0.3, seed=1)
    return lambda: final(autoencoder.train(small, digits)), lambda: final(autoencoder.train(other, digits))


def _half_precision(digits) -> tuple[Metrics, Metrics]:
    first = hp.RaceConfig(modes=("fp32", "bf16"), hidden=32, steps=12, live_size=100)
    second = hp.RaceConfig(modes=("fp32", "fp16_scaler"), hidden=48, steps=10, live_size=100, seed=1)
    return lambda: final(hp.train_race(first, digits)), lambda: final(hp.train_race(second, digits))


def _distributed(digits) -> tuple[Metrics, Metrics]:
    """The single-process reference (the worker processes are tested in tests/test_distributed.py)."""
    def loss(config: distributed.DDPConfig) -> Metrics:
        return lambda: {"loss": distributed.single_process(config)[1][-1]}

    return (loss(distributed.DDPConfig(world_size=2, batch_size=8, steps=6)),
            loss(distributed.DDPConfig(world_size=3, batch_size=8, steps=5, seed=1)))


def _style_transfer(digits) -> tuple[Metrics, Metrics]:
    """The noise start comes from the run's own generator."""
    from engine import artwork, style_transfer, vgg

    extractor = vgg.load_extractor(vgg.find_weights(user_file="", hub_dir="/nonexistent"))
    content, style = torch.rand(3, 40, 40, generator=torch.Generator().manual_seed(5)), artwork.make("swirls", 48)

    def run(**settings) -> Metrics:
        config = style_transfer.StyleConfig(size=32, steps=3, coarse_steps=(), fast_math=False, init="noise",
                                            **settings)
        return lambda: final(style_transfer.transfer(config, extractor, content, style))

    return run(seed=0), run(seed=1, optimizer="adam")


PAIRS = {
    "multitask": _multitask, "lstm-forecast": _lstm("forecast"), "lstm-adding": _lstm("adding"),
    "lstm-rows": _lstm("rows"), "regression": _regression, "optimizers": _optimizers, "adversarial": _adversarial,
    "unet-segment": _unet("segment"), "unet-denoise": _unet("denoise"), "autoencoder": _autoencoder,
    "half_precision": _half_precision, "distributed": _distributed, "style_transfer": _style_transfer,
}


@pytest.fixture(scope="module")
def digits() -> data.ImageSplit:
    return data.load_digits()


@pytest.mark.parametrize("name", PAIRS)
def test_two_runs_at_once_give_what_each_gives_alone(name, digits):
    assert_runs_independent(*PAIRS[name](digits))
