"""Page 70's cards and challenge: the content/style balance, total variation, the start image, colours.

Every card runs small (128 px, 5 evaluations at full size, no coarse-to-fine) so the claims tests stay
fast on a CPU, and on the pixels themselves (no multi-scale image), the setting their claims were
first measured with; the effects they claim show from the first evaluations on."""

from collections.abc import Mapping
from dataclasses import replace
from functools import cache
from typing import Any

from engine import artwork, images, style_transfer, vgg
from engine.cards import Card, Challenge, exceeds, falls, rises, to_the_end
from engine.training import TrainingStep

EXPERIMENT = "style_transfer_run"
LAYER_KEYS = tuple(f"style_transfer_w_{layer}" for layer in style_transfer.STYLE_LAYERS)
DEFAULTS = {
    "style_transfer_content_source": "photo", "style_transfer_content_photo": "astronaut",
    "style_transfer_style_source": "artwork", "style_transfer_style_artwork": "swirls",
    "style_transfer_preset": style_transfer.DEFAULT_PRESET, "style_transfer_size": style_transfer.StyleConfig.size,
    "style_transfer_steps": style_transfer.StyleConfig.steps,
    "style_transfer_style_weight": 1.0, "style_transfer_content_weight": 1.0, "style_transfer_tv_weight": 0.1,
    "style_transfer_pyramid": True, "style_transfer_coarse": False, "style_transfer_optimizer": "lbfgs",
    "style_transfer_init": "content",
    "style_transfer_pooling": "max", "style_transfer_preserve_colors": False, **dict.fromkeys(LAYER_KEYS, 1.0),
}
SAMPLES = {"photo": images.PHOTOS, "texture": images.TEXTURES, "artwork": artwork.ARTWORKS}


@cache
def sample_image(kind: str, name: str):
    """The page's sample images, made the same way (pages/style_transfer.py: sample_image)."""
    if kind == "artwork":
        return artwork.make(name, size=384)
    return images.to_tensor(images.fit_within(images.load_sample(name), 512))


@cache
def extractor() -> vgg.FeatureExtractor:
    return vgg.load_extractor(vgg.find_weights())


def _image(settings: Mapping[str, Any], role: str):
    source = settings[f"style_transfer_{role}_source"]
    return sample_image(source, settings[f"style_transfer_{role}_{source}"])


def config(settings: Mapping[str, Any]) -> tuple[style_transfer.StyleConfig, tuple[str, str]]:
    """What the page passes its experiment for these settings (missing ones at their defaults): the
    config and, as the data key, the digests of the content and style images (sample images only)."""
    s = {**DEFAULTS, **settings}
    coarse = style_transfer.PRESETS[s["style_transfer_preset"]][2] if s["style_transfer_coarse"] else ()
    cfg = style_transfer.StyleConfig(
        size=s["style_transfer_size"], steps=s["style_transfer_steps"], coarse_steps=coarse,
        pyramid_levels=style_transfer.StyleConfig.pyramid_levels if s["style_transfer_pyramid"] else 1,
        layer_weights=tuple(s[key] for key in LAYER_KEYS), optimizer=s["style_transfer_optimizer"],
        init=s["style_transfer_init"], pooling=s["style_transfer_pooling"],
        preserve_colors=s["style_transfer_preserve_colors"], style_weight=s["style_transfer_style_weight"],
        content_weight=s["style_transfer_content_weight"], tv_weight=s["style_transfer_tv_weight"])
    return cfg, (images.digest(_image(s, "content")), images.digest(_image(s, "style")))


def run(settings: Mapping[str, Any], seed: int = 0) -> TrainingStep:
    """The page's run at `settings` on the CPU. `seed` draws the noise of a noise start; seeds 1 and 2
    also take the next sample photos as the content (a claim must hold for other pictures too)."""
    s = {**DEFAULTS, **settings}
    if seed and s["style_transfer_content_source"] == "photo":
        photos = images.PHOTOS
        place = (photos.index(s["style_transfer_content_photo"]) + seed) % len(photos)
        s["style_transfer_content_photo"] = photos[place]
    cfg, _ = config(s)
    return to_the_end(style_transfer.transfer(replace(cfg, seed=seed, device="cpu"), extractor(),
                                              _image(s, "content"), _image(s, "style")))


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


SMALL = {"style_transfer_size": 128, "style_transfer_steps": 5, "style_transfer_pyramid": False,
         "style_transfer_coarse": False}
WEAK = {**SMALL, "style_transfer_init": "noise", "style_transfer_style_weight": 0.01,
        "style_transfer_content_weight": 0.01}
CARDS = (
    Card("balance", ({**SMALL, "style_transfer_style_weight": 0.1}, {**SMALL, "style_transfer_style_weight": 10.0}),
         ("trade", "both_lower", "little", "higher"), "trade", measure, _balance),
    Card("smoothing", ({**WEAK, "style_transfer_tv_weight": 0.0}, {**WEAK, "style_transfer_tv_weight": 1.0}),
         ("lower", "same", "higher"), "lower", measure, _smoothing),
    Card("start", ({**SMALL, "style_transfer_init": "content"}, {**SMALL, "style_transfer_init": "noise"}),
         ("much_lower", "similar", "much_higher"), "much_higher", measure, _start),
    Card("colours", ({**SMALL, "style_transfer_preserve_colors": False},
                     {**SMALL, "style_transfer_preserve_colors": True}),
         ("lower", "same", "higher"), "same", measure, _colours),
)

CHALLENGE_CONTENT = 0.7        # the content loss to reach from noise (0.87 with the default weights)
CHALLENGE_RULES = {"style_transfer_content_source": "photo", "style_transfer_content_photo": "astronaut",
                   "style_transfer_style_source": "artwork", "style_transfer_style_artwork": "swirls",
                   **SMALL, "style_transfer_init": "noise"}


def _challenge(measures: dict, settings: Mapping[str, Any]) -> bool:
    """From noise, at 128 px, 5 evaluations on the pixels (no multi-scale image, no coarse-to-fine),
    astronaut and swirls, style weight at least 1: a content loss at most CHALLENGE_CONTENT."""
    return (all(settings.get(key) == value for key, value in CHALLENGE_RULES.items())
            and settings.get("style_transfer_style_weight", 0) >= 1.0 and measures["content"] <= CHALLENGE_CONTENT)


CHALLENGE = Challenge(measure, _challenge, {**CHALLENGE_RULES, "style_transfer_content_weight": 10.0})
