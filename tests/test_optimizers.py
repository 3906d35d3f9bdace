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


def test_network_comparison_shares_start_and_reports_state_sizes(digits):
    config = optimizers.NetworkConfig(optimizers=("sgd", "momentum", "adam"), steps=120)
    steps = list(optimizers.compare_on_network(config, digits))
    last = steps[-1]
    parameters = (784 * 64 + 64 + 64 * 10 + 10) * 4                        # float32 bytes of the MLP
    assert last.extras["state_bytes"] == {"sgd": 0, "momentum": parameters, "adam": 2 * parameters}
    first_losses = {name: history["loss"][0] for name, history in last.extras["history"].items()}
    assert len(set(first_losses.values())) == 1                             # identical weights, identical batch
    assert all(last.metrics[f"{name}_accuracy"] > 0.8 for name in config.optimizers)
    assert set(last.extras["effective"]) == {"adam"} and (last.extras["effective"]["adam"] > 0).all()


@pytest.fixture(scope="module")
def digits():
    from engine import data

    return data.load_digits()


def test_network_trains_on_the_run_device(picked_device, digits):

    calls = picked_device               # engine.device.pick_device, spied: returns the CPU
    *_, last = optimizers.compare_on_network(optimizers.NetworkConfig(optimizers=("adam",), hidden=8, steps=3),
                                             digits)
    assert calls and last.extras["device"] == "cpu"
    assert all(p.device == torch.device("cpu") for p in last.extras["model"]["adam"].parameters())


def test_network_report_before_the_end_holds_the_models(digits):
    config = optimizers.NetworkConfig(optimizers=("sgd", "adam"), hidden=8, steps=50)
    steps = optimizers.compare_on_network(config, digits)
    first = next(steps)
    steps.close()
    assert first.step < config.steps and set(first.extras["model"]) == {"sgd", "adam"}
    with torch.no_grad():
        logits = first.extras["model"]["adam"](digits.test_x[:5])
    assert logits.shape == (5, 10) and torch.isfinite(logits).all()


def _fed(name: str, gradients: torch.Tensor, settings: dict[str, float]) -> torch.optim.Optimizer:
    """An optimizer of `name` that has taken one step per row of `gradients` (T, 3) on a 3-vector."""
    p = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    optimizer = optimizers.make(name, [p], settings)
    for g in gradients:
        p.grad = g.clone()
        optimizer.step()
    return optimizer


@pytest.mark.parametrize("steps", [1, 2, 7, 40])
def test_adam_effective_step_is_lr_over_the_bias_corrected_root_mean_square(steps):
    """The chart's Adam values against the closed form: v_hat_t = (1 - b2) sum_i b2^(t-i) g_i^2 / (1 - b2^t),
    step size lr / (sqrt(v_hat_t) + eps). Without the correction the early steps would be far larger
    (by 1 / sqrt(1 - b2^t): about 32 times at t = 1 with b2 = 0.999). The third parameter never gets a
    gradient and is left out."""
    generator = torch.Generator().manual_seed(steps)
    gradients = torch.randn(steps, 3, generator=generator, dtype=torch.float64)
    gradients[:, 2] = 0.0
    for name, beta2 in (("adam", 0.999), ("adam", 0.9), ("adamw", 0.99)):
        settings = {"lr": 0.01, "beta2": beta2}
        effective = optimizers.effective_steps(name, _fed(name, gradients, settings), settings)
        weights = beta2 ** torch.arange(steps - 1, -1, -1, dtype=torch.float64)            # b2^(t-i)
        v_hat = (1 - beta2) * (weights[:, None] * gradients[:, :2] ** 2).sum(0) / (1 - beta2 ** steps)
        assert torch.allclose(effective, 0.01 / (v_hat.sqrt() + 1e-8), rtol=1e-10), (name, beta2)
    if steps == 1:                                    # v_hat_1 = g_1^2: the first step is lr / |g| exactly
        assert torch.allclose(effective, 0.01 / (gradients[0, :2].abs() + 1e-8), rtol=1e-10)


def test_adagrad_and_rmsprop_effective_steps_are_their_closed_forms():
    """Adagrad: lr / (sqrt(sum g^2) + eps); RMSprop: lr / (sqrt(E[g^2]) + eps) with no bias correction
    (so after one step E[g^2] = (1 - alpha) g^2); the other methods have no per-parameter step."""
    gradients = torch.randn(12, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    gradients[:, 2] = 0.0
    squares = gradients[:, :2] ** 2
    adagrad = optimizers.effective_steps("adagrad", _fed("adagrad", gradients, {"lr": 0.5}), {"lr": 0.5})
    assert torch.allclose(adagrad, 0.5 / (squares.sum(0).sqrt() + 1e-10), rtol=1e-10)
    rmsprop = optimizers.effective_steps("rmsprop", _fed("rmsprop", gradients[:1], {"lr": 0.01}), {"lr": 0.01})
    assert torch.allclose(rmsprop, 0.01 / ((0.01 * squares[0]).sqrt() + 1e-8), rtol=1e-10)
    for name in ("sgd", "momentum", "adadelta"):
        assert optimizers.effective_steps(name, _fed(name, gradients, {}), {}) is None


def test_nesterov_with_momentum_zero_is_plain_sgd():
    """The page's momentum slider reaches 0, where torch refuses nesterov=True: the race still runs
    and Nesterov's path is plain SGD's."""
    result = optimizers.race("rosenbrock", {"sgd": {"lr": 1e-3}, "nesterov": {"lr": 1e-3, "momentum": 0.0}}, 50)
    assert torch.equal(result["sgd"].points, result["nesterov"].points)


# --- What the page's text says about the races, checked against the races themselves ------------------------

SADDLE_FASTER = ("momentum", "nesterov", "adadelta", "rmsprop", "adam")


@pytest.mark.slow
@pytest.mark.parametrize("height", [5e-4, 1e-3, 2e-3])
def test_on_the_saddle_adagrad_escapes_later_than_sgd_and_the_others_sooner(height):
    """Prompt 3, from three heights above the ridge: at the recommended rates Adagrad steps off the ridge
    before SGD (its first step is the full rate) but gets the loss below -1 much later (its step shrinks)."""
    surface = optimizers.SURFACES["saddle"]
    result = optimizers.race("saddle", {n: surface.recommended[n] for n in ("sgd", "adagrad", *SADDLE_FASTER)},
                             900, start=(surface.start[0], height))
    escape = {name: trajectory.steps_to_escape for name, trajectory in result.items()}
    assert escape["sgd"] is not None and escape["sgd"] < 450, escape
    assert escape["adagrad"] is None or escape["adagrad"] > 2 * escape["sgd"], escape    # not even in twice the time
    assert all(escape[name] < escape["sgd"] / 2 for name in SADDLE_FASTER), escape
    off_ridge = {name: int(torch.nonzero(t.points[:, 1].abs() > 0.1)[0]) for name, t in result.items()}
    assert off_ridge["adagrad"] < off_ridge["sgd"] / 5


def test_adagrad_step_shrinks_like_one_over_root_t():
    """With a gradient of constant size the accumulated sum is t g^2, so step t is exactly lr / sqrt(t)."""
    p = torch.tensor([0.0], dtype=torch.float64, requires_grad=True)
    optimizer = optimizers.make("adagrad", [p], {"lr": 0.1})
    positions = [0.0]
    for _ in range(100):
        optimizer.zero_grad()
        (3.0 * p).sum().backward()
        optimizer.step()
        positions.append(p.item())
    steps = -torch.tensor(positions, dtype=torch.float64).diff()
    assert torch.allclose(steps, 0.1 / torch.arange(1, 101, dtype=torch.float64).sqrt(), rtol=1e-8)


def test_bowl_tuning_is_gohs_closed_form_and_beats_gradient_descent():
    """The Hessian of 0.5 (x^2 + 50 y^2) is diag(1, 50): Goh's tuned heavy ball reaches the minimum in far
    fewer steps than plain gradient descent at its own best rate, and than momentum 0.9 at lr 0.01."""
    tuning = optimizers.quadratic_tuning("bowl")
    low, high = tuning.curvatures
    assert (low, high) == pytest.approx((1.0, 50.0))
    assert tuning.gd_rate == pytest.approx(2 / 51)
    assert tuning.heavy_ball_rate == pytest.approx((2 / (math.sqrt(50) + 1)) ** 2)
    assert tuning.heavy_ball_momentum == pytest.approx(((math.sqrt(50) - 1) / (math.sqrt(50) + 1)) ** 2)
    surface = optimizers.SURFACES["bowl"]
    result = optimizers.race("bowl", {
        "sgd": {"lr": tuning.gd_rate},
        "momentum": {"lr": tuning.heavy_ball_rate, "momentum": tuning.heavy_ball_momentum},
        "nesterov": surface.recommended["momentum"] | {"momentum": 0.9}}, surface.steps)   # PyTorch's habit
    gd, heavy_ball = result["sgd"].steps_to_tolerance, result["momentum"].steps_to_tolerance
    habit = optimizers.race("bowl", {"momentum": surface.recommended["momentum"] | {"momentum": 0.9}},
                            surface.steps)["momentum"].steps_to_tolerance
    assert heavy_ball < gd / 3 and heavy_ball < habit / 2
    # Goh's rates: the error shrinks like ((k-1)/(k+1))^t for GD and ((sqrt k-1)/(sqrt k+1))^t for the heavy ball
    distance = math.dist(surface.start, (0, 0)) / 1e-2
    assert gd == pytest.approx(math.log(distance) / math.log(51 / 49), rel=0.1)


def test_adagrad_and_adam_set_off_at_45_degrees_on_the_bowl():
    """Prompt 1: their first steps are sign-like (|dx| = |dy|) although the gradient is 16.7 times steeper in y;
    SGD's first step follows the gradient."""
    surface = optimizers.SURFACES["bowl"]
    result = optimizers.race("bowl", {n: surface.recommended[n] for n in ("sgd", "adagrad", "adam")}, 5)
    for name in ("adagrad", "adam"):
        moves = result[name].points.diff(dim=0).abs()                              # (5, 2)
        first = moves[0] if name == "adagrad" else moves[:4]                  # Adam: the first four, within 5%
        assert torch.allclose(first[..., 0], first[..., 1], rtol=0.05), (name, moves)
    sgd = result["sgd"].points.diff(dim=0).abs()[0]
    assert sgd[1] / sgd[0] == pytest.approx(50 * 1.5 / 4.5)


def test_on_the_plateau_only_the_methods_that_divide_by_the_gradient_cross():
    surface = optimizers.SURFACES["plateau"]
    result = optimizers.race("plateau", {n: surface.recommended[n] for n in optimizers.OPTIMIZERS}, surface.steps)
    for name in ("sgd", "momentum", "nesterov", "adadelta"):       # Adadelta: a step of lr * g there (below)
        assert (result[name].points[-1] - result[name].points[0]).norm() < 0.01, name
    for name in ("adagrad", "rmsprop", "adam"):
        assert result[name].steps_to_tolerance is not None, name


def test_contour_heights_are_log_one_plus_loss_above_the_grid_minimum():
    """The chart's title says what is plotted: log(1 + L - L_min), defined on the saddle where L < 0."""
    xs, ys, z = optimizers.contour_grid("saddle", resolution=41)
    grid = torch.tensor(z)
    assert grid.min().item() == 0.0
    x, y = xs[7], ys[30]
    floor = min(a * a - b * b for a in xs for b in ys)
    assert grid[30, 7].item() == pytest.approx(math.log1p(x * x - y * y - floor))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_race_cards_state_their_settings_in_words(lang):
    """Each race card's question names its surface's start, its race length and every racer's rate."""
    from engine.cards import optimizers as cards
    from ui.i18n import translate

    for card in cards.CARDS:
        if card.experiment != cards.RACE:
            continue
        question = translate(f"optimizers.card_{card.id}_question", lang).replace(",", "")
        (settings,) = card.runs
        assert str(settings["steps"]) in question, card.id
        assert f"({settings['start_x']:g}".replace("-", "−") in question.replace(" ", ""), card.id
        for name in settings["racers"]:
            assert f"{settings[f'lr_{name}']:g}" in question, (card.id, name)


def test_the_declared_race_at_its_defaults_is_the_bowl_the_page_opens_on():
    """The race the declaration builds from its defaults is the bowl's own: its start, length and rates."""
    from ui.settings.optimizers import RACE

    (surface, racers, steps, start), _ = RACE.config()
    spec = optimizers.SURFACES[surface]
    assert (surface, steps, start) == ("bowl", spec.steps, spec.start)
    assert dict(racers)["adam"] == (("beta2", 0.999), ("lr", spec.recommended["adam"]["lr"]))


def test_adadelta_first_step_is_sqrt_eps_over_one_minus_rho():
    """The rules text: Adadelta's first step is sqrt(eps / (1 - rho)) (about 3 sqrt(eps)) times lr."""
    for gradient in (2.0, 300.0):            # |g| well above sqrt(eps)
        p = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
        optimizer = torch.optim.Adadelta([p])
        p.grad = torch.tensor([gradient], dtype=torch.float64)
        optimizer.step()
        assert 1 - p.item() == pytest.approx(math.sqrt(1e-6 / (1 - 0.9)), rel=1e-3)


def test_on_the_plateau_adadelta_steps_lr_times_the_gradient_as_sgd_does():
    """The plateau card's reason: there g^2 (about 1e-13) is far below eps = 1e-6, so Adadelta's two
    roots are both about sqrt(eps) and its step is lr * g, SGD's rule. On a steep slope, where
    (1 - rho) g^2 >> eps, the first step is lr * sqrt(eps / (1 - rho)) whatever g is."""
    surface = optimizers.SURFACES["plateau"]
    start = torch.tensor(surface.start, dtype=torch.float64)
    point = start.clone().requires_grad_(True)
    gradient = torch.autograd.grad(surface.function(*point), point)[0]
    assert gradient.square().max() < 1e-12                            # far below eps = 1e-6
    lr = surface.recommended["adadelta"]["lr"]
    moved = {}
    for name, optimizer in (("adadelta", torch.optim.Adadelta), ("sgd", torch.optim.SGD)):
        point = start.clone().requires_grad_(True)
        step = optimizer([point], lr=lr)
        for _ in range(3):
            step.zero_grad()
            surface.function(*point).backward()
            step.step()
        moved[name] = point.detach() - start
    assert torch.allclose(moved["adadelta"], moved["sgd"], rtol=1e-6)  # three steps of -lr * g each
    assert torch.allclose(moved["sgd"], -3 * lr * gradient, rtol=1e-5)

    rho, eps = 0.9, 1e-6                                              # torch.optim.Adadelta's defaults
    for slope in (0.1, 3.0, 50.0):
        point = torch.tensor([0.0], dtype=torch.float64, requires_grad=True)
        step = torch.optim.Adadelta([point], lr=1.0)
        (slope * point).sum().backward()
        step.step()
        assert -point.item() == pytest.approx(math.sqrt(eps / (1 - rho)), rel=1e-3)
