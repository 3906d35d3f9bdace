"""Page 66's cards and challenge: the skip connections, the depth of the U, harder data, and a
segmentation that reaches a good Dice in two fifths of the default steps.

The cards' runs are 300 steps (the page's default is 250, so that it ends within 15 s on the slowest
CPU); every claim was measured at those settings on seeds 0, 1 and 2, with margins."""

from collections.abc import Iterator, Mapping
from dataclasses import replace
from functools import lru_cache
from typing import Any

from engine import unet
from engine.cards import Card, Challenge, direction, to_the_end
from engine.training import TrainingStep


def steps(built: tuple[unet.SegmentationConfig, None], seed: int = 0) -> Iterator[TrainingStep]:
    """The page's segmentation training of `built` (config, no data key) on the CPU; `seed` draws the
    shapes and the initial weights anew."""
    model, _ = built
    return unet.train(replace(model, shapes=replace(model.shapes, seed=model.shapes.seed + seed),
                              seed=seed, device="cpu"))


@lru_cache(maxsize=8)
def run(built: tuple[unet.SegmentationConfig, None], seed: int = 0) -> TrainingStep:
    """`steps` to the end, kept: several cards share their first run (the short default run)."""
    return to_the_end(steps(built, seed))


def measure(step: TrainingStep) -> dict[str, float]:
    return {"dice": step.metrics["dice"], "iou": step.metrics["iou"], "steps": float(step.step)}


DROP = 0.02          # a change of held-out Dice smaller than this is "about the same"


def _change(runs: list[dict]) -> str:
    """How held-out Dice moved from the first run to the second: "up", "same" or "down" (by more than DROP)."""
    return direction(runs[0]["dice"], runs[1]["dice"], DROP)


SHORT = {"steps": 300}
CARDS = (
    Card("skips", (SHORT, {**SHORT, "skips": False}), ("up", "same", "down"), "down", measure, _change),
    Card("depth", (SHORT, {**SHORT, "depth": 1}), ("up", "same", "down"), "down", measure, _change),
    Card("harder", (SHORT, {**SHORT, "noise": 0.3, "blur": 2.0}), ("up", "same", "down"), "down",
         measure, _change),
)

CHALLENGE_STEPS = 100
CHALLENGE_DICE = 0.7
SHAPES = ("objects", "overlap", "texture", "noise", "blur")      # the shapes' settings beside their size range


def _default_shapes(settings: Mapping[str, Any]) -> bool:
    """Whether the run drew the page's default shapes (those of `unet.ShapesConfig()`)."""
    shapes = unet.ShapesConfig()
    return (tuple(settings.get("size_range", ())) == (shapes.min_radius, shapes.max_radius)
            and all(settings.get(name) == getattr(shapes, name) for name in SHAPES))


def _challenge(measures: dict, settings: Mapping[str, Any]) -> bool:
    return (_default_shapes(settings) and settings.get("steps", 0) <= CHALLENGE_STEPS
            and measures["dice"] >= CHALLENGE_DICE)


CHALLENGE = Challenge(measure, _challenge, {"steps": 100, "base": 16})
