"""Page 64's settings: the network comparison (`optimizers_network`, the Run button; the cards' main
experiment) and the race on a 2-D surface (`optimizers_race`, redrawn as its settings move). The
racers are one setting of both: the network trains the optimizers the race shows.

The race's ranges and defaults follow the surface on the page (each surface has its own window,
start, length and recommended rates); the declaration holds the first surface's (the bowl's), with
the start sliders' ranges wide enough for every surface, and the page narrows them to the surface
drawn.
"""

from typing import Any

from engine import optimizers
from ui.settings import Experiment, Setting, dataset

RATES = (1e-4, 3e-4, 1e-3, 1.5e-3, 2e-3, 3e-3, 0.01, 0.02, 0.035, 0.05, 0.06, 0.1, 0.2, 0.3, 0.5, 1.0, 3.0, 10.0)
DEFAULT_RACERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
SURFACE = "bowl"                                  # the surface the page opens on
_FIRST = optimizers.SURFACES[SURFACE]


def _widest(axis: str) -> tuple[float, float]:
    """The start slider's full range along `axis`: every surface's window lies within it."""
    ranges = [getattr(surface, f"{axis}_range") for surface in optimizers.SURFACES.values()]
    return float(min(low for low, _ in ranges)), float(max(high for _, high in ranges))



RACERS = Setting("racers", "multiselect", DEFAULT_RACERS, options=optimizers.OPTIMIZERS, choices="optimizers.name_")


def build_race(s: dict[str, Any]) -> tuple[tuple, None]:
    """The race: (surface, ((racer, sorted (hyperparameter, value) pairs), ...), steps, (x, y) start),
    hashable so the page caches it; μ goes to the momentum methods, β₂ to Adam's. No data key."""
    racers = []
    for name in s["racers"]:
        hp = {"lr": s[f"lr_{name}"]}
        if name in ("momentum", "nesterov"):
            hp["momentum"] = s["mu"]
        if name in ("adam", "adamw"):
            hp["beta2"] = s["beta2"]
        racers.append((name, tuple(sorted(hp.items()))))
    return (s["surface"], tuple(racers), s["steps"], (s["start_x"], s["start_y"])), None


def build_network(s: dict[str, Any]) -> tuple[optimizers.NetworkConfig, str]:
    """The network comparison of the racers (the default six when none is chosen), keyed by its dataset."""
    return optimizers.NetworkConfig(optimizers=tuple(s["racers"]) or DEFAULT_RACERS,
                                    steps=s["network_steps"]), s["dataset"]


RACE = Experiment("optimizers_race", "optimizers", (
    Setting("surface", "selectbox", SURFACE, options=tuple(optimizers.SURFACES), choices="optimizers.surface_"),
    RACERS,
    *(Setting(f"lr_{name}", "select_slider", _FIRST.recommended[name]["lr"], options=RATES)
      for name in optimizers.OPTIMIZERS),
    Setting("mu", "slider", optimizers.DEFAULTS["momentum"]["momentum"], 0.0, 0.99, 0.01,
            label="optimizers.momentum_value"),
    Setting("beta2", "select_slider", optimizers.DEFAULTS["adam"]["beta2"], options=(0.9, 0.99, 0.999, 0.9999),
            label="optimizers.beta2_value"),
    Setting("start_x", "slider", float(_FIRST.start[0]), *_widest("x")),
    Setting("start_y", "slider", float(_FIRST.start[1]), *_widest("y")),
    Setting("steps", "slider", _FIRST.steps, 10, 2000, 10, cap=1000),
), build_race, name="race")

NETWORK = Experiment("optimizers_network", "optimizers", (
    RACERS,
    dataset(),
    Setting("network_steps", "slider", 600, 20, 2000, 20, cap=600),
), build_network)

EXPERIMENTS = (NETWORK, RACE)
