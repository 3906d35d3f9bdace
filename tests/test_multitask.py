"""Page 61's engine: honest targets, parameter sharing, uncertainty weights, gradient cosines."""

import math

import pytest
import torch

from engine import data, multitask
from engine.errors import InputError


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


def test_targets_are_measured_on_the_pixels(digits):
    x, y = digits.train_x[:50], digits.train_y[:50]
    targets = multitask.raw_targets(x, y)
    assert torch.equal(targets["digit"], y)
    assert torch.equal(targets["parity"], (y % 2 == 1).float())
    assert torch.allclose(targets["ink"], x.flatten(1).mean(1))


@pytest.mark.parametrize("lean", [-0.5, 0.0, 0.4])
def test_slant_of_a_drawn_stroke_is_its_lean(lean):
    """A one-pixel stroke whose column moves `lean` to the right per row upwards has slant `lean`."""
    image = torch.zeros(1, 1, 28, 28)
    for row in range(4, 24):
        column = 14 + lean * (14 - row)        # rows grow downwards: higher up = further right
        left = math.floor(column)
        image[0, 0, row, left] += 1 - (column - left)        # split between two pixels: exact centroid
        image[0, 0, row, left + 1] += column - left
    assert multitask.slant(image).item() == pytest.approx(lean, abs=1e-4)


def test_shared_models_have_fewer_parameters_than_separate_networks():
    tasks = ("digit", "parity", "ink")
    separate = multitask.parameter_count(multitask.build("separate", tasks, 128))
    for architecture in ("multihead", "towers"):
        shared = multitask.parameter_count(multitask.build(architecture, tasks, 128))
        assert shared < separate / 2


def test_gradient_cosine_matches_a_direct_computation(digits):
    torch.manual_seed(0)
    model = multitask.build("multihead", ("digit", "parity", "slant"), 64)
    prepared = multitask.prepare(digits)
    x = prepared.train_x[:32]
    outputs = model(x)
    losses = {t: multitask.task_loss(t, outputs[t], prepared.train[t][:32]) for t in outputs}
    measured = multitask.gradient_cosines(model, losses)
    direct = {}
    for task, loss in losses.items():          # one backward per task, reading .grad of the trunk
        model.zero_grad()
        loss.backward(retain_graph=True)
        direct[task] = torch.cat([p.grad.flatten() for p in model.trunk.parameters()])
    for pair, value in measured.items():
        a, b = pair.split("|")
        expected = (direct[a] @ direct[b]) / (direct[a].norm() * direct[b].norm())
        assert value == pytest.approx(expected.item(), abs=1e-5)
    assert set(measured) == {"digit|parity", "digit|slant", "parity|slant"}
    assert multitask.gradient_cosines(multitask.build("separate", ("digit", "ink"), 64), losses) == {}


def test_uncertainty_loss_is_kendalls_formula():
    weights = multitask.UncertaintyWeights(("digit", "ink"))
    with torch.no_grad():
        weights.log_variance.copy_(torch.tensor([0.5, -1.0]))
    losses = {"digit": torch.tensor(2.0), "ink": torch.tensor(0.3)}
    expected = math.exp(-0.5) * 2.0 + 0.25 + 0.5 * math.exp(1.0) * 0.3 - 0.5
    assert weights(losses).item() == pytest.approx(expected, rel=1e-6)
    assert weights.effective() == pytest.approx({"digit": math.exp(-0.5), "ink": 0.5 * math.exp(1.0)})


def test_multihead_defaults_learn_every_task(digits):
    # The separate baselines are seeded and built apart, so leaving them out changes nothing here.
    *_, last = multitask.train(multitask.MultitaskConfig(baselines=False), digits)
    assert last.metrics["multihead/digit"] >= 0.90        # on the 1,000 held-out digits
    assert last.metrics["multihead/parity"] >= 0.90
    assert last.metrics["multihead/ink"] >= 0.9           # R^2
    history = last.extras["history"]
    assert history["loss/digit"][-1] < history["loss/digit"][0] / 5
    assert {"cosine/digit|parity", "cosine/digit|ink", "cosine/parity|ink"} <= set(history)
    assert all(-1 <= v <= 1 for v in history["cosine/digit|ink"])


def test_uncertainty_weights_are_trained_and_stay_finite(digits):
    config = multitask.MultitaskConfig(weighting="uncertainty", baselines=False, steps=300,
                                       tasks=("digit", "parity", "slant"))
    *_, last = multitask.train(config, digits)
    history = last.extras["history"]
    for task in config.tasks:
        weights = history[f"weight/{task}"]
        assert all(math.isfinite(w) and w > 0 for w in weights)
        assert max(abs(w - weights[0]) for w in weights) > 0.1        # they move
    assert last.metrics["multihead/digit"] > 0.8


def test_towers_and_baselines_report_every_model(digits):
    config = multitask.MultitaskConfig(architecture="towers", tasks=("parity", "ink"), steps=60)
    *_, last = multitask.train(config, digits)
    assert set(last.extras["parameters"]) == {"towers", "separate"}
    assert last.extras["parameters"]["towers"] < last.extras["parameters"]["separate"]
    assert set(last.extras["models"]) == {"towers", "separate"}
    assert all(seconds > 0 for seconds in last.extras["seconds"].values())
    assert set(last.metrics) == {"towers/parity", "towers/ink", "separate/parity", "separate/ink"}


@pytest.mark.parametrize(("changes", "key"), [({"tasks": ()}, "multitask_no_task"),
                                             ({"tasks": ("digit", "colour")}, "multitask_unknown"),
                                             ({"weights": {"digit": 0.0, "parity": 0.0, "ink": 0.0}},
                                              "multitask_zero_weights")])
def test_impossible_settings_are_input_errors(digits, changes, key):
    with pytest.raises(InputError) as caught:
        next(multitask.train(multitask.MultitaskConfig(**changes), digits))
    assert caught.value.key == key
