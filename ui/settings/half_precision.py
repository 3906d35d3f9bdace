"""Page 68's settings: the training race of fp32, bf16 and the fp16 modes (`half_precision_train`).

The modes offered are those this server's device runs (the page narrows the options to them); the
declaration lists every mode, with the race's own defaults.
"""

from typing import Any

from engine import half_precision as hp
from ui.settings import Experiment, Setting

LOSS_FACTORS = {"1": 1.0, "small": 2.0**-20}      # "small": every gradient 2^-20 as large (the underflow setting)
RACE = hp.RaceConfig()                             # the engine's defaults are the page's


def build(s: dict[str, Any]) -> tuple[hp.RaceConfig, None]:
    """The race (its modes in the engine's order, whatever order they were picked in); no data key:
    every race trains on the bundled digits."""
    modes = s["modes"] or []
    return hp.RaceConfig(modes=tuple(mode for mode in hp.MODES if mode in modes), loss_factor=LOSS_FACTORS[s["factor"]],
                         hidden=s["hidden"], steps=s["steps"]), None


TRAIN = Experiment("half_precision_train", "half_precision", (
    Setting("modes", "pills", RACE.modes, options=hp.MODES, choices="half_precision.short_",
            arguments={"selection_mode": "multi", "width": "stretch", "wrap": True}),
    Setting("factor", "radio", "1", options=tuple(LOSS_FACTORS), label="half_precision.loss_factor",
            choices="half_precision.factor_", arguments={"horizontal": True}),
    Setting("hidden", "select_slider", RACE.hidden, options=(64, 128, 256, 512), cap=256),
    Setting("steps", "slider", RACE.steps, 20, 1000, 20, cap=500),
), build, replays=False)          # the race measures each mode's time: always trained

EXPERIMENTS = (TRAIN,)
