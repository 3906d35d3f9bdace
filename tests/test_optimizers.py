"""Optimizer engine: the written update rules equal torch.optim, and the races behave as claimed."""

import math

import pytest
import torch

from engine import optimizers


@pytest.mark.parametrize("name", optimizers.OPTIMIZERS)
def test_written_update_rule_matches_torch_optim_for_20_steps(name):
    generator = torch.Generator().manual_seed(optimizers.OPTIMIZERS.index(name))
    a = torch.randn(6, 4, generator=generator, dtype=torch.float64)
    b = torch.randn(6, generator=generator, dtype=torch.float64)
    start = torch.randn(4, generator=generator, dtype=torch.float64)
    settings = {"lr": 0.05} if name != "adadelta" else {"lr": 1.0}

    def gradient(p: torch.Tensor) -> torch.Tensor:      # of ||A p - b||^2 / 2
        return a.T @ (a @ p - b)

    ours, state = start.clone(), {}
    theirs = start.clone().requires_grad_(True)
    optimizer = optimizers.make(name, [theirs], settings)
    for _ in range(20):
        optimizers.reference_step(name, ours, gradient(ours), state, settings)
        theirs.grad = gradient(theirs.detach())
        optimizer.step()
    assert (ours - theirs.detach()).abs().max().item() <= 1e-6
    assert not torch.equal(ours, start)                # it did move


def test_rosenbrock_momentum_and_adam_arrive_plain_sgd_does_not():
    surface = optimizers.SURFACES["rosenbrock"]
    settings = {name: surface.recommended[name] for name in ("sgd", "momentum", "adam")}
    assert settings["sgd"]["lr"] == settings["momentum"]["lr"]          # same learning rate, no momentum
    result = optimizers.race("rosenbrock", settings, surface.steps)
    assert result["momentum"].distances[-1] < 1e-2 and result["adam"].distances[-1] < 1e-2
    assert result["sgd"].distances[-1] > 1e-2
    assert result["momentum"].steps_to_tolerance is not None and result["sgd"].steps_to_tolerance is None


def test_adagrad_effective_step_only_shrinks():
    p = torch.tensor([3.0, -2.0], dtype=torch.float64, requires_grad=True)
    optimizer = optimizers.make("adagrad", [p], {"lr": 0.5})
    effective = []
    for _ in range(50):
        optimizer.zero_grad()
        (p[0] ** 2 + 10 * torch.sin(p[1])).backward()
        optimizer.step()
        accumulated = optimizer.state[p]["sum"]
        effective.append(0.5 / (accumulated.sqrt() + 1e-10))
    steps = torch.stack(effective)
    assert (steps[1:] <= steps[:-1] + 1e-15).all() and (steps[-1] < steps[0]).all()


def test_race_starts_together_and_reports_distances():
    result = optimizers.race("himmelblau", {"sgd": {"lr": 0.01}, "adam": {"lr": 0.1}}, 100)
    for trajectory in result.values():
        assert torch.equal(trajectory.points[0], torch.tensor(optimizers.SURFACES["himmelblau"].start,
                                                              dtype=torch.float64))
        assert trajectory.points.shape == (101, 2) and trajectory.losses.shape == (101,)
        assert trajectory.distances[-1] < trajectory.distances[0]
    saddle = optimizers.race("saddle", {"sgd": {"lr": 0.01}}, 50)["sgd"]
    assert math.isnan(saddle.distances[-1]) and saddle.losses[-1] < saddle.losses[0]   # it slides off forever


def test_network_comparison_shares_start_and_reports_state_sizes():
    from engine import data

    digits = data.load_digits()
    config = optimizers.NetworkConfig(optimizers=("sgd", "momentum", "adam"), steps=120)
    steps = list(optimizers.compare_on_network(config, digits))
    last = steps[-1]
    parameters = (784 * 64 + 64 + 64 * 10 + 10) * 4                        # float32 bytes of the MLP
    assert last.extras["state_bytes"] == {"sgd": 0, "momentum": parameters, "adam": 2 * parameters}
    first_losses = {name: history["loss"][0] for name, history in last.extras["history"].items()}
    assert len(set(first_losses.values())) == 1                             # identical weights, identical batch
    assert all(last.metrics[f"{name}_accuracy"] > 0.8 for name in config.optimizers)
    assert set(last.extras["effective"]) == {"adam"} and (last.extras["effective"]["adam"] > 0).all()


def test_nesterov_with_momentum_zero_is_plain_sgd():
    """The page's momentum slider reaches 0, where torch refuses nesterov=True: the race still runs
    and Nesterov's path is plain SGD's."""
    result = optimizers.race("rosenbrock", {"sgd": {"lr": 1e-3}, "nesterov": {"lr": 1e-3, "momentum": 0.0}}, 50)
    assert torch.equal(result["sgd"].points, result["nesterov"].points)
