"""Recurrent networks: forecasting a series, the long-memory adding problem, digits read row by
row, and the LSTM's gates read out step by step.

LSTM: Hochreiter & Schmidhuber (1997), with the forget gate of Gers, Schmidhuber & Cummins (2000).
GRU: Cho et al. (2014). Attention pooling over time steps: Bahdanau, Cho & Bengio (2015) style
additive scores. PyTorch stores an LSTM layer's four gate blocks in the order input, forget,
cell candidate, output (`weight_ih_l{k}` is (4H, input)); `unroll` relies on that order.
"""

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.data import ImageSplit, minibatches
from engine.device import device_of, run_device
from engine.errors import InputError
from engine.rng import RunRandom, build
from engine.training import Throttle, TrainingStep

CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
GATES = ("input", "forget", "candidate", "output")     # PyTorch's block order in the LSTM weights


class SequenceModel(nn.Module):
    """A recurrent layer stack read out into `outputs` numbers, by the last time step or by
    attention pooling over all of them.

    For a bidirectional layer the "last step" summary is the forward direction's state after the
    final step joined with the backward direction's state after *its* final step, which is time
    step 0: `out[:, -1]` alone would give a backward direction that has seen one step only."""

    def __init__(self, inputs: int, hidden: int, outputs: int, cell: str = "lstm", layers: int = 1,
                 bidirectional: bool = False, pooling: Literal["last", "attention"] = "last") -> None:
        super().__init__()
        self.hidden, self.bidirectional, self.pooling = hidden, bidirectional, pooling
        self.rnn = CELLS[cell](inputs, hidden, layers, batch_first=True, bidirectional=bidirectional)
        features = hidden * (2 if bidirectional else 1)
        self.remember_by_default()
        self.score = (nn.Sequential(nn.Linear(features, features), nn.Tanh(), nn.Linear(features, 1, bias=False))
                      if pooling == "attention" else None)
        self.head = nn.Linear(features, outputs)

    def forward(self, x: torch.Tensor, with_attention: bool = False):
        """x (N, T, inputs) -> (N, outputs), and the attention weights (N, T) if asked."""
        out, _ = self.rnn(x)                                     # (N, T, features)
        weights = None
        if self.score is not None:
            weights = torch.softmax(self.score(out).squeeze(-1), dim=1)
            summary = (weights.unsqueeze(-1) * out).sum(1)
        elif self.bidirectional:
            summary = torch.cat([out[:, -1, :self.hidden], out[:, 0, self.hidden:]], dim=1)
        else:
            summary = out[:, -1]
        result = self.head(summary)
        return (result, weights) if with_attention else result

    @torch.no_grad()
    def remember_by_default(self) -> None:
        """An LSTM's forget-gate biases set to 1, so it remembers by default at the start (Gers et
        al. 2000); the block after the input gate's in every `bias_ih`. Other cells are left as they are."""
        if isinstance(self.rnn, nn.LSTM):
            for name, parameter in self.rnn.named_parameters():
                if name.startswith("bias_ih"):
                    parameter[self.hidden:2 * self.hidden].fill_(1.0)


def new_model(generator: torch.Generator, device: torch.device, *args, **kwargs) -> SequenceModel:
    """`SequenceModel(*args, **kwargs)` initialised from `generator` (the weights PyTorch's defaults
    give after `torch.manual_seed` with the same seed), forget-gate biases at 1, on `device`."""
    model = build(lambda: SequenceModel(*args, **kwargs), generator, device)
    model.remember_by_default()
    return model


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """The model in eval mode for a read-out, then back in the mode it was in (a run may resume)."""
    training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(training)


def clipped_step(model: nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """One optimiser step with the gradient norm clipped at 1: recurrent nets' exploding gradients."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()


# ---------------------------------------------------------------- inside the LSTM

@dataclass(frozen=True)
class Internals:
    """One LSTM layer and direction over a batch: every tensor (N, T, H), in input time order."""

    gates: dict[str, torch.Tensor]      # "input", "forget", "output" in [0, 1]; "candidate" in [-1, 1]
    cell: torch.Tensor                  # c_t
    hidden: torch.Tensor                # h_t


@torch.no_grad()
def unroll(lstm: nn.LSTM, x: torch.Tensor) -> list[list[Internals]]:
    """Run `lstm` (batch_first) on x (N, T, inputs) with the equations written out, keeping every
    gate: result[layer][direction]. For each step t:
        i, f, o = sigmoid(W_i x_t + U_i h_{t-1} + b_i), ...   g = tanh(W_g x_t + U_g h_{t-1} + b_g)
        c_t = f * c_{t-1} + i * g          h_t = o * tanh(c_t)
    Its h_t equals nn.LSTM's own output (the tests check this)."""
    directions = 2 if lstm.bidirectional else 1
    layer_input = x
    result = []
    for layer in range(lstm.num_layers):
        per_direction = []
        for direction in range(directions):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            w_ih, w_hh = getattr(lstm, "weight_ih" + suffix), getattr(lstm, "weight_hh" + suffix)
            bias = getattr(lstm, "bias_ih" + suffix) + getattr(lstm, "bias_hh" + suffix)
            steps = layer_input.flip(1) if direction else layer_input
            projected = steps @ w_ih.T + bias                      # the input part of every step at once
            n, hidden = x.shape[0], lstm.hidden_size
            h, c = x.new_zeros(n, hidden), x.new_zeros(n, hidden)
            record = {name: [] for name in (*GATES, "cell", "hidden")}
            for t in range(steps.shape[1]):
                i, f, g, o = (projected[:, t] + h @ w_hh.T).chunk(4, dim=1)
                i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
                c = f * c + i * g
                h = o * torch.tanh(c)
                for name, value in zip((*GATES, "cell", "hidden"), (i, f, g, o, c, h), strict=True):
                    record[name].append(value)
            stacked = {name: torch.stack(values, 1) for name, values in record.items()}
            if direction:
                stacked = {name: value.flip(1) for name, value in stacked.items()}
            per_direction.append(Internals({g: stacked[g] for g in GATES}, stacked["cell"], stacked["hidden"]))
        result.append(per_direction)
        layer_input = torch.cat([d.hidden for d in per_direction], dim=2)
    return result


# ---------------------------------------------------------------- 1. forecasting

@dataclass(frozen=True)
class SeriesConfig:
    length: int = 600
    sine_amplitude: float = 1.0       # a sine of period 40 steps
    second_amplitude: float = 0.5     # and one of period 13 steps
    trend: float = 1.0                # total rise over the whole series
    season_amplitude: float = 0.8     # a square pulse: 5 high steps in every 25 ("weekends")
    noise: float = 0.1
    seed: int = 0


def synthetic_series(config: SeriesConfig) -> np.ndarray:
    t = np.arange(config.length, dtype=np.float64)
    rng = np.random.default_rng(config.seed)
    return (config.sine_amplitude * np.sin(2 * math.pi * t / 40)
            + config.second_amplitude * np.sin(2 * math.pi * t / 13)
            + config.trend * t / config.length
            + config.season_amplitude * ((t % 25) >= 20)
            + config.noise * rng.standard_normal(config.length))


@dataclass(frozen=True)
class ForecastConfig:
    window: int = 40                  # past values the model reads to predict the next one
    hidden: int = 32
    layers: int = 1
    bidirectional: bool = False       # reads the window both ways; the window is all past, so no leak
    relative: bool = True             # read the window relative to its last value and predict the change
    test_share: float = 0.2           # the last part of the series is held out
    steps: int = 600
    batch_size: int = 64
    learning_rate: float = 5e-3
    seed: int = 0
    device: str | None = None         # None: engine.device.pick_device()


@dataclass(frozen=True)
class Forecast:
    split: int                        # index of the first held-out value
    one_step: np.ndarray              # predictions for series[split:], each from the true previous window
    recursive: np.ndarray             # predictions for series[split:], each fed the model's own outputs


def clean_series(values: np.ndarray, window: int) -> tuple[np.ndarray, int]:
    """Finite values only (gaps dropped, and counted); long enough for windows on both sides of the split."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    kept = values[finite]
    minimum = 4 * window + 20
    if len(kept) < minimum:
        raise InputError("series_too_short", count=len(kept), minimum=minimum)
    if np.ptp(kept) == 0:
        raise InputError("series_constant")
    return kept, int((~finite).sum())


def _windows(series: torch.Tensor, window: int, targets: range) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (N, window, 1) ending just before each target index, and the targets (N,)."""
    index = torch.tensor(list(targets), device=series.device)
    offsets = torch.arange(-window, 0, device=series.device)
    return series[index.unsqueeze(1) + offsets].unsqueeze(-1), series[index]


def predict_next(model: SequenceModel, windows: torch.Tensor, relative: bool) -> torch.Tensor:
    """Windows (N, window, 1) -> next values (N,). Relative: the network sees the window minus its
    last value and predicts the change, so a level it never saw in training (a trend carried past
    the training range) looks familiar; an LSTM's saturating units cannot extrapolate levels."""
    if not relative:
        return model(windows).squeeze(1)
    anchor = windows[:, -1]                                  # (N, 1)
    return (model(windows - anchor.unsqueeze(1)) + anchor).squeeze(1)


@torch.no_grad()
def forecast(model: SequenceModel, series: torch.Tensor, window: int, split: int,
             relative: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """One-step predictions from true windows and a recursive multi-step forecast from `split` on
    (series (T,) on the model's device; the results come back to the host)."""
    with evaluating(model):
        inputs, _ = _windows(series, window, range(split, len(series)))
        one_step = predict_next(model, inputs, relative)
        history = series[split - window:split].clone()
        recursive = []
        for _ in range(len(series) - split):
            value = predict_next(model, history.view(1, window, 1), relative).squeeze()
            recursive.append(value)
            history = torch.cat([history[1:], value.view(1)])
    return one_step.cpu().numpy(), torch.stack(recursive).cpu().numpy()


def linear_autoregression_rmse(values: np.ndarray, window: int, split: int) -> float:
    """The classical reference: next value = least-squares linear function of the window (plus a
    constant), fitted on the training part, scored one step ahead on the held-out part."""
    index = np.arange(window, len(values))
    inputs = np.stack([values[i - window:i] for i in index])
    inputs = np.c_[inputs, np.ones(len(inputs))]
    train = index < split
    coefficients = np.linalg.lstsq(inputs[train], values[index[train]], rcond=None)[0]
    return float(np.sqrt(np.mean((inputs[~train] @ coefficients - values[index[~train]]) ** 2)))


def train_forecaster(config: ForecastConfig, values: np.ndarray) -> Iterator[TrainingStep]:
    """Train on windows whose target lies before the split; report test RMSE (original units) of
    one-step and recursive forecasts, next to two references: the naive "repeat the last value"
    forecast and a linear autoregression on the same window, on `run_device(config.device)`.
    Extras: `series`, `forecast` (a Forecast, original units), `history`, `dropped`, `device`, and
    `model` (the model so far, with the standardisation `mean`, `std` and the `split`)."""
    values, dropped = clean_series(values, config.window)
    device = run_device(config.device)
    random = RunRandom(config.seed, device)
    split = len(values) - max(int(len(values) * config.test_share), config.window)
    mean, std = values[:split].mean(), values[:split].std() or 1.0
    series = torch.tensor((values - mean) / std, dtype=torch.float32, device=device)
    train_x, train_y = _windows(series, config.window, range(config.window, split))
    model = new_model(torch.Generator().manual_seed(config.seed), device,
                      1, config.hidden, 1, "lstm", config.layers, config.bidirectional)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    batches = minibatches(len(train_x), config.batch_size, random.cpu)
    truth = values[split:]
    naive = float(np.sqrt(np.mean((values[split - 1:-1] - truth) ** 2)))
    linear = linear_autoregression_rmse(values, config.window, split)
    history: dict[str, list[float]] = {"step": [], "train": [], "one_step": [], "recursive": []}
    throttle = Throttle(config.steps, max_share=0.1)
    for step in range(config.steps):
        index = next(batches).to(device)
        loss = F.mse_loss(predict_next(model, train_x[index], config.relative), train_y[index])
        clipped_step(model, optimizer, loss)
        if not throttle.due(step):
            continue
        # The report's work (both forecasts, the curves) counts as the report's cost.
        one_step, recursive = forecast(model, series, config.window, split, config.relative)
        one_step, recursive = one_step * std + mean, recursive * std + mean
        rmse = {"one_step": float(np.sqrt(np.mean((one_step - truth) ** 2))),
                "recursive": float(np.sqrt(np.mean((recursive - truth) ** 2)))}
        for key, value in (("step", step + 1), ("train", loss.item()), *rmse.items()):
            history[key].append(value)
        extras = {"series": values, "forecast": Forecast(split, one_step, recursive), "dropped": dropped,
                  "history": {k: list(v) for k, v in history.items()}, "device": str(device),
                  "model": {"model": model, "mean": float(mean), "std": float(std), "split": split}}
        metrics = {"one_step_rmse": rmse["one_step"], "recursive_rmse": rmse["recursive"], "naive_rmse": naive,
                   "linear_rmse": linear}
        with throttle.reporting():
            yield TrainingStep(step + 1, config.steps, metrics, extras, throttle.training_seconds)
        model.train()                   # a lab may have read it in eval mode while the run was paused


def untrained_forecaster(config: ForecastConfig) -> SequenceModel:
    """The forecaster a run of `config` starts from: built from the run's seed as
    `train_forecaster` builds it, on the CPU."""
    return new_model(torch.Generator().manual_seed(config.seed), torch.device("cpu"),
                     1, config.hidden, 1, "lstm", config.layers, config.bidirectional)


@torch.inference_mode()
def forecast_step_zero(config: ForecastConfig, values: np.ndarray) -> TrainingStep:
    """Before any run, on the CPU: the series as a run cleans it (`series`, `dropped`), and the
    untrained forecaster's one-step and recursive forecasts of its held-out part (`forecast`) with
    their RMSEs, as a report has them."""
    values, dropped = clean_series(values, config.window)
    split = len(values) - max(int(len(values) * config.test_share), config.window)
    mean, std = values[:split].mean(), values[:split].std() or 1.0
    series = torch.tensor((values - mean) / std, dtype=torch.float32)
    one_step, recursive = forecast(untrained_forecaster(config), series, config.window, split, config.relative)
    one_step, recursive = one_step * std + mean, recursive * std + mean
    metrics = {f"{name}_rmse": float(np.sqrt(np.mean((predicted - values[split:]) ** 2)))
               for name, predicted in (("one_step", one_step), ("recursive", recursive))}
    return TrainingStep(0, config.steps, metrics,
                        {"series": values, "forecast": Forecast(split, one_step, recursive), "dropped": dropped})


# ---------------------------------------------------------------- 2. the adding problem

MEAN_BASELINE = 1 / 6       # predicting the mean sum (1) always: the variance of the sum of two U(0, 1)
SECOND_ONLY = 1 / 12        # remembering only the second marked value: the variance of the first, U(0, 1)
SOLVED_BELOW = 0.05         # a held-out MSE under this has carried the first marked value to the end


def adding_verdict(error: float) -> str | None:
    """What a held-out MSE on the adding problem says: "solved" below SOLVED_BELOW, "stuck" within 10 %
    of the mean predictor's MSE, else nothing (in between lies, for instance, remembering only the
    second value)."""
    if error < SOLVED_BELOW:
        return "solved"
    return "stuck" if error > 0.9 * MEAN_BASELINE else None


def adding_problem(count: int, length: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The adding problem in the form of Le, Jaitly & Hinton (2015) and Arjovsky, Shah & Bengio (2016):
    each step carries a random value in [0, 1] and a marker; exactly two steps are marked, one in each
    half; the target is the plain sum of the two marked values. (Hochreiter & Schmidhuber's 1997
    original drew values from [-1, 1], marked one of the first ten steps and one before the middle,
    and asked for 0.5 + sum / 4.) x (count, length, 2), y (count,), drawn where `generator` lives."""
    device = generator.device
    values = torch.rand(count, length, generator=generator, device=device)
    half = length // 2
    first = torch.randint(0, half, (count,), generator=generator, device=device)
    second = torch.randint(half, length, (count,), generator=generator, device=device)
    markers = torch.zeros(count, length, device=device)
    rows = torch.arange(count, device=device)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    return torch.stack([values, markers], dim=2), (values * markers).sum(1)


@dataclass(frozen=True)
class AddingConfig:
    length: int = 50
    cells: tuple[str, ...] = ("rnn", "gru", "lstm")
    hidden: int = 32
    steps: int = 600
    batch_size: int = 64
    learning_rate: float = 2e-2        # Adam, with gradient-norm clipping at 1
    test_size: int = 500
    seed: int = 0
    device: str | None = None          # None: engine.device.pick_device()


def train_adding(config: AddingConfig) -> Iterator[TrainingStep]:
    """Train one model per cell type side by side on the same fresh batches (drawn on
    `run_device(config.device)`). Metrics: test MSE per cell; extras: `history` (test MSE per cell
    over steps), `length`, `device`, and `model` (the models so far, by cell)."""
    if not config.cells:
        raise InputError("lstm_no_cell")
    device = run_device(config.device)
    random = RunRandom(config.seed, device)
    test_x, test_y = (t.to(device) for t in
                      adding_problem(config.test_size, config.length, torch.Generator().manual_seed(config.seed + 1)))
    models, optimizers = {}, {}
    for cell in config.cells:              # every cell starts from the same seed
        models[cell] = new_model(torch.Generator().manual_seed(config.seed), device, 2, config.hidden, 1, cell)
        optimizers[cell] = torch.optim.Adam(models[cell].parameters(), lr=config.learning_rate)
    history: dict[str, list[float]] = {"step": [], **{cell: [] for cell in config.cells}}
    throttle = Throttle(config.steps, max_share=0.1)
    for step in range(config.steps):
        x, y = adding_problem(config.batch_size, config.length, random.device)
        for cell, model in models.items():
            clipped_step(model, optimizers[cell], F.mse_loss(model(x).squeeze(1), y))
        if not throttle.due(step):
            continue
        with torch.no_grad():               # one transfer to the host for all cells
            errors = dict(zip(models, torch.stack([F.mse_loss(m(test_x).squeeze(1), test_y)
                                                   for m in models.values()]).tolist(), strict=True))
        history["step"].append(step + 1)
        for cell, error in errors.items():
            history[cell].append(error)
        extras = {"history": {k: list(v) for k, v in history.items()}, "length": config.length,
                  "device": str(device), "model": dict(models)}
        with throttle.reporting():
            yield TrainingStep(step + 1, config.steps, errors, extras, throttle.training_seconds)
        for model in models.values():       # a lab may have read them in eval mode while the run was paused
            model.train()


def untrained_adding(config: AddingConfig) -> dict[str, SequenceModel]:
    """The networks a race of `config` starts, by cell: each built from the run's seed as
    `train_adding` builds them, on the CPU."""
    return {cell: new_model(torch.Generator().manual_seed(config.seed), torch.device("cpu"), 2, config.hidden, 1, cell)
            for cell in config.cells}


@torch.inference_mode()
def adding_step_zero(config: AddingConfig) -> TrainingStep:
    """Before any run, on the CPU: each untrained network's held-out MSE (the metrics, and `history` at
    step 0, the start of the race's curves) and its answer for held-out sequence 0 (`answers`)."""
    test_x, test_y = adding_problem(config.test_size, config.length, torch.Generator().manual_seed(config.seed + 1))
    models = untrained_adding(config)
    errors = {cell: F.mse_loss(model(test_x).squeeze(1), test_y).item() for cell, model in models.items()}
    extras = {"history": {"step": [0], **{cell: [error] for cell, error in errors.items()}},
              "answers": answers(models, example_sequence(config.length, 0)[0])}
    return TrainingStep(0, config.steps, errors, extras)


def example_sequence(length: int, number: int) -> tuple[torch.Tensor, float]:
    """Held-out adding-problem sequence `number` (the same for every user): x (length, 2) and its sum."""
    x, y = adding_problem(1, length, torch.Generator().manual_seed(10_000 + number))
    return x[0], float(y[0])


@torch.no_grad()
def answers(models: dict[str, SequenceModel], x: torch.Tensor) -> dict[str, float]:
    """Each trained model's answer for one sequence x (length, 2), on the model's device."""
    result = {}
    for cell, model in models.items():
        with evaluating(model):
            result[cell] = float(model(x.unsqueeze(0).to(device_of(model)))[0, 0])
    return result


# ---------------------------------------------------------------- 3. digits read row by row

@dataclass(frozen=True)
class RowsConfig:
    hidden: int = 64
    layers: int = 1
    bidirectional: bool = False
    pooling: Literal["last", "attention"] = "last"
    steps: int = 500
    batch_size: int = 64
    learning_rate: float = 5e-3
    live_size: int = 300              # held-out digits scored for the live curve (all of them at the end)
    seed: int = 0
    device: str | None = None         # None: engine.device.pick_device()


def as_rows(images: torch.Tensor) -> torch.Tensor:
    """(N, 1, 28, 28) -> (N, 28, 28): 28 time steps, each one row of 28 pixels, top to bottom."""
    return images[:, 0]


@torch.no_grad()
def row_accuracy(model: SequenceModel, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of images (N, 1, 28, 28) classified right, read row by row."""
    with evaluating(model):
        return (model(as_rows(images)).argmax(1) == labels).float().mean().item()


def train_rows(config: RowsConfig, data: ImageSplit) -> Iterator[TrainingStep]:
    """An LSTM reads each digit one row per step and classifies it after the last row (or from
    attention pooling over all rows), on `run_device(config.device)`. Metrics: held-out accuracy
    (all test digits at the end, `live_size` of them before). Extras: `history`, `parameters`,
    `device`, and `model` (the model so far)."""
    device = run_device(config.device)
    random = RunRandom(config.seed, device)
    train_x, train_y = as_rows(data.train_x).to(device), data.train_y.to(device)     # (N, 28, 28), (N,)
    test_x, test_y = data.test_x.to(device), data.test_y.to(device)
    model = new_model(torch.Generator().manual_seed(config.seed), device,
                      28, config.hidden, 10, "lstm", config.layers, config.bidirectional, config.pooling)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    batches = minibatches(len(train_x), config.batch_size, random.cpu)
    history: dict[str, list[float]] = {"step": [], "train": [], "test": []}
    throttle = Throttle(config.steps, max_share=0.1)
    for step in range(config.steps):
        index = next(batches).to(device)
        loss = F.cross_entropy(model(train_x[index]), train_y[index])
        clipped_step(model, optimizer, loss)
        if not throttle.due(step):
            continue
        count = len(test_x) if step == config.steps - 1 else config.live_size
        accuracy = row_accuracy(model, test_x[:count], test_y[:count])
        train_loss = loss.item()
        for key, value in (("step", step + 1), ("train", train_loss), ("test", accuracy)):
            history[key].append(value)
        extras = {"history": {k: list(v) for k, v in history.items()}, "device": str(device), "model": model,
                  "parameters": sum(p.numel() for p in model.parameters())}
        with throttle.reporting():
            yield TrainingStep(step + 1, config.steps, {"accuracy": accuracy, "loss": train_loss}, extras,
                               throttle.training_seconds)
        model.train()                   # a lab may have read it in eval mode while the run was paused


def untrained_rows(config: RowsConfig) -> SequenceModel:
    """The digit reader a run of `config` starts from: built from the run's seed as `train_rows`
    builds it, on the CPU."""
    return new_model(torch.Generator().manual_seed(config.seed), torch.device("cpu"),
                     28, config.hidden, 10, "lstm", config.layers, config.bidirectional, config.pooling)


@torch.inference_mode()
def rows_step_zero(config: RowsConfig, data: ImageSplit, count: int = 10) -> TrainingStep:
    """Before any run, on the CPU: the untrained reader's accuracy on the digits a report scores (the
    metric, and `history` at step 0) and its answers (`answers`) for the first `count` test digits
    (`digits`, `labels`)."""
    model = untrained_rows(config)
    accuracy = row_accuracy(model, data.test_x[: config.live_size], data.test_y[: config.live_size])
    digits = data.test_x[:count].clone()      # not a view: the page caches the result, pickled with its storage
    with evaluating(model):
        answered = model(as_rows(digits)).argmax(1)
    extras = {"history": {"step": [0], "test": [accuracy]}, "digits": digits, "labels": data.test_y[:count].clone(),
              "answers": answered}
    return TrainingStep(0, config.steps, {"accuracy": accuracy}, extras)


@torch.no_grad()
def look_inside(model: SequenceModel, x: torch.Tensor) -> dict[str, object]:
    """For one input x (T, inputs): the model's output, its attention weights (or None) and the
    gate read-out of every LSTM layer and direction (batch dimension removed), all on the host."""
    batch = x.unsqueeze(0).to(device_of(model))
    with evaluating(model):
        output, attention = model(batch, with_attention=True)
    layers = [[Internals({g: v[0].cpu() for g, v in d.gates.items()}, d.cell[0].cpu(), d.hidden[0].cpu())
               for d in layer] for layer in unroll(model.rnn, batch)]
    return {"output": output[0].cpu(), "attention": None if attention is None else attention[0].cpu(),
            "layers": layers}
