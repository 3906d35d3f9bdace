"""Page 61's cards and challenge: sharing against separate networks, a dominating task, learned
uncertainty weights, how related the slant is, a starved trunk."""

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from engine import data as digits
from engine import multitask
from engine.cards import Card, Challenge, at_least, exceeds, largest, to_the_end
from engine.training import TrainingStep

_DIGITS = None


def _digits() -> digits.ImageSplit:
    global _DIGITS
    if _DIGITS is None:
        _DIGITS = digits.load_digits()
    return _DIGITS


def steps(built: tuple[multitask.MultitaskConfig, str], seed: int = 0) -> Iterator[TrainingStep]:
    """The page's training of `built` (config, data source) on the bundled digits (the cards and the
    challenge train on those only), on the CPU; `seed` draws the initial weights and the batches."""
    model_config, _ = built
    return multitask.train(replace(model_config, seed=seed, device="cpu"), _digits())


def run(built: tuple[multitask.MultitaskConfig, str], seed: int = 0) -> TrainingStep:
    return to_the_end(steps(built, seed))


def measure(step: TrainingStep) -> dict[str, float]:
    """The chosen model's held-out score per task (`<task>`), the separate networks' (`separate_<task>`),
    the parameter counts and, with learned uncertainty, each task's final weight (`weight_<task>`)."""
    chosen, *others = step.extras["parameters"]
    measures = {"steps": float(step.step), "parameters": float(step.extras["parameters"][chosen])}
    for task in step.extras["tasks"]:
        measures[task] = step.metrics[f"{chosen}/{task}"]
        if others:
            measures[f"separate_{task}"] = step.metrics[f"separate/{task}"]
    if others:
        measures["separate_parameters"] = float(step.extras["parameters"]["separate"])
        measures["share"] = measures["parameters"] / measures["separate_parameters"]
        measures["digit_gap"] = measures.get("separate_digit", 0.0) - measures.get("digit", 0.0)
    history = step.extras["history"]
    for task in step.extras["tasks"]:
        if f"weight/{task}" in history:
            measures[f"weight_{task}"] = history[f"weight/{task}"][-1]
    return measures


def _largest_weight(runs: list[dict]) -> str:
    run = runs[0]
    return largest({task: run[f"weight_{task}"] for task in ("digit", "parity", "ink")}, 0.05)


def _dominate(runs: list[dict]) -> str:
    change = runs[1]["digit"] - runs[0]["digit"]
    if exceeds(change, 0.02):
        return "rise"
    if not exceeds(-change, 0.02):
        return "same"
    return "collapse" if exceeds(-change, 0.10) else "fall"


def _share(runs: list[dict]) -> str:
    run = runs[0]
    wins = sum(at_least(run[task], run[f"separate_{task}"], 0.005) for task in ("digit", "parity", "ink"))
    return {3: "all", 0: "none"}.get(wins, "some")


def _starve(runs: list[dict]) -> str:
    gap = runs[0]["digit_gap"]
    if exceeds(-gap, 0.03):
        return "shared"
    return "separate" if exceeds(gap, 0.03) else "same"


QUICK = {"steps": 50}
CARDS = (
    Card("uncertainty", ({**QUICK, "weighting": "uncertainty", "baselines": False},),
         ("digit", "parity", "ink"), "parity", measure, _largest_weight),
    Card("dominate", ({**QUICK, "baselines": False}, {**QUICK, "baselines": False, "weight_ink": 10.0}),
         ("rise", "same", "fall", "collapse"), "collapse", measure, _dominate),
    Card("share", (QUICK,), ("all", "some", "none"), "none", measure, _share),
    Card("starve", ({**QUICK, "width": 32, "tasks": ["digit", "parity", "ink", "slant"]},),
         ("shared", "same", "separate"), "separate", measure, _starve),
)

CHALLENGE_STEPS = 100
CHALLENGE_BOUND = 0.92


def _challenge(measures: dict, settings: Mapping[str, Any]) -> bool:
    return (settings.get("architecture") != "separate" and settings.get("dataset") == "subset"
            and {"digit", "parity", "ink"} <= set(settings.get("tasks", ()))
            and settings.get("steps", 0) <= CHALLENGE_STEPS and measures.get("digit", 0.0) >= CHALLENGE_BOUND)


CHALLENGE = Challenge(measure, _challenge, {"steps": 100, "learning_rate": 5e-3, "weight_digit": 2.0,
                                            "baselines": False})
