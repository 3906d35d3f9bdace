"""Page 67's cards and challenge on the bundled digits: a linear autoencoder cannot beat PCA, a wider
bottleneck reconstructs better, noisy inputs cost reconstruction, and a challenge to beat PCA's
three components with a three-number code in half the default steps.

The cards' runs are short (a few hundred steps instead of the default 1,000) so that the claims tests stay quick;
every claim was measured at those settings on seeds 0, 1 and 2, with margins."""

from collections.abc import Iterator, Mapping
from dataclasses import replace
from functools import lru_cache
from typing import Any

from engine import autoencoder
from engine.cards import Card, Challenge, exceeds, falls, rises, to_the_end
from engine.data import load_digits
from engine.training import TrainingStep


@lru_cache(maxsize=1)
def _digits():
    return load_digits()


def steps(built: tuple[autoencoder.AutoencoderConfig, str], seed: int = 0) -> Iterator[TrainingStep]:
    """The page's training of (config, dataset) on the bundled digits, on the CPU; `seed` draws the
    initial weights, the batches and the input noise anew."""
    model, _ = built
    return autoencoder.train(replace(model, seed=seed, device="cpu"), _digits())


def run(built: tuple[autoencoder.AutoencoderConfig, str], seed: int = 0) -> TrainingStep:
    return to_the_end(steps(built, seed))


def measure(step: TrainingStep) -> dict[str, float]:
    test, pca = step.metrics["test_mse"], step.metrics["pca_mse"]
    return {"test": test, "pca": pca, "above": 100 * (test / pca - 1), "steps": float(step.step)}


def _linear(runs: list[dict]) -> str:
    above = runs[0]["above"]
    if exceeds(-above, 1):
        return "below"
    return "above" if exceeds(above, 1) else "close"


def _change(runs: list[dict]) -> str:
    """The second run's test error against the first's: "lower" or "higher" by more than 3 %, else "same"."""
    if falls(runs[1]["test"], runs[0]["test"], 0.03):
        return "lower"
    return "higher" if rises(runs[1]["test"], runs[0]["test"], 0.03) else "same"


SHORT = {"steps": 300}
CARDS = (
    Card("linear", ({"model": "linear", "latent": 8, "steps": 600},),
         ("below", "close", "above"), "above", measure, _linear),
    Card("latent", ({**SHORT, "model": "mlp", "latent": 2}, {**SHORT, "model": "mlp", "latent": 16}),
         ("lower", "same", "higher"), "lower", measure, _change),
    Card("noise", (SHORT, {**SHORT, "noise": 0.4}), ("lower", "same", "higher"), "higher",
         measure, _change),
)

CHALLENGE_STEPS = 500


def _challenge(measures: dict, settings: Mapping[str, Any]) -> bool:
    three = settings.get("model") == "classic" or settings.get("latent", 99) <= 3
    return (settings.get("dataset") == "subset" and three and not settings.get("noise")
            and settings.get("steps", 0) <= CHALLENGE_STEPS and measures["test"] < measures["pca"])


CHALLENGE = Challenge(measure, _challenge, {"steps": 500, "learning_rate": 5e-3})
