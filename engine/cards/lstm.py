"""Page 62's cards and challenge: carrying a series out of its training range, an LSTM against a
linear autoregression, the long-memory race, digits read row by row."""

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from engine import data as digits
from engine import lstm
from engine.cards import Card, Challenge, exceeds, falls, smallest, to_the_end
from engine.training import TrainingStep

EXPERIMENT = "lstm_forecast_train"
RACE, ROWS = "lstm_race_train", "lstm_rows_train"
DEFAULTS = {
    "lstm_demo": "forecast",
    "lstm_source": "synthetic", "lstm_length": 600, "lstm_sine": 1.0, "lstm_second": 0.5, "lstm_trend": 1.0,
    "lstm_season": 0.8, "lstm_noise": 0.1, "lstm_window": 40, "lstm_relative": True, "lstm_forecast_steps": 600,
    "lstm_forecast_hidden": 32, "lstm_forecast_layers": 1, "lstm_forecast_bidirectional": False,
    "lstm_forecast_learning_rate": 5e-3,
    "lstm_cells": ["rnn", "gru", "lstm"], "lstm_race_length": 50, "lstm_race_hidden": 32, "lstm_race_steps": 600,
    "lstm_race_learning_rate": 2e-2,
    "lstm_rows_hidden": 64, "lstm_rows_layers": 1, "lstm_rows_bidirectional": False, "lstm_pooling": "last",
    "lstm_rows_steps": 500, "lstm_rows_learning_rate": 5e-3,
}


def config(settings: Mapping[str, Any]) -> tuple[Any, Any]:
    """What the page passes the chosen demo's experiment for these settings (missing ones at their
    defaults): the config and the data key (the synthetic series' config, none for the race, the
    bundled digits' source for the rows)."""
    s = {**DEFAULTS, **settings}
    if s["lstm_demo"] == "race":
        return lstm.AddingConfig(length=s["lstm_race_length"],
                                 cells=tuple(c for c in lstm.CELLS if c in s["lstm_cells"]),
                                 hidden=s["lstm_race_hidden"], steps=s["lstm_race_steps"],
                                 learning_rate=s["lstm_race_learning_rate"]), None
    if s["lstm_demo"] == "rows":
        return lstm.RowsConfig(hidden=s["lstm_rows_hidden"], layers=s["lstm_rows_layers"],
                               bidirectional=s["lstm_rows_bidirectional"], pooling=s["lstm_pooling"],
                               steps=s["lstm_rows_steps"], learning_rate=s["lstm_rows_learning_rate"]), "subset"
    series = lstm.SeriesConfig(length=s["lstm_length"], sine_amplitude=s["lstm_sine"],
                               second_amplitude=s["lstm_second"], trend=s["lstm_trend"],
                               season_amplitude=s["lstm_season"], noise=s["lstm_noise"])
    return lstm.ForecastConfig(window=s["lstm_window"], hidden=s["lstm_forecast_hidden"],
                               layers=s["lstm_forecast_layers"], bidirectional=s["lstm_forecast_bidirectional"],
                               relative=s["lstm_relative"], steps=s["lstm_forecast_steps"],
                               learning_rate=s["lstm_forecast_learning_rate"]), series


def run(settings: Mapping[str, Any], seed: int = 0) -> TrainingStep:
    """The chosen demo's run at `settings`; `seed` draws the initial weights and the batches (and the
    series' noise, or the race's held-out sequences)."""
    model_config, data_key = config(settings)
    model_config = replace(model_config, seed=seed, device="cpu")
    if isinstance(model_config, lstm.AddingConfig):
        return to_the_end(lstm.train_adding(model_config))
    if isinstance(model_config, lstm.RowsConfig):
        return to_the_end(lstm.train_rows(model_config, digits.load_digits()))
    values = lstm.synthetic_series(replace(data_key, seed=data_key.seed + seed))
    return to_the_end(lstm.train_forecaster(model_config, values))


def measure_forecast(step: TrainingStep) -> dict[str, float]:
    return {"one_step": step.metrics["one_step_rmse"], "recursive": step.metrics["recursive_rmse"],
            "naive": step.metrics["naive_rmse"], "linear": step.metrics["linear_rmse"], "steps": float(step.step)}


def measure_rows(step: TrainingStep) -> dict[str, float]:
    """The digit reader's held-out accuracy (0 for a run of another demo, which reads no digits)."""
    return {"accuracy": step.metrics.get("accuracy", 0.0), "steps": float(step.step),
            "parameters": float(step.extras.get("parameters", 0))}


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


QUICK = {"lstm_demo": "forecast", "lstm_forecast_steps": 200}
CLIMB = {**QUICK, "lstm_trend": 3.0, "lstm_sine": 0.5, "lstm_second": 0.0, "lstm_season": 0.0}
ROWS_QUICK = {"lstm_demo": "rows", "lstm_rows_steps": 100}
CARDS = (
    Card("linear", (QUICK,), ("lstm", "linear", "naive"), "linear", measure_forecast, _best),
    Card("climb", ({**CLIMB, "lstm_relative": False}, {**CLIMB, "lstm_relative": True}),
         ("neither", "absolute", "relative", "both"), "relative", measure_forecast, _climb),
    Card("pooling", ({**ROWS_QUICK, "lstm_pooling": "last"}, {**ROWS_QUICK, "lstm_pooling": "attention"}),
         ("rise", "same", "fall"), "same", measure_rows, _pooling, experiment=ROWS),
)

CHALLENGE_STEPS = 200
CHALLENGE_BOUND = 0.90


def _challenge(measures: dict, settings: Mapping[str, Any]) -> bool:
    return (settings.get("lstm_demo") == "rows" and settings.get("lstm_rows_steps", 0) <= CHALLENGE_STEPS
            and measures.get("accuracy", 0.0) >= CHALLENGE_BOUND)


# One solution: 0.919 with one thread, 0.923 with two (without attention 0.915 and 0.893: too close)
CHALLENGE = Challenge(measure_rows, _challenge, {"lstm_demo": "rows", "lstm_rows_steps": 200,
                                                 "lstm_rows_learning_rate": 1e-2, "lstm_pooling": "attention"},
                      experiment=ROWS)
