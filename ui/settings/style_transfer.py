"""Page 70's settings: the two pictures, the size and length of the optimisation, the loss's weights
(one per style layer among them) and the optimisation's choices (one experiment, `style_transfer_run`)."""

from typing import Any

from engine import artwork, style_transfer
from ui.settings import Experiment, Setting

CONTENT_SOURCES = ("photo", "upload", "camera")
STYLE_SOURCES = ("artwork", "texture", "photo", "upload")
WEIGHTS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
TV_WEIGHTS = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0)
LAYER_WEIGHTS = tuple(f"w_{layer}" for layer in style_transfer.STYLE_LAYERS)   # one slider per style layer
PICKER = {"horizontal": True, "label_visibility": "collapsed"}   # under the role's own header


def source(role: str, sources: tuple[str, ...]) -> Setting:
    """Where the content or style picture comes from: a kind of sample, an upload or the camera."""
    return Setting(f"{role}_source", "radio", sources[0], options=sources, label="style_transfer.source",
                   choices="style_transfer.source_", arguments=PICKER)


def sample(role: str, kind: str) -> Setting:
    """Which sample of `kind` is the role's picture (shown while the role's source is `kind`)."""
    names = artwork.SAMPLES[kind]
    return Setting(f"{role}_{kind}", "selectbox", names[0], options=names, label="style_transfer.sample",
                   choices="style_transfer.sample_", arguments={"label_visibility": "collapsed"})


def picture(s: dict[str, Any], role: str) -> tuple[str, str] | None:
    """The role's picture as (kind, name) when it is a sample; None for an upload or a photo taken,
    which only the page has (it keys such a picture by its digest)."""
    kind = s[f"{role}_source"]
    return (kind, s[f"{role}_{kind}"]) if kind in artwork.SAMPLES else None


def build(s: dict[str, Any]) -> tuple[style_transfer.StyleConfig, tuple]:
    """The run's config and, as its data key, the two pictures (content, style), each (kind, name)
    for a sample (`engine.artwork.sample_image` makes it again) or None for the page's own upload."""
    config = style_transfer.StyleConfig(
        size=s["size"], steps=s["steps"],
        coarse_steps=style_transfer.PRESETS[s["preset"]][2] if s["coarse"] else (),
        pyramid_levels=style_transfer.StyleConfig.pyramid_levels if s["pyramid"] else 1,   # 1: the pixels
        layer_weights=tuple(s[name] for name in LAYER_WEIGHTS), optimizer=s["optimizer"], init=s["init"],
        pooling=s["pooling"], preserve_colors=s["preserve_colors"], style_weight=s["style_weight"],
        content_weight=s["content_weight"], tv_weight=s["tv_weight"])
    return config, (picture(s, "content"), picture(s, "style"))


RUN = Experiment("style_transfer_run", "style_transfer", (
    source("content", CONTENT_SOURCES),
    sample("content", "photo"),
    source("style", STYLE_SOURCES),
    *(sample("style", kind) for kind in ("artwork", "texture", "photo")),
    Setting("preset", "selectbox", style_transfer.DEFAULT_PRESET, options=tuple(style_transfer.PRESETS),
            choices="style_transfer.preset_"),
    Setting("size", "slider", style_transfer.StyleConfig.size, 128, 512, 32, cap=256),
    Setting("steps", "slider", style_transfer.StyleConfig.steps, 5, 150, 5, cap=30),
    Setting("style_weight", "select_slider", 1.0, options=WEIGHTS),
    Setting("content_weight", "select_slider", 1.0, options=WEIGHTS),
    Setting("tv_weight", "select_slider", 0.1, options=TV_WEIGHTS),
    Setting("pyramid", "toggle", True),
    Setting("coarse", "toggle", False),
    Setting("optimizer", "radio", "lbfgs", options=("lbfgs", "adam"), choices="style_transfer.optimizer_",
            arguments={"horizontal": True}),
    Setting("init", "radio", "content", options=("content", "noise"), choices="style_transfer.init_",
            arguments={"horizontal": True}),
    Setting("pooling", "radio", "max", options=("max", "avg"), choices="style_transfer.pooling_",
            arguments={"horizontal": True}),
    Setting("preserve_colors", "toggle", False),
    *(Setting(name, "slider", 1.0, 0.0, 2.0, 0.1) for name in LAYER_WEIGHTS),
), build)

EXPERIMENTS = (RUN,)
