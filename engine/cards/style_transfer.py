"""Page 70's cards and challenge: the content/style balance, total variation, the start image, colours.

Every card runs small (128 px, 5 evaluations at full size, no coarse-to-fine) so the claims tests stay
fast on a CPU, and on the pixels themselves (no multi-scale image), the setting their claims were
first measured with; the effects they claim show from the first evaluations on."""

from collections.abc import Iterator, Mapping
from dataclasses import replace
from functools import cache
from typing import Any

from engine import artwork, images, style_transfer, vgg
from engine.cards import Card, Challenge, exceeds, falls, rises, to_the_end
from engine.training import TrainingStep

picture = cache(artwork.sample_image)      # the claims tests run many cards on the same few pictures


def extractor(source: vgg.WeightsSource | None = None) -> vgg.FeatureExtractor:
    """The frozen VGG features the cards' runs use (the found weights by default), loaded once per
    source: the page shares this very object (`pages/style_transfer.feature_extractor`), so a card's
    run and the page keep one VGG in memory, not two."""
    return _loaded(source or vgg.find_weights())


@cache
def _loaded(source: vgg.WeightsSource) -> vgg.FeatureExtractor:
    return vgg.load_extractor(source)


def steps(built: tuple[style_transfer.StyleConfig, tuple], seed: int = 0) -> Iterator[TrainingStep]:
    """The page's transfer of (config, (content, style)) on the CPU, both pictures samples named by
    (kind, name). `seed` draws the noise of a noise start; seeds 1 and 2 also take the next sample
    photos as the content (a claim must hold for other pictures too)."""
    config, (content, style) = built
    kind, name = content
    if seed and kind == "photo":
        photos = images.PHOTOS
        name = photos[(photos.index(name) + seed) % len(photos)]
    return style_transfer.transfer(replace(config, seed=seed, device="cpu"), extractor(),
                                   picture(kind, name), picture(*style))


def run(built: tuple[style_transfer.StyleConfig, tuple], seed: int = 0) -> TrainingStep:
    return to_the_end(steps(built, seed))


def measure(step: TrainingStep) -> dict[str, float]:
    return {name: step.metrics[name] for name in style_transfer.TERMS}


def _balance(runs: list[dict]) -> str:
    """Style weight 0.1, then 10: how the style and the content losses moved."""
    (style_0, content_0), (style_1, content_1) = ((run["style"], run["content"]) for run in runs)
    if falls(style_1, style_0, 0.1):
        return "trade" if rises(content_1, content_0, 0.1) else "both_lower"
    return "higher" if rises(style_1, style_0, 0.1) else "little"


def _smoothing(runs: list[dict]) -> str:
    """Total-variation weight 0, then 1: how the result's total variation moved."""
    if falls(runs[1]["tv"], runs[0]["tv"], 0.03):
        return "lower"
    return "higher" if rises(runs[1]["tv"], runs[0]["tv"], 0.03) else "same"


def _start(runs: list[dict]) -> str:
    """Start from the content, then from noise: the content loss reached."""
    if rises(runs[1]["content"], runs[0]["content"], 0.5):
        return "much_higher"
    return "much_lower" if falls(runs[1]["content"], runs[0]["content"], 0.5) else "similar"


def _colours(runs: list[dict]) -> str:
    """Colours kept off, then on: the final losses."""
    off, on = runs[0]["total"], runs[1]["total"]
    if not exceeds(abs(on - off), 1e-6 * max(abs(off), 1e-12)):
        return "same"
    return "higher" if on > off else "lower"


SMALL = {"size": 128, "steps": 5, "pyramid": False, "coarse": False}
WEAK = {**SMALL, "init": "noise", "style_weight": 0.01, "content_weight": 0.01}
CARDS = (
    Card("balance", ({**SMALL, "style_weight": 0.1}, {**SMALL, "style_weight": 10.0}),
         ("trade", "both_lower", "little", "higher"), "trade", measure, _balance),
    Card("smoothing", ({**WEAK, "tv_weight": 0.0}, {**WEAK, "tv_weight": 1.0}),
         ("lower", "same", "higher"), "lower", measure, _smoothing),
    Card("start", ({**SMALL, "init": "content"}, {**SMALL, "init": "noise"}),
         ("much_lower", "similar", "much_higher"), "much_higher", measure, _start),
    Card("colours", ({**SMALL, "preserve_colors": False}, {**SMALL, "preserve_colors": True}),
         ("lower", "same", "higher"), "same", measure, _colours),
)

CHALLENGE_CONTENT = 0.7        # the content loss to reach from noise (0.87 with the default weights)
CHALLENGE_RULES = {"content_source": "photo", "content_photo": "astronaut", "style_source": "artwork",
                   "style_artwork": "swirls", **SMALL, "init": "noise"}


def _challenge(measures: dict, settings: Mapping[str, Any]) -> bool:
    """From noise, at 128 px, 5 evaluations on the pixels (no multi-scale image, no coarse-to-fine),
    astronaut and swirls, style weight at least 1: a content loss at most CHALLENGE_CONTENT."""
    return (all(settings.get(key) == value for key, value in CHALLENGE_RULES.items())
            and settings.get("style_weight", 0) >= 1.0 and measures["content"] <= CHALLENGE_CONTENT)


CHALLENGE = Challenge(measure, _challenge, {**CHALLENGE_RULES, "content_weight": 10.0})
