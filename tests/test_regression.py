"""Regression engine: gradient descent against the closed form, normalisation, robust losses."""

import math

import numpy as np
import pytest
import torch

from engine import regression
from engine.errors import InputError


def run(config: regression.RegressionConfig, data: regression.RegressionData):
    *_, last = regression.train(config, data)
    return last


def steps_to_reach(config, data, target: float) -> float:
    """First step whose training MSE is at or below `target` (inf if never)."""
    for step in regression.train(config, data):
        history = step.extras["history"]
        for number, mse in zip(history["step"], history["train_mse"], strict=True):
            if mse <= target:
                return number
    return math.inf


def test_default_run_learns_the_sine():
    data = regression.make_data(regression.DataConfig())
    config = regression.RegressionConfig()
    last = run(config, data)
    history = last.extras["history"]
    assert last.finished and not last.extras["diverged"]
    assert last.metrics["train_mse"] < history["train_mse"][0] / 5
    assert last.metrics["test_mse"] < 1.0                     # noise variance is 0.25
    assert len(last.extras["grid_y"]) == config.grid_points


def test_least_squares_matches_numpy_polyfit():
    data = regression.make_data(regression.DataConfig(function="sine", num_points=120))
    config = regression.RegressionConfig(degree=4)
    fit = regression.least_squares(config, data)
    x, y = data.x_train[:, 0].double().numpy(), data.y_train[:, 0].double().numpy()
    coefficients = np.polyfit(x, y, 4)
    reference_mse = float(np.mean((np.polyval(coefficients, x) - y) ** 2))
    assert fit.train_mse == pytest.approx(reference_mse, rel=1e-8)
    assert np.allclose(fit.grid_y.numpy(), np.polyval(coefficients, fit.grid_x.numpy()), atol=1e-4)


@pytest.mark.parametrize("optimizer", ["adam", "momentum"])
def test_gradient_descent_reaches_the_closed_form_within_2_percent(optimizer):
    data = regression.make_data(regression.DataConfig(function="quadratic", num_points=200))
    config = regression.RegressionConfig(degree=3, optimizer=optimizer, learning_rate=0.05, num_steps=1500)
    last = run(config, data)
    best = regression.least_squares(config, data).train_mse
    assert best <= last.metrics["train_mse"] <= 1.02 * best


def test_normalised_features_converge_in_fewer_steps_than_raw_ones():
    """Each variant gets its best learning rate from a grid; raw powers of x in [0, 10] are so
    ill-conditioned that no stable rate gets close within the budget."""
    data = regression.make_data(regression.DataConfig(function="quadratic"))

    def best_steps(normalize: bool, rates: list[float]) -> float:
        configs = [regression.RegressionConfig(degree=2, optimizer="sgd", learning_rate=rate, normalize=normalize,
                                               num_steps=1500, eval_every=1) for rate in rates]
        target = 1.05 * regression.least_squares(configs[0], data).train_mse
        return min(steps_to_reach(config, data, target) for config in configs)

    normalised = best_steps(True, [0.01, 0.1, 0.3])
    raw = best_steps(False, [1e-5, 1e-4, 1e-3])
    assert normalised < 100 and normalised < raw


def test_raw_features_with_a_large_rate_diverge_and_stop():
    data = regression.make_data(regression.DataConfig(function="quadratic"))
    config = regression.RegressionConfig(degree=3, optimizer="sgd", learning_rate=0.05, normalize=False,
                                         num_steps=500)
    last = run(config, data)
    assert last.extras["diverged"] and last.step < config.num_steps


def test_robust_losses_are_pulled_less_by_outliers():
    data = regression.make_data(regression.DataConfig(function="linear", outlier_share=0.15))
    assert data.outliers.sum() == round(0.15 * len(data.x_train))
    test_mse = {loss: run(regression.RegressionConfig(model="linear", loss=loss, num_steps=1500), data)
                .metrics["test_mse"] for loss in ("mse", "mae", "huber")}
    # The test points are clean, so test MSE measures how far the outliers dragged the line.
    assert test_mse["mae"] < 0.25 * test_mse["mse"]
    assert test_mse["huber"] < 0.5 * test_mse["mse"]


def test_higher_degree_overfits_small_data():
    data = regression.make_data(regression.DataConfig(function="sine", num_points=40, noise=0.5))
    fits = {d: regression.least_squares(regression.RegressionConfig(degree=d), data) for d in (3, 7, 15)}
    assert fits[15].train_mse < fits[7].train_mse < fits[3].train_mse     # nested models
    assert fits[15].test_mse > fits[7].test_mse


def test_mlp_fits_the_sine_and_has_no_closed_form():
    data = regression.make_data(regression.DataConfig(function="sine"))
    config = regression.RegressionConfig(model="mlp", learning_rate=0.01, num_steps=1500)
    assert regression.least_squares(config, data) is None
    assert run(config, data).metrics["test_mse"] < 0.6


def test_predict_uses_the_trained_model():
    data = regression.make_data(regression.DataConfig(function="linear", noise=0.0))
    last = run(regression.RegressionConfig(model="linear", num_steps=600), data)
    assert regression.predict(last.extras["model"], [0.0, 4.0]) == pytest.approx([2.0, 8.0], abs=0.02)


def test_user_arrays_are_split_and_checked():
    x = np.linspace(0, 1, 50)
    data = regression.from_arrays(x, 3 * x, train_share=0.8)
    assert len(data.x_train) == 40 and len(data.x_test) == 10 and data.x_train.dtype == torch.float32
    with pytest.raises(InputError, match="too_few_points"):
        regression.from_arrays([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], 0.5)
