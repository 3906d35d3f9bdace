"""The settings of docs/example_page.py: a learning rate and a number of steps for page 63's engine."""

from engine import regression
from ui.settings import Experiment, Setting

TRAIN = Experiment("example_train", "example", (
    Setting("rate", "select_slider", 0.05, options=(0.001, 0.01, 0.05, 0.1, 0.5)),
    Setting("steps", "slider", 300, 50, 1000, 50, cap=500),
), lambda s: (regression.RegressionConfig(learning_rate=s["rate"], num_steps=s["steps"]), regression.DataConfig()))

EXPERIMENTS = (TRAIN,)
