"""Page 67's cards and challenge on the bundled digits: a linear autoencoder cannot beat PCA, a wider
bottleneck reconstructs better, noisy inputs cost reconstruction, and a challenge to beat PCA's
three components with a three-number code in a third of the default steps.

The cards' runs are short (a few hundred steps instead of 1,500) so that the claims tests stay quick;
every claim was measured at those settings on seeds 0, 1 and 2, with margins."""

from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache
from typing import Any

from engine import autoencoder
from engine.cards import Card, Challenge, exceeds, falls, rises, to_the_end
from engine.data import load_digits
from engine.training import TrainingStep

EXPERIMENT = "autoencoder_train"
DEFAULTS = {
    "autoencoder_dataset": "subset", "autoencoder_model": "classic", "autoencoder_latent": 8,
    "autoencoder_steps": 1500, "autoencoder_variational": False, "autoencoder_beta": 1.0,
    "autoencoder_noise": 0.0, "autoencoder_learning_rate": 2e-3,
}


def config(settings: Mapping[str, Any]) -> tuple[autoencoder.AutoencoderConfig, str]:
    """What the page passes its experiment for these settings (missing ones at their defaults): the
    model's config and, as the run's data key, the data's source (the cards use the bundled digits)."""
    s = {**DEFAULTS, **settings}
    model = s["autoencoder_model"]
    variational = s["autoencoder_variational"] and model != "linear"
    return autoencoder.AutoencoderConfig(
        model=model, latent=3 if model == "classic" else s["autoencoder_latent"], variational=variational,
        beta=s["autoencoder_beta"] if variational else 1.0, noise=s["autoencoder_noise"],
        steps=s["autoencoder_steps"], learning_rate=s["autoencoder_learning_rate"]), "subset"


@lru_cache(maxsize=1)
def _digits():
    return load_digits()


def run(settings: Mapping[str, Any], seed: int = 0) -> TrainingStep:
    """The page's run on the bundled digits at `settings`; `seed` draws the initial weights, the
    batches and the input noise anew."""
    model, _ = config(settings)
    return to_the_end(autoencoder.train(replace(model, seed=seed, device="cpu"), _digits()))


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


SHORT = {"autoencoder_steps": 300}
CARDS = (
    Card("linear", ({"autoencoder_model": "linear", "autoencoder_latent": 8, "autoencoder_steps": 600},),
         ("below", "close", "above"), "above", measure, _linear),
    Card("latent", ({**SHORT, "autoencoder_model": "mlp", "autoencoder_latent": 2},
                    {**SHORT, "autoencoder_model": "mlp", "autoencoder_latent": 16}),
         ("lower", "same", "higher"), "lower", measure, _change),
    Card("noise", (SHORT, {**SHORT, "autoencoder_noise": 0.4}), ("lower", "same", "higher"), "higher",
         measure, _change),
)

CHALLENGE_STEPS = 500


def _challenge(measures: dict, settings: Mapping[str, Any]) -> bool:
    three = settings.get("autoencoder_model") == "classic" or settings.get("autoencoder_latent", 99) <= 3
    return (settings.get("autoencoder_dataset") == "subset" and three and not settings.get("autoencoder_noise")
            and settings.get("autoencoder_steps", 0) <= CHALLENGE_STEPS and measures["test"] < measures["pca"])


CHALLENGE = Challenge(measure, _challenge, {"autoencoder_steps": 500, "autoencoder_learning_rate": 5e-3})
