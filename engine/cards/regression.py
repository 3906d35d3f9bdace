"""Page 63's cards and challenge: overfitting, outliers, feature scaling, optimizers against least squares."""

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from engine import regression
from engine.cards import Card, Challenge, exceeds, falls, rises, to_the_end
from engine.training import TrainingStep


def steps(built: tuple[regression.RegressionConfig, regression.DataConfig], seed: int = 0) -> Iterator[TrainingStep]:
    """The page's training of (model config, data config) on the CPU; `seed` draws the data (and the
    initial weights) anew."""
    model_config, data_config = built
    data = regression.make_data(replace(data_config, seed=data_config.seed + seed))
    return regression.train(replace(model_config, seed=seed, device="cpu"), data)


def run(built: tuple[regression.RegressionConfig, regression.DataConfig], seed: int = 0) -> TrainingStep:
    return to_the_end(steps(built, seed))


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


OVERFIT_DATA = {"points": 40, "steps": 3000}
OUTLIER_DATA = {"function": "linear", "outliers": 0.15, "model": "linear"}
CARDS = (
    Card("overfit", ({**OVERFIT_DATA, "degree": 7}, {**OVERFIT_DATA, "degree": 15}),
         ("fall", "same", "rise"), "rise", measure, _overfit),
    Card("outliers", ({**OUTLIER_DATA, "loss": "mse"}, {**OUTLIER_DATA, "loss": "mae"}),
         ("much_lower", "similar", "higher"), "much_lower", measure, _outliers),
    Card("scaling", ({"function": "quadratic", "degree": 2, "optimizer": "sgd",
                      "normalize": False, "learning_rate": 0.001},),
         ("close", "slow", "diverge"), "diverge", measure, _scaling),
    Card("momentum", ({"optimizer": "sgd"}, {"optimizer": "momentum"}),
         ("neither", "plain", "momentum", "both"), "momentum", measure, _momentum),
)


def _challenge(measures: dict, settings: Mapping[str, Any]) -> bool:
    return (settings.get("model") == "polynomial" and settings.get("degree", 0) >= 10
            and settings.get("function") == "sine" and settings.get("points") == 200
            and settings.get("noise") == 0.5 and settings.get("source") == "generated"
            and settings.get("outliers") == 0.0 and measures["test"] <= CHALLENGE_BOUND)


CHALLENGE_BOUND = 0.35
CHALLENGE = Challenge(measure, _challenge, {"degree": 10, "steps": 3000})
