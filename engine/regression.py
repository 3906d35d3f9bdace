"""Regression: fit a line, a polynomial or a small MLP by gradient descent, and check it against least squares.

The workflow every supervised model follows: prepare and normalise the data, build the model,
choose a loss and an optimizer, train, evaluate on held-out points, predict. Huber loss:
Huber (1964), "Robust Estimation of a Location Parameter".
"""

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Literal

import torch
from torch import nn

from engine.device import seed_everything, set_cpu_threads
from engine.errors import InputError
from engine.training import Throttle, TrainingStep

TRUE_FUNCTIONS = {
    "linear": lambda x: 1.5 * x + 2.0,
    "quadratic": lambda x: 0.4 * (x - 5.0) ** 2 + 1.0,
    "sine": lambda x: 3.0 * torch.sin(0.9 * x) + 0.3 * x,
}
X_RANGE = (0.0, 10.0)   # raw inputs on a realistic scale, so normalisation visibly matters
OUTLIER_SHIFT = 12.0    # outliers sit this far (or up to twice as far) above the true curve


@dataclass(frozen=True)
class DataConfig:
    function: Literal["linear", "quadratic", "sine"] = "sine"
    noise: float = 0.5             # std of the Gaussian noise added to y
    num_points: int = 200          # train + test
    outlier_share: float = 0.0     # share of *training* points pushed far above the curve
    train_share: float = 0.75      # the rest is the clean held-out test set
    seed: int = 0


@dataclass(frozen=True)
class RegressionData:
    x_train: torch.Tensor          # (N, 1)
    y_train: torch.Tensor          # (N, 1)
    x_test: torch.Tensor           # (M, 1)
    y_test: torch.Tensor           # (M, 1)
    outliers: torch.Tensor         # (N,) bool: training points that were pushed away
    function: str | None = None    # the true function, when the data is generated


@dataclass(frozen=True)
class RegressionConfig:
    model: Literal["linear", "polynomial", "mlp"] = "polynomial"
    degree: int = 5                # polynomial degree (the "linear" model is degree 1)
    hidden_width: int = 32         # MLP units per hidden layer
    hidden_layers: int = 2         # MLP hidden layers
    loss: Literal["mse", "mae", "huber"] = "mse"
    huber_delta: float = 1.0       # where Huber turns from quadratic to linear, in the units the loss sees
                                   # (standardised y when `normalize` is on: δ·σ_y in the data's units)
    optimizer: Literal["sgd", "momentum", "adam"] = "adam"
    learning_rate: float = 0.05
    num_steps: int = 800           # full-batch steps
    normalize: bool = True         # standardise features and target with training statistics
    seed: int = 0
    eval_every: int = 0            # steps between train/test evaluations; 0 = about 200 over the run
    grid_points: int = 200         # where the fitted curve is drawn


def points(data: RegressionData) -> dict[str, list[float]]:
    """The data as plain lists for drawing: inlier, outlier and test x/y, and the true curve."""
    inliers = ~data.outliers
    result = {
        "train_x": data.x_train[inliers, 0].tolist(), "train_y": data.y_train[inliers, 0].tolist(),
        "outlier_x": data.x_train[data.outliers, 0].tolist(), "outlier_y": data.y_train[data.outliers, 0].tolist(),
        "test_x": data.x_test[:, 0].tolist(), "test_y": data.y_test[:, 0].tolist(),
    }
    if data.function:
        x = torch.linspace(*X_RANGE, 200)
        result["true_x"], result["true_y"] = x.tolist(), TRUE_FUNCTIONS[data.function](x).tolist()
    return result


def make_data(config: DataConfig) -> RegressionData:
    """Sample x uniformly on X_RANGE, y = f(x) + noise, split, then add outliers to the training part."""
    if config.num_points < 4:
        raise InputError("too_few_points", count=config.num_points, minimum=4)
    generator = seed_everything(config.seed)
    x = torch.empty(config.num_points, 1).uniform_(*X_RANGE, generator=generator)
    y = TRUE_FUNCTIONS[config.function](x) + config.noise * torch.randn(x.shape, generator=generator)
    data = split(x, y, config.train_share, generator, function=config.function)
    num_outliers = round(config.outlier_share * len(data.x_train))
    chosen = torch.randperm(len(data.x_train), generator=generator)[:num_outliers]
    outliers = torch.zeros(len(data.x_train), dtype=torch.bool)
    outliers[chosen] = True
    shift = OUTLIER_SHIFT * (1 + torch.rand(num_outliers, 1, generator=generator))
    y_train = data.y_train.clone()
    y_train[chosen] += shift
    return replace(data, y_train=y_train, outliers=outliers)


def split(x: torch.Tensor, y: torch.Tensor, train_share: float, generator: torch.Generator,
          function: str | None = None) -> RegressionData:
    """Random train/test split of (N, 1) tensors; both parts keep at least two points."""
    n = len(x)
    num_train = min(max(2, round(train_share * n)), n - 2)
    if n < 4:
        raise InputError("too_few_points", count=n, minimum=4)
    order = torch.randperm(n, generator=generator)
    train, test = order[:num_train], order[num_train:]
    return RegressionData(x[train], y[train], x[test], y[test],
                          torch.zeros(num_train, dtype=torch.bool), function)


def from_arrays(x, y, train_share: float, seed: int = 0) -> RegressionData:
    """User data (two 1-D float arrays) -> a random train/test split, as float32 (N, 1) tensors."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(x, dtype=torch.float32).reshape(-1, 1)
    y = torch.as_tensor(y, dtype=torch.float32).reshape(-1, 1)
    return split(x, y, train_share, generator)


class Features(nn.Module):
    """x (N, 1) -> the model's inputs: powers z^1..z^d (polynomial) or z itself (MLP).

    With `normalize` on, z = (x - mean) / std is centred *before* the powers are taken, and each
    power is then standardised, all with training statistics. The centring is what conditions the
    powers: x, x², x³ on [0, 10] all grow together (nearly parallel columns), z, z², z³ on about
    [-1.7, 1.7] do not. With it off, z = x and the raw powers go in unchanged."""

    def __init__(self, x_train: torch.Tensor, degree: int, normalize: bool) -> None:
        super().__init__()
        self.degree, self.normalize = degree, normalize
        self.register_buffer("x_mean", x_train.mean() if normalize else torch.tensor(0.0))
        self.register_buffer("x_std", x_train.std().clamp_min(1e-12) if normalize else torch.tensor(1.0))
        self.register_buffer("f_mean", torch.zeros(degree))
        self.register_buffer("f_std", torch.ones(degree))
        if normalize:
            raw = self.powers(x_train)
            self.f_mean, self.f_std = raw.mean(0), raw.std(0).clamp_min(1e-12)

    def powers(self, x: torch.Tensor) -> torch.Tensor:
        z = (x - self.x_mean) / self.x_std
        return z ** torch.arange(1, self.degree + 1, dtype=x.dtype, device=x.device)   # (N, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.powers(x) - self.f_mean) / self.f_std


class Regressor(nn.Module):
    """Features -> model -> y in original units (the target scaling is undone inside)."""

    def __init__(self, config: RegressionConfig, data: RegressionData) -> None:
        super().__init__()
        degree = 1 if config.model in ("linear", "mlp") else config.degree
        self.features = Features(data.x_train, degree, config.normalize)
        y = data.y_train
        self.register_buffer("y_mean", y.mean() if config.normalize else torch.tensor(0.0))
        self.register_buffer("y_std", y.std().clamp_min(1e-12) if config.normalize else torch.tensor(1.0))
        if config.model == "mlp":
            layers: list[nn.Module] = []
            width_in = 1
            for _ in range(config.hidden_layers):
                layers += [nn.Linear(width_in, config.hidden_width), nn.Tanh()]
                width_in = config.hidden_width
            self.net = nn.Sequential(*layers, nn.Linear(width_in, 1))
        else:
            self.net = nn.Linear(degree, 1)

    def scaled_target(self, y: torch.Tensor) -> torch.Tensor:
        return (y - self.y_mean) / self.y_std

    def forward_scaled(self, x: torch.Tensor) -> torch.Tensor:
        """Prediction in the target's training units, (N, 1): what the loss sees."""
        return self.net(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_scaled(x) * self.y_std + self.y_mean


def loss_function(config: RegressionConfig, y_scale: float = 1.0) -> nn.Module:
    """The chosen loss for residuals measured in units of `y_scale` (1: the units training sees).
    Huber's bend moves with the units: Huber_{δσ}(σr) = σ² Huber_δ(r), like MSE's σ²."""
    delta = config.huber_delta * y_scale
    return {"mse": nn.MSELoss(), "mae": nn.L1Loss(), "huber": nn.HuberLoss(delta=delta)}[config.loss]


def make_optimizer(config: RegressionConfig, params) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.learning_rate)
    momentum = 0.9 if config.optimizer == "momentum" else 0.0
    return torch.optim.SGD(params, lr=config.learning_rate, momentum=momentum)


@torch.no_grad()
def evaluate(model: Regressor, config: RegressionConfig, data: RegressionData) -> dict[str, float]:
    """The chosen loss and the MSE on train and test, in the data's original units (the training
    loss rescaled: MSE and Huber by σ_y², MAE by σ_y)."""
    criterion = loss_function(config, y_scale=model.y_std.item())
    metrics = {}
    for part, x, y in (("train", data.x_train, data.y_train), ("test", data.x_test, data.y_test)):
        prediction = model(x)
        metrics[f"{part}_loss"] = criterion(prediction, y).item()
        metrics[f"{part}_mse"] = nn.functional.mse_loss(prediction, y).item()
    return metrics


def grid(data: RegressionData, points: int) -> torch.Tensor:
    """(points, 1) evenly spaced over the range of all x values."""
    x = torch.cat([data.x_train, data.x_test])
    return torch.linspace(x.min().item(), x.max().item(), points).unsqueeze(1)


def train(config: RegressionConfig, data: RegressionData) -> Iterator[TrainingStep]:
    """Full-batch gradient descent on the chosen loss; yields a TrainingStep at a throttled rate.

    Each step's `extras` hold the evaluation history so far (`history`: step, train and test loss
    and MSE), the fitted curve on a grid (`grid_x`, `grid_y`) and, on the last step, the model.
    """
    set_cpu_threads()
    seed_everything(config.seed)
    model = Regressor(config, data)
    optimizer = make_optimizer(config, model.parameters())
    criterion = loss_function(config)
    target = model.scaled_target(data.y_train)
    x_grid = grid(data, config.grid_points)
    eval_every = config.eval_every or max(1, config.num_steps // 200)
    history: dict[str, list[float]] = {"step": [], "train_loss": [], "test_loss": [],
                                       "train_mse": [], "test_mse": []}
    throttle = Throttle(config.num_steps)
    for step in range(config.num_steps):
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(model.forward_scaled(data.x_train), target)
        loss.backward()
        optimizer.step()
        diverged = not math.isfinite(loss.item())
        last = diverged or step == config.num_steps - 1
        if step % eval_every == 0 or last:
            metrics = evaluate(model, config, data)
            history["step"].append(step + 1)
            for name, value in metrics.items():
                history[name].append(value)
        if throttle.due(step) or last:
            with torch.no_grad():
                curve = model(x_grid).squeeze(1)
            extras = {"history": {k: list(v) for k, v in history.items()},
                      "grid_x": x_grid.squeeze(1), "grid_y": curve, "diverged": diverged}
            if last:
                extras["model"] = model.eval()
            with throttle.reporting():
                yield TrainingStep(step + 1, config.num_steps, metrics, extras, throttle.training_seconds)
            if diverged:
                return


@torch.no_grad()
def predict(model: Regressor, xs: list[float]) -> list[float]:
    """The trained model's y for each x, in the data's units."""
    return model(torch.tensor(xs, dtype=torch.float32).unsqueeze(1)).squeeze(1).tolist()


@dataclass(frozen=True)
class LeastSquaresFit:
    grid_x: torch.Tensor           # (G,)
    grid_y: torch.Tensor           # (G,)
    train_mse: float
    test_mse: float


def least_squares(config: RegressionConfig, data: RegressionData) -> LeastSquaresFit | None:
    """The exact minimiser of the training MSE over the same polynomial features (None for an MLP).

    Solved in float64 on the powers of the centred x (`Features` with `normalize` on): they span the
    same functions as raw powers but are far better conditioned, so the answer is exact even when
    gradient descent struggles. When XᵀX is singular (fewer distinct x than d + 1) many
    coefficient vectors reach the same minimal MSE; `lstsq` returns one of them.
    """
    if config.model == "mlp":
        return None
    degree = 1 if config.model == "linear" else config.degree
    features = Features(data.x_train.double(), degree, normalize=True)

    def design(x: torch.Tensor) -> torch.Tensor:
        f = features(x.double())
        return torch.cat([f, torch.ones(len(f), 1, dtype=f.dtype)], dim=1)   # (N, d + 1), last column: intercept

    weights = torch.linalg.lstsq(design(data.x_train), data.y_train.double()).solution
    x_grid = grid(data, config.grid_points)

    def mse(x: torch.Tensor, y: torch.Tensor) -> float:
        return (design(x) @ weights - y.double()).pow(2).mean().item()

    return LeastSquaresFit(x_grid.squeeze(1), (design(x_grid) @ weights).squeeze(1).float(),
                           mse(data.x_train, data.y_train), mse(data.x_test, data.y_test))
