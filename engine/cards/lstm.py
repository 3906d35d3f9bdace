"""Page 62's cards and challenge: carrying a series out of its training range, an LSTM against a
linear autoregression, the long-memory race, digits read row by row."""

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from engine import data as digits
from engine import lstm
from engine.cards import Card, Challenge, exceeds, falls, smallest, to_the_end
from engine.training import TrainingStep


def steps(built: tuple[Any, Any], seed: int = 0) -> Iterator[TrainingStep]:
    """The training of `built` (config, data key) on the CPU for whichever demo its config belongs
    to: the forecast (data key: the synthetic series' config), the race (none) or the rows (the
    bundled digits). `seed` draws the initial weights and the batches (and the series' noise, or
    the race's held-out sequences)."""
    model_config, data_key = built
    model_config = replace(model_config, seed=seed, device="cpu")
    if isinstance(model_config, lstm.AddingConfig):
        return lstm.train_adding(model_config)
    if isinstance(model_config, lstm.RowsConfig):
        return lstm.train_rows(model_config, digits.load_digits())
    values = lstm.synthetic_series(replace(data_key, seed=data_key.seed + seed))
    return lstm.train_forecaster(model_config, values)


def run(built: tuple[Any, Any], seed: int = 0) -> TrainingStep:
    return to_the_end(steps(built, seed))


def measure_forecast(step: TrainingStep) -> dict[str, float]:
    return {"one_step": step.metrics["one_step_rmse"], "recursive": step.metrics["recursive_rmse"],
            "naive": step.metrics["naive_rmse"], "linear": step.metrics["linear_rmse"], "steps": float(step.step)}


def measure_rows(step: TrainingStep) -> dict[str, float]:
    """The digit reader's held-out accuracy, its steps and its size."""
    return {"accuracy": step.metrics["accuracy"], "steps": float(step.step),
            "parameters": float(step.extras["parameters"])}


LEAD = 0.1           # a forecast "beats" another when its RMSE is lower by more than this fraction


def _best(runs: list[dict]) -> str:
    run = runs[0]
    return smallest({name: run["one_step" if name == "lstm" else name] for name in ("lstm", "linear", "naive")}, LEAD)


def _climb(runs: list[dict]) -> str:
    absolute, relative = (falls(run["one_step"], run["naive"], LEAD) for run in runs)
    return {(False, False): "neither", (True, False): "absolute", (False, True): "relative", (True, True): "both"}[
        (absolute, relative)]


def _pooling(runs: list[dict]) -> str:
    change = runs[1]["accuracy"] - runs[0]["accuracy"]
    if not exceeds(abs(change), 0.10):
        return "same"
    return "rise" if change > 0 else "fall"


QUICK = {"demo": "forecast", "forecast_steps": 200}
CLIMB = {**QUICK, "trend": 3.0, "sine": 0.5, "second": 0.0, "season": 0.0}
ROWS_QUICK = {"demo": "rows", "rows_steps": 100}
CARDS = (
    Card("linear", (QUICK,), ("lstm", "linear", "naive"), "linear", measure_forecast, _best),
    Card("climb", ({**CLIMB, "relative": False}, {**CLIMB, "relative": True}),
         ("neither", "absolute", "relative", "both"), "relative", measure_forecast, _climb),
    Card("pooling", ({**ROWS_QUICK, "pooling": "last"}, {**ROWS_QUICK, "pooling": "attention"}),
         ("rise", "same", "fall"), "same", measure_rows, _pooling, experiment="rows"),
)

CHALLENGE_STEPS = 200
CHALLENGE_BOUND = 0.90


def _challenge(measures: dict, settings: Mapping[str, Any]) -> bool:
    return (settings.get("demo") == "rows" and settings.get("rows_steps", 0) <= CHALLENGE_STEPS
            and measures["accuracy"] >= CHALLENGE_BOUND)


# One solution: 0.919 with one thread, 0.923 with two (without attention 0.915 and 0.893: too close)
CHALLENGE = Challenge(measure_rows, _challenge, {"demo": "rows", "rows_steps": 200, "rows_learning_rate": 1e-2,
                                                 "pooling": "attention"}, experiment="rows")
