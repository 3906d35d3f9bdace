"""Page 62's settings: the demo selector, then one experiment per demo that trains (the forecast
`lstm_forecast_train`, the long-memory race `lstm_race_train`, digits row by row `lstm_rows_train`).

The selector is a setting of all three experiments, declared once (`DEMO`): a card of the race or
the rows names its demo, so that "Open in the experiment" opens the demo whose experiment it runs,
and the challenge's hint names the demo when its solution is another demo's. The fourth demo
("inside") trains nothing.
"""

from typing import Any

from engine import lstm
from ui.settings import Experiment, Setting

LEARNING_RATES = (1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2)
STEPS_CAP = 1000            # hosted mode: the largest number of training steps of each demo

DEMO = Setting("demo", "radio", "forecast", options=("forecast", "race", "rows", "inside"), choices="lstm.demo_",
               arguments={"horizontal": True})


def _steps(name: str, default: int) -> Setting:
    return Setting(name, "slider", default, 50, 3000, 50, cap=STEPS_CAP, label="lstm.steps")


def build_forecast(s: dict[str, Any]) -> tuple[lstm.ForecastConfig, lstm.SeriesConfig]:
    """The forecaster's config and, as the run's data key, the synthetic series' config (a page
    forecasting an uploaded CSV column keys its run by the file instead)."""
    series = lstm.SeriesConfig(length=s["length"], sine_amplitude=s["sine"], second_amplitude=s["second"],
                               trend=s["trend"], season_amplitude=s["season"], noise=s["noise"])
    return lstm.ForecastConfig(window=s["window"], hidden=s["forecast_hidden"], layers=s["forecast_layers"],
                               bidirectional=s["forecast_bidirectional"], relative=s["relative"],
                               steps=s["forecast_steps"], learning_rate=s["forecast_learning_rate"]), series


def build_race(s: dict[str, Any]) -> tuple[lstm.AddingConfig, None]:
    """The race's config; it makes its own sequences, so no data key."""
    return lstm.AddingConfig(length=s["race_length"], cells=tuple(c for c in lstm.CELLS if c in s["cells"]),
                             hidden=s["race_hidden"], steps=s["race_steps"],
                             learning_rate=s["race_learning_rate"]), None


def build_rows(s: dict[str, Any]) -> tuple[lstm.RowsConfig, str]:
    """The digit reader's config and its data, the bundled digits."""
    return lstm.RowsConfig(hidden=s["rows_hidden"], layers=s["rows_layers"], bidirectional=s["rows_bidirectional"],
                           pooling=s["pooling"], steps=s["rows_steps"],
                           learning_rate=s["rows_learning_rate"]), "subset"


FORECAST = Experiment("lstm_forecast_train", "lstm", (
    DEMO,
    Setting("source", "radio", "synthetic", options=("synthetic", "csv"), choices="lstm.source_",
            arguments={"horizontal": True}),
    Setting("length", "slider", 600, 200, 2000, 50, cap=1000),
    Setting("sine", "slider", 1.0, 0.0, 2.0, 0.1, label="lstm.sine_amplitude"),
    Setting("second", "slider", 0.5, 0.0, 2.0, 0.1, label="lstm.second_amplitude"),
    Setting("trend", "slider", 1.0, -3.0, 3.0, 0.1),
    Setting("season", "slider", 0.8, 0.0, 2.0, 0.1, label="lstm.season_amplitude"),
    Setting("noise", "slider", 0.1, 0.0, 1.0, 0.05),
    Setting("window", "slider", 40, 5, 100),
    Setting("relative", "toggle", True),
    _steps("forecast_steps", 600),
    Setting("forecast_hidden", "select_slider", 32, options=(8, 16, 32, 64, 128), label="lstm.hidden"),
    Setting("forecast_layers", "slider", 1, 1, 3, label="lstm.layers"),
    Setting("forecast_bidirectional", "toggle", False, label="lstm.bidirectional"),
    Setting("forecast_learning_rate", "select_slider", 5e-3, options=LEARNING_RATES, label="lstm.learning_rate"),
), build_forecast)

RACE = Experiment("lstm_race_train", "lstm", (
    DEMO,
    Setting("cells", "multiselect", tuple(lstm.CELLS), options=tuple(lstm.CELLS), choices="lstm.cell_"),
    Setting("race_length", "slider", 50, 10, 200, 10),
    Setting("race_hidden", "select_slider", 32, options=(16, 32, 64, 128), label="lstm.hidden"),
    _steps("race_steps", 600),
    Setting("race_learning_rate", "select_slider", 2e-2, options=LEARNING_RATES, label="lstm.learning_rate"),
), build_race, name="race")

ROWS = Experiment("lstm_rows_train", "lstm", (
    DEMO,
    Setting("rows_hidden", "select_slider", 64, options=(16, 32, 64, 128), label="lstm.hidden"),
    Setting("rows_layers", "slider", 1, 1, 3, label="lstm.layers"),
    Setting("rows_bidirectional", "toggle", False, label="lstm.bidirectional"),
    Setting("pooling", "radio", "last", options=("last", "attention"), choices="lstm.pooling_"),
    _steps("rows_steps", 500),
    Setting("rows_learning_rate", "select_slider", 5e-3, options=LEARNING_RATES, label="lstm.learning_rate"),
), build_rows, name="rows")

EXPERIMENTS = (FORECAST, RACE, ROWS)
TRAINED = {"forecast": FORECAST, "race": RACE, "rows": ROWS}     # a demo -> the experiment it trains
