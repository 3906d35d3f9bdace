"""Regression: fit a line, a polynomial or a small MLP by gradient descent, and check it against least squares.

The workflow every supervised model follows: prepare and normalise the data, build the model,
choose a loss and an optimizer, train, evaluate on held-out points, predict. Huber loss:
Huber (1964), "Robust Estimation of a Location Parameter".
"""

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Literal

import torch
from torch import nn

from engine.device import device_of, run_device
from engine.errors import InputError
from engine.rng import RunRandom, build
from engine.training import Throttle, TrainingStep

TRUE_FUNCTIONS = {
    "linear": lambda x: 1.5 * x + 2.0,
    "quadratic": lambda x: 0.4 * (x - 5.0) ** 2 + 1.0,
    "sine": lambda x: 3.0 * torch.sin(0.9 * x) + 0.3 * x,
}
X_RANGE = (0.0, 10.0)   # raw inputs on a realistic scale, so normalisation visibly matters
OUTLIER_SHIFT = 12.0    # outliers sit this far (or up to twice as far) above the true curve


REPORT_FRAMES = 60        # at least this many reports per run, so a paced run can be watched


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
    seed: int = 0                  # the initial weights
    eval_every: int = 0            # steps between train/test evaluations; 0 = about 200 over the run
    grid_points: int = 200         # where the fitted curve is drawn
    device: str | None = None      # None: engine.device.pick_device()


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
    generator = torch.Generator().manual_seed(config.seed)
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


def _net(config: RegressionConfig, degree: int) -> nn.Module:
    """The trainable part: (N, d) features -> (N, 1) in the target's training units."""
    if config.model != "mlp":
        return nn.Linear(degree, 1)
    layers: list[nn.Module] = []
    width_in = 1
    for _ in range(config.hidden_layers):
        layers += [nn.Linear(width_in, config.hidden_width), nn.Tanh()]
        width_in = config.hidden_width
    return nn.Sequential(*layers, nn.Linear(width_in, 1))


class Regressor(nn.Module):
    """Features -> model -> y in original units (the target scaling is undone inside)."""

    def __init__(self, config: RegressionConfig, data: RegressionData, generator: torch.Generator) -> None:
        """Scalings from the training data; the weights drawn from `generator` exactly as PyTorch's
        defaults draw them after `torch.manual_seed`."""
        super().__init__()
        degree = 1 if config.model in ("linear", "mlp") else config.degree
        self.features = Features(data.x_train, degree, config.normalize)
        y = data.y_train
        self.register_buffer("y_mean", y.mean() if config.normalize else torch.tensor(0.0))
        self.register_buffer("y_std", y.std().clamp_min(1e-12) if config.normalize else torch.tensor(1.0))
        self.net = build(lambda: _net(config, degree), generator)

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


METRICS = ("train_loss", "train_mse", "test_loss", "test_mse")


@torch.no_grad()
def evaluate(model: Regressor, criterion: nn.Module, parts: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """(4,) METRICS on the device, in the data's original units: `criterion` is the training loss
    rescaled (MSE and Huber by σ_y², MAE by σ_y). `parts`: x_train, y_train, x_test, y_test.
    Left on the device: the run reads them only when it reports."""
    x_train, y_train, x_test, y_test = parts
    values = []
    for x, y in ((x_train, y_train), (x_test, y_test)):
        prediction = model(x)
        values += [criterion(prediction, y), nn.functional.mse_loss(prediction, y)]
    return torch.stack(values)


def grid(data: RegressionData, points: int) -> torch.Tensor:
    """(points, 1) evenly spaced over the range of all x values."""
    x = torch.cat([data.x_train, data.x_test])
    return torch.linspace(x.min().item(), x.max().item(), points).unsqueeze(1)


def train(config: RegressionConfig, data: RegressionData) -> Iterator[TrainingStep]:
    """Full-batch gradient descent on the chosen loss on `run_device(config.device)`; yields a
    TrainingStep at a throttled rate, and stops at the first step whose loss is not finite.

    Each step's `extras` hold the evaluation history so far (`history`: step, train and test loss
    and MSE), the fitted curve on a grid (`grid_x`, `grid_y`), `diverged`, the model trained so far
    (`model`), the data it was trained on (`data`), the exact least-squares fit to compare with
    (`least_squares`, None for an MLP) and `device`.
    """
    device = run_device(config.device)
    model = Regressor(config, data, RunRandom(config.seed).cpu).to(device)
    optimizer = make_optimizer(config, model.parameters())
    criterion = loss_function(config)
    reported = loss_function(config, y_scale=model.y_std.item())
    parts = tuple(t.to(device) for t in (data.x_train, data.y_train, data.x_test, data.y_test))
    target = model.scaled_target(parts[1])
    x_grid = grid(data, config.grid_points)
    grid_on_device = x_grid.to(device)
    fit = least_squares(config, data)
    eval_every = config.eval_every or max(1, config.num_steps // 200)
    history: dict[str, list[float]] = {"step": []} | {name: [] for name in METRICS}
    pending: list[tuple[int, torch.Tensor]] = []        # (step, METRICS) not yet read back from the device
    losses: list[torch.Tensor] = []                     # the training losses since the last report
    throttle = Throttle(config.num_steps, frames=REPORT_FRAMES)
    for step in range(config.num_steps):
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(model.forward_scaled(parts[0]), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
        if step % eval_every == 0 or step == config.num_steps - 1:
            pending.append((step + 1, evaluate(model, reported, parts)))
        if not throttle.due(step):
            continue
        finite = torch.isfinite(torch.stack(losses)).tolist()     # the report reads the device: once, here
        diverged = not all(finite)
        number = step + 2 - len(losses) + finite.index(False) if diverged else step + 1
        losses = []
        if diverged:                                    # report the step it happened at, as if stopped there
            pending = [(done, values) for done, values in pending if done <= number]
            if not pending or pending[-1][0] != number:
                pending.append((number, evaluate(model, reported, parts)))
        if pending:
            history["step"] += [done for done, _ in pending]
            rows = torch.stack([values for _, values in pending]).tolist()
            for name, column in zip(METRICS, zip(*rows, strict=True), strict=True):
                history[name] += column
            pending = []
        metrics = {name: history[name][-1] for name in METRICS}
        with torch.no_grad():
            curve = model(grid_on_device).squeeze(1).cpu()
        extras = {"history": {k: list(v) for k, v in history.items()}, "grid_x": x_grid.squeeze(1),
                  "grid_y": curve, "diverged": diverged, "model": model, "data": data, "least_squares": fit,
                  "device": str(device)}
        with throttle.reporting():
            yield TrainingStep(number, config.num_steps, metrics, extras, throttle.training_seconds)
        if diverged:
            return


def untrained(config: RegressionConfig, data: RegressionData) -> Regressor:
    """The model a run of `config` on `data` starts from: built from the run's seed as `train`
    builds it, on the CPU."""
    return Regressor(config, data, RunRandom(config.seed).cpu)


@torch.inference_mode()
def step_zero(config: RegressionConfig, data: RegressionData) -> TrainingStep:
    """Before any run, on the CPU: the untrained model's curve (`grid_x`, `grid_y` as a report has
    them), the exact least-squares fit it will be compared with, and its training and test MSE."""
    model = untrained(config, data)
    x_grid = grid(data, config.grid_points)
    values = evaluate(model, nn.MSELoss(), (data.x_train, data.y_train, data.x_test, data.y_test)).tolist()
    extras = {"grid_x": x_grid.squeeze(1), "grid_y": model(x_grid).squeeze(1),
              "least_squares": least_squares(config, data)}
    return TrainingStep(0, config.num_steps, dict(zip(METRICS, values, strict=True)), extras)


@torch.no_grad()
def predict(model: Regressor, xs: list[float]) -> list[float]:
    """The trained model's y for each x, in the data's units."""
    x = torch.tensor(xs, dtype=torch.float32, device=device_of(model)).unsqueeze(1)
    return model(x).squeeze(1).tolist()


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
