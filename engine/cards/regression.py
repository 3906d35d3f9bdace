"""Page 63's cards and challenge: overfitting, outliers, feature scaling, optimizers against least squares."""

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from engine import regression
from engine.cards import Card, Challenge, exceeds, falls, rises, to_the_end
from engine.training import TrainingStep

EXPERIMENT = "regression_train"
DEFAULTS = {
    "regression_source": "generated", "regression_function": "sine", "regression_noise": 0.5,
    "regression_train_share": 0.75, "regression_points": 200, "regression_outliers": 0.0, "regression_seed": 0,
    "regression_model": "polynomial", "regression_degree": 5, "regression_width": 32, "regression_layers": 2,
    "regression_learning_rate": 0.05, "regression_loss": "mse", "regression_huber_delta": 1.0,
    "regression_optimizer": "adam", "regression_steps": 800, "regression_normalize": True,
}


def config(settings: Mapping[str, Any]) -> tuple[regression.RegressionConfig, regression.DataConfig]:
    """What the page passes its experiment for these settings (missing ones at their defaults): the
    model's config and, as the run's data key, the data's config."""
    s = {**DEFAULTS, **settings}
    data = regression.DataConfig(function=s["regression_function"], noise=s["regression_noise"],
                                 num_points=s["regression_points"], outlier_share=s["regression_outliers"],
                                 train_share=s["regression_train_share"], seed=s["regression_seed"])
    model = s["regression_model"]
    loss = s["regression_loss"]
    return regression.RegressionConfig(
        model=model, degree=s["regression_degree"] if model == "polynomial" else 1,
        hidden_width=s["regression_width"] if model == "mlp" else 32,
        hidden_layers=s["regression_layers"] if model == "mlp" else 2,
        loss=loss, huber_delta=s["regression_huber_delta"] if loss == "huber" else 1.0,
        optimizer=s["regression_optimizer"], learning_rate=s["regression_learning_rate"],
        num_steps=s["regression_steps"], normalize=s["regression_normalize"]), data


def run(settings: Mapping[str, Any], seed: int = 0) -> TrainingStep:
    """The page's run at `settings`; `seed` draws the data (and the initial weights) anew."""
    model_config, data_config = config(settings)
    data = regression.make_data(replace(data_config, seed=data_config.seed + seed))
    return to_the_end(regression.train(replace(model_config, seed=seed, device="cpu"), data))


def measure(step: TrainingStep) -> dict[str, float]:
    fit = step.extras["least_squares"]
    measures = {"train": step.metrics["train_mse"], "test": step.metrics["test_mse"],
                "diverged": float(step.extras["diverged"]), "steps": float(step.step)}
    if fit is not None:
        measures |= {"ls_train": fit.train_mse, "ls_test": fit.test_mse,
                     "gap": 100 * (step.metrics["train_mse"] / max(fit.train_mse, 1e-12) - 1)}
    return measures


def _overfit(runs: list[dict]) -> str:
    low, high = runs[0]["ls_test"], runs[1]["ls_test"]
    if rises(high, low, 0.05):
        return "rise"
    return "fall" if falls(high, low, 0.05) else "same"


def _outliers(runs: list[dict]) -> str:
    squared, absolute = runs[0]["test"], runs[1]["test"]
    if falls(absolute, squared, 1.0):
        return "much_lower"
    return "higher" if rises(absolute, squared, 0.1) else "similar"


def _scaling(runs: list[dict]) -> str:
    run = runs[0]
    if run["diverged"]:
        return "diverge"
    return "slow" if exceeds(run["gap"], 1) else "close"


def _momentum(runs: list[dict]) -> str:
    plain, heavy = (not exceeds(run["gap"], 1) for run in runs)
    return {(True, True): "both", (False, True): "momentum", (True, False): "plain", (False, False): "neither"}[
        (plain, heavy)]


OVERFIT_DATA = {"regression_points": 40, "regression_steps": 3000}
OUTLIER_DATA = {"regression_function": "linear", "regression_outliers": 0.15, "regression_model": "linear"}
CARDS = (
    Card("overfit", ({**OVERFIT_DATA, "regression_degree": 7}, {**OVERFIT_DATA, "regression_degree": 15}),
         ("fall", "same", "rise"), "rise", measure, _overfit),
    Card("outliers", ({**OUTLIER_DATA, "regression_loss": "mse"}, {**OUTLIER_DATA, "regression_loss": "mae"}),
         ("much_lower", "similar", "higher"), "much_lower", measure, _outliers),
    Card("scaling", ({"regression_function": "quadratic", "regression_degree": 2, "regression_optimizer": "sgd",
                      "regression_normalize": False, "regression_learning_rate": 0.001},),
         ("close", "slow", "diverge"), "diverge", measure, _scaling),
    Card("momentum", ({"regression_optimizer": "sgd"}, {"regression_optimizer": "momentum"}),
         ("neither", "plain", "momentum", "both"), "momentum", measure, _momentum),
)


def _challenge(measures: dict, settings: Mapping[str, Any]) -> bool:
    return (settings.get("regression_model") == "polynomial" and settings.get("regression_degree", 0) >= 10
            and settings.get("regression_function") == "sine" and settings.get("regression_points") == 200
            and settings.get("regression_noise") == 0.5 and settings.get("regression_source") == "generated"
            and settings.get("regression_outliers") == 0.0 and measures["test"] <= CHALLENGE_BOUND)


CHALLENGE_BOUND = 0.35
CHALLENGE = Challenge(measure, _challenge, {"regression_degree": 10, "regression_steps": 3000})
