"""Page 67's settings: the autoencoder, its bottleneck and its training on digits (one experiment,
`autoencoder_train`)."""

from typing import Any

from engine import autoencoder
from ui.settings import Experiment, Setting, dataset

LEARNING_RATES = (3e-4, 1e-3, 2e-3, 5e-3, 1e-2)
BETAS = (0.1, 0.3, 1.0, 3.0)


def build(s: dict[str, Any]) -> tuple[autoencoder.AutoencoderConfig, str]:
    """The model's config and, as the run's data key, the dataset it trains on. The classic model's
    code has three numbers by definition; a linear model has no variational form."""
    model = s["model"]
    variational = s["variational"] and model != "linear"
    return autoencoder.AutoencoderConfig(
        model=model, latent=3 if model == "classic" else s["latent"], variational=variational,
        beta=s["beta"] if variational else 1.0, noise=s["noise"], steps=s["steps"],
        learning_rate=s["learning_rate"]), s["dataset"]


TRAIN = Experiment("autoencoder_train", "autoencoder", (
    # drawn by ui.data_widgets.dataset_ui (which offers only the subset when hosted); the page records its source
    dataset(),
    Setting("model", "selectbox", "classic", options=("classic", "mlp", "conv", "linear"),
            choices="autoencoder.model_"),
    Setting("latent", "slider", 8, 1, 32),
    Setting("steps", "slider", autoencoder.AutoencoderConfig.steps, 50, 4000, 50, cap=2000),
    Setting("variational", "toggle", False),
    Setting("beta", "select_slider", 1.0, options=BETAS),
    Setting("noise", "slider", 0.0, 0.0, 0.6, 0.05),
    Setting("learning_rate", "select_slider", 2e-3, options=LEARNING_RATES),
), build)

EXPERIMENTS = (TRAIN,)
