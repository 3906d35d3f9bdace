"""Page 64's cards and challenge: the memory each optimizer keeps (the network), then races on the
ill-conditioned bowl, Rosenbrock's valley, the saddle and the plateau.

Two experiments: the network comparison (the page's main one, a Run button) and the race (named
"race"), which the page draws without a Run button as its settings move; the page hands the race to
the cards as a record-like object (`RaceRecord`). `steps` tells them apart by what they train: a
NetworkConfig, or the race (surface, racers, steps, start).
The race is deterministic; seed s > 0 starts it from the page's start scaled by 1 + 0.02 s (so the
claims hold near the start too, not only at one point).
"""

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from engine import data as image_data
from engine import optimizers
from engine.cards import Card, Challenge, exceeds, rises, smallest, to_the_end
from engine.training import TrainingStep

RACE = "race"            # the race's experiment name (`ui.settings.Experiment.name`)


def summarize(result: Mapping[str, optimizers.Trajectory]) -> dict:
    """A race's trajectories as the page keeps them (run_race): lists and step counts per racer."""
    return {name: {"points": t.points.tolist(), "losses": t.losses.tolist(), "distances": t.distances.tolist(),
                   "tolerance": t.steps_to_tolerance, "escape": t.steps_to_escape} for name, t in result.items()}


def race_step(race: Mapping[str, dict], steps: int) -> TrainingStep:
    """A race's result (summarize's form) as the final step the cards read."""
    return TrainingStep(steps, steps, {}, {"race": race})


@dataclass(eq=False)
class RaceRecord:
    """The race drawn on the page, as the cards read a run: always complete, never active; `job` is
    the race's key (a new object per new race, so a card judges each race once)."""

    step: TrainingStep
    settings: dict
    job: Any = field(default_factory=object)
    complete: bool = True
    active: bool = False


def steps(built: tuple[Any, Any], seed: int = 0) -> Iterator[TrainingStep]:
    """The network comparison (a NetworkConfig, trained on the bundled digits) or the race (a race
    tuple, `ui.settings.optimizers.build_race`), on the CPU."""
    config, _ = built
    if isinstance(config, optimizers.NetworkConfig):
        return optimizers.compare_on_network(replace(config, seed=seed, device="cpu"), image_data.load_digits())
    return _race_steps(config, seed)


def _race_steps(race: tuple, seed: int) -> Iterator[TrainingStep]:
    """The race, computed whole when first asked for (a blink): one report, its last."""
    surface, racers, count, (x, y) = race
    scale = 1 + 0.02 * seed
    result = optimizers.race(surface, {name: dict(hp) for name, hp in racers}, count, (x * scale, y * scale))
    yield race_step(summarize(result), count)


def run(built: tuple[Any, Any], seed: int = 0) -> TrainingStep:
    return to_the_end(steps(built, seed))


def _steps(value: int | None) -> float:
    return math.inf if value is None else float(value)


def race_measure(step: TrainingStep) -> dict[str, float]:
    """Per racer: steps to within 0.01 of a minimum (`<name>_steps`, inf if never), steps to escape a
    saddle (`<name>_escape`), final distance to a minimum (`<name>_distance`) and final loss."""
    measures = {}
    for name, r in step.extras["race"].items():
        finite = [d for d in r["distances"] if math.isfinite(d)]
        measures |= {f"{name}_steps": _steps(r["tolerance"]), f"{name}_escape": _steps(r["escape"]),
                     f"{name}_distance": r["distances"][-1], f"{name}_loss": r["losses"][-1],
                     f"{name}_closest": min(finite, default=math.inf)}
    return measures


def network_measure(step: TrainingStep) -> dict[str, float]:
    """Per optimizer: the state it keeps (KB) and its test accuracy (%)."""
    return ({f"{name}_kb": value / 1024 for name, value in step.extras["state_bytes"].items()}
            | {key.replace("_accuracy", "_acc"): 100 * value for key, value in step.metrics.items()})


def _memory(runs: list[dict]) -> str:
    run = runs[0]
    sgd, momentum, adam = run["sgd_kb"], run["momentum_kb"], run["adam_kb"]
    if sgd == momentum == adam:
        return "same"
    if sgd == 0 and momentum > 0 and abs(adam - 2 * momentum) < 1e-9:
        return "adam_two"
    return "momentum_most" if momentum > adam else "other"


def _bowl(runs: list[dict]) -> str:
    sgd, momentum = runs[0]["sgd_steps"], runs[0]["momentum_steps"]
    if rises(sgd, momentum, 2.0):                 # SGD took more than 3 x momentum's steps
        return "momentum_3x"
    return "momentum_fewer" if smallest({"momentum": momentum, "sgd": sgd}, 0.1) == "momentum" else "sgd"


TOLERANCE = 1e-2         # "reached the minimum": within this distance of it (the race's own default)


def _reached(run: dict, names: tuple[str, ...]) -> set[str]:
    """The racers that came within TOLERANCE of a minimum (strictly: within half of it, or never within twice it)."""
    return {name for name in names if not exceeds(run[f"{name}_closest"], TOLERANCE)}


def _rosenbrock(runs: list[dict]) -> str:
    reached = _reached(runs[0], ("sgd", "momentum", "adam"))
    return {3: "all", 0: "none"}.get(len(reached), "momentum_adam" if reached == {"momentum", "adam"} else "other")


def _saddle(runs: list[dict]) -> str:
    sgd, adagrad = runs[0]["sgd_escape"], runs[0]["adagrad_escape"]
    if math.isinf(sgd) and math.isinf(adagrad):
        return "neither"
    return smallest({"sgd": sgd, "adagrad": adagrad}, 0.1)


def _plateau(runs: list[dict]) -> str:
    reached = _reached(runs[0], ("sgd", "adadelta", "adam"))
    if reached == {"adam"}:
        return "adam"
    return {3: "all", 2: "two", 0: "none"}.get(len(reached), "other")     # "other": none of the answers


def _race(surface: str, rates: Mapping[str, float], steps: int, **others: Any) -> dict[str, Any]:
    """A race's settings: `rates` (racer -> learning rate) from the surface's own start."""
    spec = optimizers.SURFACES[surface]
    return {"surface": surface, "racers": list(rates), **{f"lr_{name}": rate for name, rate in rates.items()},
            "start_x": float(spec.start[0]), "start_y": float(spec.start[1]), "steps": steps, **others}


CARDS = (
    Card("memory", ({"racers": ["sgd", "momentum", "adam"], "network_steps": 20},),
         ("same", "momentum_most", "adam_two"), "adam_two", network_measure, _memory),
    Card("bowl", (_race("bowl", {"sgd": 0.035, "momentum": 0.06}, 200, mu=0.57),),
         ("sgd", "momentum_fewer", "momentum_3x"), "momentum_3x", race_measure, _bowl, experiment=RACE),
    Card("rosenbrock", (_race("rosenbrock", {"sgd": 0.0015, "momentum": 0.0015, "adam": 0.1}, 1000),),
         ("all", "momentum_adam", "none"), "momentum_adam", race_measure, _rosenbrock, experiment=RACE),
    Card("saddle", (_race("saddle", {"sgd": 0.01, "adagrad": 0.01}, 500),),
         ("adagrad", "sgd", "neither"), "sgd", race_measure, _saddle, experiment=RACE),
    Card("plateau", (_race("plateau", {"sgd": 1.0, "adadelta": 10.0, "adam": 0.1}, 300),),
         ("all", "two", "adam", "none"), "adam", race_measure, _plateau, experiment=RACE),
)


def challenge_measure(step: TrainingStep) -> dict[str, float]:
    """The closest any racer came to the minimum (over the whole race) and the fewest steps to 0.01."""
    race = step.extras["race"].values()
    return {"closest": min((min(d for d in r["distances"] if math.isfinite(d)) for r in race
                            if any(math.isfinite(d) for d in r["distances"])), default=math.inf),
            "best": min((_steps(r["tolerance"]) for r in race), default=math.inf)}


CHALLENGE_STEPS = 300
CHALLENGE_START = (-1.5, 2.5)


def _challenge(measures: dict, settings: Mapping[str, Any]) -> bool:
    return (settings.get("surface") == "rosenbrock"
            and (settings.get("start_x"), settings.get("start_y")) == CHALLENGE_START
            and settings.get("steps", math.inf) <= CHALLENGE_STEPS and measures["best"] <= CHALLENGE_STEPS)


CHALLENGE = Challenge(challenge_measure, _challenge,
                      _race("rosenbrock", {"momentum": 0.001}, CHALLENGE_STEPS, mu=0.95), experiment=RACE)
