"""Page 63's settings: the data, the model and its training (one experiment, `regression_train`)."""

from typing import Any

from engine import regression
from ui.settings import Experiment, Setting

LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.05, 0.1, 0.3, 1.0)


def build(s: dict[str, Any]) -> tuple[regression.RegressionConfig, regression.DataConfig]:
    """The model's config and, as the run's data key, the generated data's config (a page trained on
    an uploaded CSV keys its run by the file instead)."""
    data = regression.DataConfig(function=s["function"], noise=s["noise"], num_points=s["points"],
                                 outlier_share=s["outliers"], train_share=s["train_share"], seed=s["seed"])
    model, loss = s["model"], s["loss"]
    return regression.RegressionConfig(
        model=model, degree=s["degree"] if model == "polynomial" else 1,
        hidden_width=s["width"] if model == "mlp" else 32, hidden_layers=s["layers"] if model == "mlp" else 2,
        loss=loss, huber_delta=s["huber_delta"] if loss == "huber" else 1.0, optimizer=s["optimizer"],
        learning_rate=s["learning_rate"], num_steps=s["steps"], normalize=s["normalize"]), data


TRAIN = Experiment("regression_train", "regression", (
    Setting("source", "radio", "generated", options=("generated", "csv"), choices="regression.source_",
            arguments={"horizontal": True}),
    Setting("function", "selectbox", "sine", options=tuple(regression.TRUE_FUNCTIONS),
            choices="regression.function_"),
    Setting("noise", "slider", 0.5, 0.0, 3.0, 0.1),
    Setting("train_share", "slider", 0.75, 0.5, 0.9, 0.05),
    Setting("points", "slider", 200, 10, 2000, 10),
    Setting("outliers", "slider", 0.0, 0.0, 0.3, 0.01),
    Setting("seed", "number_input", 0, 0, 10_000),
    Setting("model", "selectbox", "polynomial", options=("linear", "polynomial", "mlp"), choices="regression.model_"),
    Setting("degree", "slider", 5, 1, 15),
    Setting("width", "slider", 32, 4, 128, 4),
    Setting("layers", "slider", 2, 1, 4),
    Setting("learning_rate", "select_slider", 0.05, options=LEARNING_RATES),
    Setting("loss", "selectbox", "mse", options=("mse", "mae", "huber"), choices="regression.loss_"),
    Setting("huber_delta", "slider", 1.0, 0.1, 5.0, 0.1),
    Setting("optimizer", "selectbox", "adam", options=("sgd", "momentum", "adam"), choices="regression.optimizer_"),
    Setting("steps", "slider", 800, 10, 5000, 10, cap=2000),
    Setting("normalize", "toggle", True),
), build)

EXPERIMENTS = (TRAIN,)
