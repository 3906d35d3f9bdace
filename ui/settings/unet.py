"""Page 66's settings: the segmentation network and its generated shapes (`unet_train`, the main
experiment), and the denoiser trained on one photo (`unet_denoise`, named "denoise")."""

from typing import Any

from engine import images, unet
from ui.settings import Experiment, Setting

SHAPES = unet.ShapesConfig()       # the data's settings start at the engine's defaults (the challenge keeps them)


def build(s: dict[str, Any]) -> tuple[unet.SegmentationConfig, None]:
    """The segmentation config; no data key (the config holds the generated data's settings)."""
    low, high = s["size_range"]
    shapes = unet.ShapesConfig(objects=s["objects"], min_radius=low, max_radius=high, overlap=s["overlap"],
                               texture=s["texture"], noise=s["noise"], blur=s["blur"])
    return unet.SegmentationConfig(shapes=shapes, depth=s["depth"], base=s["base"], skips=s["skips"],
                                   upsampling=s["upsampling"], loss=s["loss"], steps=s["steps"]), None


def build_denoise(s: dict[str, Any]) -> tuple[unet.DenoiseConfig, None]:
    """The denoiser's config; the page keys its run by the picture's digest (an upload is no setting)."""
    return unet.DenoiseConfig(sigma=s["sigma"], steps=s["denoise_steps"]), None


TRAIN = Experiment("unet_train", "unet", (
    Setting("skips", "toggle", True),
    Setting("depth", "slider", 3, 1, 4),
    Setting("loss", "radio", "both", options=("both", "ce", "dice"), choices="unet.loss_",
            arguments={"horizontal": True}),
    Setting("steps", "slider", unet.SegmentationConfig.steps, 20, 1500, 20, cap=600),
    Setting("base", "select_slider", 8, options=(4, 8, 16)),
    Setting("upsampling", "radio", "transpose", options=("transpose", "bilinear"), choices="unet.upsampling_"),
    Setting("size_range", "slider", (SHAPES.min_radius, SHAPES.max_radius), 0.04, 0.3, 0.01),
    Setting("objects", "slider", SHAPES.objects, 1, 8),
    Setting("overlap", "toggle", SHAPES.overlap),
    Setting("texture", "slider", SHAPES.texture, 0.0, 1.0, 0.1),
    Setting("noise", "slider", SHAPES.noise, 0.0, 0.3, 0.02),
    Setting("blur", "slider", SHAPES.blur, 0.0, 2.0, 0.25),
), build)

DENOISE = Experiment("unet_denoise", "unet", (
    Setting("denoise_source", "selectbox", images.PHOTOS[0], options=(*images.PHOTOS, "upload"),
            choices="unet.denoise_source_"),
    Setting("sigma", "slider", 0.15, 0.05, 0.4, 0.05),
    Setting("denoise_steps", "slider", 300, 50, 1000, 50, cap=400),
), build_denoise, name="denoise")

EXPERIMENTS = (TRAIN, DENOISE)
