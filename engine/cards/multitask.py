"""Page 61's cards and challenge: sharing against separate networks, a dominating task, learned
uncertainty weights, how related the slant is, a starved trunk."""

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from engine import data as digits
from engine import multitask
from engine.cards import Card, Challenge, at_least, exceeds, largest, to_the_end
from engine.training import TrainingStep

EXPERIMENT = "multitask_train"
DEFAULTS = {
    "multitask_architecture": "multihead", "multitask_tasks": ["digit", "parity", "ink"],
    "multitask_weighting": "fixed", "multitask_weight_digit": 1.0, "multitask_weight_parity": 1.0,
    "multitask_weight_ink": 1.0, "multitask_weight_slant": 1.0, "multitask_baselines": True,
    "multitask_steps": 400, "multitask_width": 128, "multitask_learning_rate": 2e-3, "multitask_dataset": "subset",
}


def config(settings: Mapping[str, Any]) -> tuple[multitask.MultitaskConfig, str]:
    """What the page passes its experiment for these settings (missing ones at their defaults): the
    config and, as the run's data key, the data's source (the cards use the bundled digits)."""
    s = {**DEFAULTS, **settings}
    architecture, tasks, weighting = s["multitask_architecture"], s["multitask_tasks"], s["multitask_weighting"]
    weights = dict.fromkeys(multitask.TASKS, 1.0)
    if weighting == "fixed":
        weights |= {task: s[f"multitask_weight_{task}"] for task in tasks}
    return multitask.MultitaskConfig(
        architecture=architecture, tasks=tuple(t for t in multitask.TASKS if t in tasks), weighting=weighting,
        weights=weights, width=s["multitask_width"], baselines=s["multitask_baselines"] and architecture != "separate",
        steps=s["multitask_steps"], learning_rate=s["multitask_learning_rate"]), s["multitask_dataset"]


_DIGITS = None


def _digits() -> digits.ImageSplit:
    global _DIGITS
    if _DIGITS is None:
        _DIGITS = digits.load_digits()
    return _DIGITS


def run(settings: Mapping[str, Any], seed: int = 0) -> TrainingStep:
    """The page's run at `settings` on the bundled digits; `seed` draws the initial weights and the batches."""
    model_config, _ = config(settings)
    return to_the_end(multitask.train(replace(model_config, seed=seed, device="cpu"), _digits()))


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


QUICK = {"multitask_steps": 50}
CARDS = (
    Card("uncertainty", ({**QUICK, "multitask_weighting": "uncertainty", "multitask_baselines": False},),
         ("digit", "parity", "ink"), "parity", measure, _largest_weight),
    Card("dominate", ({**QUICK, "multitask_baselines": False},
                      {**QUICK, "multitask_baselines": False, "multitask_weight_ink": 10.0}),
         ("rise", "same", "fall", "collapse"), "collapse", measure, _dominate),
    Card("share", (QUICK,), ("all", "some", "none"), "none", measure, _share),
    Card("starve", ({**QUICK, "multitask_width": 32, "multitask_tasks": ["digit", "parity", "ink", "slant"]},),
         ("shared", "same", "separate"), "separate", measure, _starve),
)

CHALLENGE_STEPS = 100
CHALLENGE_BOUND = 0.92


def _challenge(measures: dict, settings: Mapping[str, Any]) -> bool:
    return (settings.get("multitask_architecture") != "separate" and settings.get("multitask_dataset") == "subset"
            and {"digit", "parity", "ink"} <= set(settings.get("multitask_tasks", ()))
            and settings.get("multitask_steps", 0) <= CHALLENGE_STEPS and measures.get("digit", 0.0) >= CHALLENGE_BOUND)


CHALLENGE = Challenge(measure, _challenge, {"multitask_steps": 100, "multitask_learning_rate": 5e-3,
                                            "multitask_weight_digit": 2.0, "multitask_baselines": False})
