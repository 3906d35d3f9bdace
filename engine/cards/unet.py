"""Page 66's cards and challenge: the skip connections, the depth of the U, harder data, and a
segmentation that reaches a good Dice in a quarter of the default steps.

The cards' runs are shorter than the page's (300 steps instead of 400) so that the claims tests stay quick;
every claim was measured at those settings on seeds 0, 1 and 2, with margins."""

from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache
from typing import Any

from engine import unet
from engine.cards import Card, Challenge, direction, to_the_end
from engine.training import TrainingStep

EXPERIMENT = "unet_train"
DEFAULTS = {
    "unet_skips": True, "unet_depth": 3, "unet_loss": "both", "unet_steps": 400, "unet_base": 8,
    "unet_upsampling": "transpose", "unet_size_range": (0.08, 0.2), "unet_objects": 4, "unet_overlap": True,
    "unet_texture": 0.3, "unet_noise": 0.1, "unet_blur": 0.5,
}


def config(settings: Mapping[str, Any]) -> tuple[unet.SegmentationConfig, None]:
    """What the page passes its segmentation experiment for these settings (missing ones at their
    defaults); the page passes no data key (the config holds the generated data's settings)."""
    s = {**DEFAULTS, **settings}
    low, high = s["unet_size_range"]
    shapes = unet.ShapesConfig(objects=s["unet_objects"], min_radius=low, max_radius=high,
                               overlap=s["unet_overlap"], texture=s["unet_texture"], noise=s["unet_noise"],
                               blur=s["unet_blur"])
    return unet.SegmentationConfig(shapes=shapes, depth=s["unet_depth"], base=s["unet_base"], skips=s["unet_skips"],
                                   upsampling=s["unet_upsampling"], loss=s["unet_loss"], steps=s["unet_steps"]), None


@lru_cache(maxsize=8)
def _final(model: unet.SegmentationConfig, seed: int) -> TrainingStep:
    """A run's last step, kept: several cards share their first run (the short default run)."""
    return to_the_end(unet.train(replace(model, shapes=replace(model.shapes, seed=model.shapes.seed + seed),
                                         seed=seed, device="cpu")))


def run(settings: Mapping[str, Any], seed: int = 0) -> TrainingStep:
    """The page's segmentation run at `settings`; `seed` draws the shapes and the initial weights anew."""
    return _final(config(settings)[0], seed)


def measure(step: TrainingStep) -> dict[str, float]:
    return {"dice": step.metrics["dice"], "iou": step.metrics["iou"], "steps": float(step.step)}


DROP = 0.02          # a change of held-out Dice smaller than this is "about the same"


def _change(runs: list[dict]) -> str:
    """How held-out Dice moved from the first run to the second: "up", "same" or "down" (by more than DROP)."""
    return direction(runs[0]["dice"], runs[1]["dice"], DROP)


SHORT = {"unet_steps": 300}
CARDS = (
    Card("skips", (SHORT, {**SHORT, "unet_skips": False}), ("up", "same", "down"), "down", measure, _change),
    Card("depth", (SHORT, {**SHORT, "unet_depth": 1}), ("up", "same", "down"), "down", measure, _change),
    Card("harder", (SHORT, {**SHORT, "unet_noise": 0.3, "unet_blur": 2.0}), ("up", "same", "down"), "down",
         measure, _change),
)

CHALLENGE_STEPS = 100
CHALLENGE_DICE = 0.7


def _challenge(measures: dict, settings: Mapping[str, Any]) -> bool:
    data = ("unet_size_range", "unet_objects", "unet_overlap", "unet_texture", "unet_noise", "unet_blur")
    same_data = all(tuple(settings.get(key)) == tuple(DEFAULTS[key]) if key == "unet_size_range"
                    else settings.get(key) == DEFAULTS[key] for key in data)
    return (same_data and settings.get("unet_steps", 0) <= CHALLENGE_STEPS
            and measures["dice"] >= CHALLENGE_DICE)


CHALLENGE = Challenge(measure, _challenge, {"unet_steps": 100, "unet_base": 16})
