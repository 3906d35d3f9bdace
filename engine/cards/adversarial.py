"""Page 65's cards and challenge: what a standard model keeps under PGD, PGD against FGSM on the robust
model, robustness beyond the training budget, and the robust model's lead at a smaller budget."""

from collections.abc import Iterator, Mapping
from dataclasses import replace
from functools import lru_cache
from typing import Any

from engine import adversarial
from engine import data as digits
from engine.cards import Card, Challenge, exceeds, to_the_end
from engine.training import TrainingStep

SHORT = {"steps": 150}         # every card judges the same short run (about 8 s on one core)


@lru_cache(maxsize=1)
def _digits() -> digits.ImageSplit:
    return digits.load_digits()


def steps(built: tuple[adversarial.AdversarialConfig, str], seed: int = 0) -> Iterator[TrainingStep]:
    """The page's training of (config, dataset) on the bundled digits, on the CPU; `seed` draws the
    weights, batches and attack starts."""
    model_config, _ = built
    return adversarial.train(replace(model_config, seed=seed, device="cpu"), _digits())


@lru_cache(maxsize=8)
def run(built: tuple[adversarial.AdversarialConfig, str], seed: int = 0) -> TrainingStep:
    """`steps` to the end, kept: every card judges the same short run."""
    return to_the_end(steps(built, seed))


def measure(step: TrainingStep) -> dict[str, float]:
    """Accuracy in % on the curves' test digits: `<model>_<attack>_<ε×100>` (e.g. robust_pgd_25), clean."""
    measures = {"steps": float(step.step)}
    for model, attacks in step.extras["curves"].items():
        measures[f"{model}_clean"] = 100 * attacks["fgsm"][0]
        for attack, values in attacks.items():
            for epsilon, value in zip(step.extras["epsilons"], values, strict=True):
                measures[f"{model}_{attack}_{round(100 * epsilon)}"] = 100 * value
    return measures


def _band(value: float, low: float, high: float) -> str:
    return "low" if not exceeds(value, low) else "high" if exceeds(value, high) else "middle"


def _gap(runs: list[dict], first: str, second: str, names: tuple[str, str, str], points: float) -> str:
    """names[0] when `first` is below `second` by more than `points`, names[2] when above, else names[1]."""
    lower = runs[0][second] - runs[0][first]
    return names[0] if exceeds(lower, points) else names[2] if exceeds(-lower, points) else names[1]


CARDS = (
    Card("standard", (SHORT,), ("low", "middle", "high"), "low", measure,
         lambda runs: _band(runs[0]["standard_pgd_25"], 5, 50)),
    Card("pgd_fgsm", (SHORT,), ("pgd_lower", "same", "pgd_higher"), "pgd_lower", measure,
         lambda runs: _gap(runs, "robust_pgd_25", "robust_fgsm_25", ("pgd_lower", "same", "pgd_higher"), 5)),
    Card("beyond", (SHORT,), ("low", "middle", "high"), "low", measure,
         lambda runs: _band(runs[0]["robust_pgd_35"], 10, 30)),    # 10: 3.3 % on seed 2 of the bf16 CPU
    Card("smaller", (SHORT,), ("robust", "same", "standard"), "robust", measure,
         lambda runs: _gap(runs, "standard_pgd_15", "robust_pgd_15", ("robust", "same", "standard"), 10)),
)


def _challenge(measures: dict, settings: Mapping[str, Any]) -> bool:
    return (settings.get("steps", 0) <= 200 and settings.get("dataset") == "subset"
            and measures["robust_pgd_20"] >= 70 and measures["robust_clean"] >= 90)


CHALLENGE = Challenge(measure, _challenge, {"steps": 200, "defence": "pgd"})
