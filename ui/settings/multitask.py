"""Page 61's settings: the model, its tasks and their weights, training, the digits (one experiment,
`multitask_train`)."""

from typing import Any

from engine import multitask
from ui.settings import Experiment, Setting, dataset

LEARNING_RATES = (5e-4, 1e-3, 2e-3, 5e-3)
WIDTHS = (32, 64, 128, 256)


def build(s: dict[str, Any]) -> tuple[multitask.MultitaskConfig, str]:
    """The config and, as the run's data key, the digits' source. A task's weight counts only with
    fixed weights and while the task is chosen; the separate networks are the model itself when it
    is "separate", so they are not trained twice."""
    architecture, tasks, weighting = s["architecture"], s["tasks"], s["weighting"]
    weights = dict.fromkeys(multitask.TASKS, 1.0)
    if weighting == "fixed":
        weights |= {task: s[f"weight_{task}"] for task in tasks}
    return multitask.MultitaskConfig(
        architecture=architecture, tasks=tuple(t for t in multitask.TASKS if t in tasks), weighting=weighting,
        weights=weights, width=s["width"], baselines=s["baselines"] and architecture != "separate",
        steps=s["steps"], learning_rate=s["learning_rate"]), s["dataset"]


TRAIN = Experiment("multitask_train", "multitask", (
    Setting("architecture", "selectbox", "multihead", options=multitask.ARCHITECTURES,
            choices="multitask.architecture_"),
    Setting("tasks", "multiselect", ("digit", "parity", "ink"), options=multitask.TASKS, choices="multitask.task_"),
    Setting("weighting", "radio", "fixed", options=("fixed", "uncertainty"), label="multitask.weighting_mode",
            choices="multitask.weighting_"),
    *(Setting(f"weight_{task}", "slider", 1.0, 0.0, 10.0, 0.1) for task in multitask.TASKS),
    Setting("baselines", "toggle", True),
    Setting("steps", "slider", multitask.MultitaskConfig.steps, 50, 1500, 50, cap=800),
    Setting("width", "select_slider", 128, options=WIDTHS),
    Setting("learning_rate", "select_slider", 2e-3, options=LEARNING_RATES),
    # the tasks are about digits: no Fashion-MNIST (`ui.data_widgets.dataset_ui` draws it)
    dataset(("subset", "MNIST")),            # tasks that only make sense for handwritten digits
), build)

EXPERIMENTS = (TRAIN,)
