"""Optimizers: the update rules of SGD, momentum, Nesterov, Adagrad, Adadelta, RMSprop, Adam and AdamW,
raced on 2-D loss surfaces with the real `torch.optim` classes.

`reference_step` restates each rule exactly as the page writes it; the tests check it against
torch.optim, so the equations on the page are proven to be what PyTorch runs.
Adagrad: Duchi, Hazan & Singer (2011). Adadelta: Zeiler (2012) and RMSprop: Hinton's lecture 6e (2012),
found independently, both replace Adagrad's growing sum by a moving average. Adam: Kingma & Ba (2015).
AdamW: Loshchilov & Hutter (2019). Nesterov momentum: Sutskever et al. (2013). Tuned heavy ball on a
quadratic: Goh, "Why Momentum Really Works", Distill (2017).
"""

import copy
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch

from engine.data import ImageSplit, minibatches
from engine.device import run_device
from engine.rng import RunRandom, build
from engine.training import Throttle, TrainingStep

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam", "adamw")
DEFAULTS: dict[str, dict[str, float]] = {     # PyTorch's defaults, momentum 0.9 for the momentum methods
    "sgd": {"lr": 0.01},
    "momentum": {"lr": 0.01, "momentum": 0.9},
    "nesterov": {"lr": 0.01, "momentum": 0.9},
    "adagrad": {"lr": 0.01, "eps": 1e-10},
    "adadelta": {"lr": 1.0, "rho": 0.9, "eps": 1e-6},
    "rmsprop": {"lr": 0.01, "alpha": 0.99, "eps": 1e-8},
    "adam": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    "adamw": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01},
}


def make(name: str, params, settings: dict[str, float] | None = None) -> torch.optim.Optimizer:
    """The torch.optim optimizer for `name`, with DEFAULTS overridden by `settings`."""
    s = {**DEFAULTS[name], **(settings or {})}
    if name == "sgd":                      # foreach=False: one tiny tensor, the plain loop is fastest
        return torch.optim.SGD(params, lr=s["lr"], foreach=False)
    if name in ("momentum", "nesterov"):
        # With momentum 0 Nesterov's update is plain SGD; torch refuses nesterov=True there, so say it plainly.
        return torch.optim.SGD(params, lr=s["lr"], momentum=s["momentum"],
                               nesterov=name == "nesterov" and s["momentum"] > 0, foreach=False)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=s["lr"], eps=s["eps"], foreach=False)
    if name == "adadelta":
        return torch.optim.Adadelta(params, lr=s["lr"], rho=s["rho"], eps=s["eps"], foreach=False)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=s["lr"], alpha=s["alpha"], eps=s["eps"], foreach=False)
    betas = (s["beta1"], s["beta2"])
    if name == "adam":
        return torch.optim.Adam(params, lr=s["lr"], betas=betas, eps=s["eps"], foreach=False)
    return torch.optim.AdamW(params, lr=s["lr"], betas=betas, eps=s["eps"], weight_decay=s["weight_decay"],
                             foreach=False)


def reference_step(name: str, p: torch.Tensor, g: torch.Tensor, state: dict, settings: dict[str, float]) -> None:
    """One update of parameter `p` (in place) with gradient `g`, written as the page's equations."""
    s = {**DEFAULTS[name], **settings}
    lr = s["lr"]
    t = state["t"] = state.get("t", 0) + 1
    if name == "sgd":
        p -= lr * g
    elif name in ("momentum", "nesterov"):
        v = state["v"] = g.clone() if t == 1 else s["momentum"] * state["v"] + g          # velocity
        p -= lr * (g + s["momentum"] * v if name == "nesterov" else v)
    elif name == "adagrad":
        G = state["G"] = state.get("G", torch.zeros_like(p)) + g * g                     # sum of g², only grows
        p -= lr * g / (G.sqrt() + s["eps"])
    elif name == "adadelta":
        Eg = state["Eg"] = s["rho"] * state.get("Eg", torch.zeros_like(p)) + (1 - s["rho"]) * g * g
        Edx = state.get("Edx", torch.zeros_like(p))
        dx = (Edx + s["eps"]).sqrt() / (Eg + s["eps"]).sqrt() * g                        # units of p, no lr needed
        state["Edx"] = s["rho"] * Edx + (1 - s["rho"]) * dx * dx
        p -= lr * dx
    elif name == "rmsprop":
        Eg = state["Eg"] = s["alpha"] * state.get("Eg", torch.zeros_like(p)) + (1 - s["alpha"]) * g * g
        p -= lr * g / (Eg.sqrt() + s["eps"])
    else:                                                                                # adam, adamw
        if name == "adamw":
            p *= 1 - lr * s["weight_decay"]                                              # decoupled decay
        m = state["m"] = s["beta1"] * state.get("m", torch.zeros_like(p)) + (1 - s["beta1"]) * g
        v = state["v"] = s["beta2"] * state.get("v", torch.zeros_like(p)) + (1 - s["beta2"]) * g * g
        m_hat, v_hat = m / (1 - s["beta1"] ** t), v / (1 - s["beta2"] ** t)
        p -= lr * m_hat / (v_hat.sqrt() + s["eps"])


@dataclass(frozen=True)
class Surface:
    function: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    start: tuple[float, float]
    minima: tuple[tuple[float, float], ...]           # empty: no minimum (the saddle falls forever)
    recommended: dict[str, dict[str, float]] = field(default_factory=dict)   # per optimizer settings
    steps: int = 500                                  # a race long enough to tell the racers apart
    escape_loss: float | None = None                  # no minimum: a racer has escaped once its loss is this low


def _rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


SURFACES = {
    "bowl": Surface(lambda x, y: 0.5 * (x**2 + 50 * y**2), (-5, 5), (-2, 2), (-4.5, 1.5), ((0.0, 0.0),),
                    {"sgd": {"lr": 0.035}, "momentum": {"lr": 0.01}, "nesterov": {"lr": 0.01},
                     "adagrad": {"lr": 1.0}, "adadelta": {"lr": 10.0}, "rmsprop": {"lr": 0.05},
                     "adam": {"lr": 0.2}, "adamw": {"lr": 0.2}}),
    "rosenbrock": Surface(_rosenbrock, (-2, 2), (-1, 3), (-1.5, 2.5), ((1.0, 1.0),),
                          {"sgd": {"lr": 0.0015}, "momentum": {"lr": 0.0015}, "nesterov": {"lr": 0.001},
                           "adagrad": {"lr": 0.5}, "adadelta": {"lr": 10.0}, "rmsprop": {"lr": 0.01},
                           "adam": {"lr": 0.1}, "adamw": {"lr": 0.1}}, steps=1000),
    "beale": Surface(lambda x, y: (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2,
                     (-4.5, 4.5), (-4.5, 4.5), (1.0, 1.4), ((3.0, 0.5),),
                     {"sgd": {"lr": 0.01}, "momentum": {"lr": 0.002}, "nesterov": {"lr": 0.002},
                      "adagrad": {"lr": 0.5}, "adadelta": {"lr": 10.0}, "rmsprop": {"lr": 0.01},
                      "adam": {"lr": 0.05}, "adamw": {"lr": 0.05}}),
    "himmelblau": Surface(lambda x, y: (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2, (-5, 5), (-5, 5), (0.0, -0.5),
                          ((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)),
                          {"sgd": {"lr": 0.01}, "momentum": {"lr": 0.002}, "nesterov": {"lr": 0.002},
                           "adagrad": {"lr": 0.5}, "adadelta": {"lr": 10.0}, "rmsprop": {"lr": 0.05},
                           "adam": {"lr": 0.1}, "adamw": {"lr": 0.1}}),
    "saddle": Surface(lambda x, y: x**2 - y**2, (-2, 2), (-2, 2), (-1.5, 1e-3), (),
                      {name: {"lr": 0.01} for name in OPTIMIZERS} | {"adadelta": {"lr": 1.0}},
                      escape_loss=-1.0),                   # about |y| > 1: off the ridge, well down the slope
    "plateau": Surface(lambda x, y: 1 - torch.exp(-0.5 * (x**2 + y**2)), (-6, 6), (-6, 6), (-4.5, 3.5),
                       ((0.0, 0.0),),
                       {"sgd": {"lr": 1.0}, "momentum": {"lr": 0.5}, "nesterov": {"lr": 0.5},
                        "adagrad": {"lr": 0.5}, "adadelta": {"lr": 10.0}, "rmsprop": {"lr": 0.05},
                        "adam": {"lr": 0.1}, "adamw": {"lr": 0.1}}),
}


@dataclass(frozen=True)
class Trajectory:
    points: torch.Tensor          # (steps + 1, 2): the start, then the point after each step
    losses: torch.Tensor          # (steps + 1,)
    distances: torch.Tensor       # (steps + 1,) to the nearest minimum (NaN on the saddle)
    steps_to_tolerance: int | None   # first step within `tolerance` of a minimum, if any
    steps_to_escape: int | None      # surfaces without a minimum: first step at or below the escape loss


def race(surface: str, settings: dict[str, dict[str, float]], steps: int = 500,
         start: tuple[float, float] | None = None, tolerance: float = 1e-2) -> dict[str, Trajectory]:
    """Run each optimizer in `settings` (name -> hyperparameters) from the same start on a 2-parameter
    tensor, with the real torch.optim class; returns each one's trajectory."""
    spec = SURFACES[surface]
    start = start or spec.start
    minima = torch.tensor(spec.minima) if spec.minima else None
    params = {name: torch.tensor(start, dtype=torch.float64, requires_grad=True) for name in settings}
    optimizers = {name: make(name, [params[name]], hp) for name, hp in settings.items()}
    points = {name: [params[name].detach().clone()] for name in settings}
    losses = {name: [] for name in settings}
    names = list(params)
    for _ in range(steps):
        # One forward and one backward for all racers: the loss is evaluated row-wise on the stacked
        # points, so each racer's leaf tensor still gets exactly its own gradient.
        stacked = torch.stack([params[name] for name in names])                  # (K, 2)
        values = spec.function(stacked[:, 0], stacked[:, 1])                       # (K,)
        for optimizer in optimizers.values():
            optimizer.zero_grad(set_to_none=True)
        values.sum().backward()
        for name, value in zip(names, values.tolist(), strict=True):
            optimizers[name].step()
            losses[name].append(value)
            points[name].append(params[name].detach().clone())
    result = {}
    for name, p in params.items():
        path = torch.stack(points[name])
        with torch.no_grad():
            final = spec.function(p[0], p[1]).item()
        heights = torch.tensor([*losses[name], final])
        if minima is not None:
            distance = torch.cdist(path, minima.double()).min(dim=1).values
            first = _first(distance <= tolerance)
        else:
            distance, first = torch.full((len(path),), math.nan, dtype=torch.float64), None
        escape = _first(heights <= spec.escape_loss) if spec.escape_loss is not None else None
        result[name] = Trajectory(path, heights, distance, first, escape)
    return result


def _first(mask: torch.Tensor) -> int | None:
    """Index of the first True in a 1-D mask (the step it happened at), None if never."""
    hits = torch.nonzero(mask).flatten()
    return int(hits[0]) if len(hits) else None


@dataclass(frozen=True)
class QuadraticTuning:
    curvatures: tuple[float, float]   # lambda_min, lambda_max: eigenvalues of the Hessian at the minimum
    gd_rate: float                    # 2 / (lambda_min + lambda_max): plain gradient descent's fastest rate
    heavy_ball_rate: float            # Goh (2017): alpha = (2 / (sqrt(lambda_max) + sqrt(lambda_min)))^2
    heavy_ball_momentum: float        # beta = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^2, kappa = max / min


def quadratic_tuning(surface: str) -> QuadraticTuning:
    """The best constant settings for plain gradient descent and for the heavy ball (PyTorch's
    momentum form v <- beta v + g, theta <- theta - alpha v, which is Goh's) on the quadratic that
    matches `surface` at its first minimum; exact for the bowl, a local guide elsewhere."""
    spec = SURFACES[surface]
    minimum = torch.tensor(spec.minima[0], dtype=torch.float64)
    hessian = torch.autograd.functional.hessian(lambda p: spec.function(p[0], p[1]), minimum)
    low, high = torch.linalg.eigvalsh(hessian).tolist()        # ascending; both > 0 at a strict minimum
    root_kappa = math.sqrt(high / low)
    return QuadraticTuning((low, high), 2 / (low + high), (2 / (math.sqrt(high) + math.sqrt(low))) ** 2,
                           ((root_kappa - 1) / (root_kappa + 1)) ** 2)


def contour_grid(surface: str, resolution: int = 120) -> tuple[list[float], list[float], list[list[float]]]:
    """x values, y values and log(1 + loss - the grid's lowest loss) on a grid, for a contour plot
    (shifted so that it is defined on surfaces that go below zero, like the saddle)."""
    spec = SURFACES[surface]
    xs = torch.linspace(*spec.x_range, resolution, dtype=torch.float64)
    ys = torch.linspace(*spec.y_range, resolution, dtype=torch.float64)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")
    values = spec.function(gx, gy)
    return xs.tolist(), ys.tolist(), torch.log1p(values - values.min()).tolist()


@dataclass(frozen=True)
class NetworkConfig:
    optimizers: tuple[str, ...] = ("sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw")
    settings: tuple[tuple[str, float], ...] = ()   # (optimizer, learning rate) overrides of NETWORK_LR
    hidden: int = 64                 # one hidden layer: 784 -> hidden -> 10
    steps: int = 600                 # minibatch steps for each optimizer
    batch_size: int = 64
    seed: int = 0                    # the shared initial weights and the batch order
    device: str | None = None        # None: engine.device.pick_device()


NETWORK_LR = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.05, "adadelta": 1.0,
              "rmsprop": 0.001, "adam": 0.002, "adamw": 0.002}     # sensible starting points for this MLP


def _network(hidden: int) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, hidden), torch.nn.ReLU(),
                               torch.nn.Linear(hidden, 10))


def state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes of tensors the optimizer keeps per parameter (momentum buffers, moment estimates...)."""
    return sum(v.numel() * v.element_size() for s in optimizer.state.values() for v in s.values()
               if isinstance(v, torch.Tensor) and v.dim() > 0)


def effective_steps(name: str, optimizer: torch.optim.Optimizer, settings: dict[str, float]) -> torch.Tensor | None:
    """Per-parameter effective learning rate of an adaptive method right now (None for the others):
    Adagrad lr/(sqrt(G)+eps) with G the sum of squared gradients, RMSprop lr/(sqrt(E[g^2])+eps) with a
    moving average, Adam lr/(sqrt(v_hat)+eps) with the bias-corrected moving average. Parameters
    that have never had a gradient (the weights of always-blank pixels) are left out."""
    s = {**DEFAULTS[name], **settings}
    squares = []                     # what each method divides by the root of, per parameter
    for state in optimizer.state.values():
        if name == "adagrad":
            squares.append(state["sum"])
        elif name == "rmsprop":
            squares.append(state["square_avg"])
        elif name in ("adam", "adamw"):
            squares.append(state["exp_avg_sq"] / (1 - s["beta2"] ** float(state["step"])))
        else:
            return None
    if not squares:
        return None
    accumulated = torch.cat([q.flatten() for q in squares])
    return s["lr"] / (accumulated[accumulated > 0].sqrt() + s["eps"])


class _Clock:
    """Time spent in one optimizer's steps. On a CUDA device the kernels run after the Python calls
    return, so each step is timed by a pair of CUDA events, read only when the run reports."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.seconds = 0.0
        self._events: list[tuple[torch.cuda.Event, torch.cuda.Event]] = []
        self._start = 0.0

    def start(self) -> None:
        if self.cuda:
            self._events.append((torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)))
            self._events[-1][0].record()
        else:
            self._start = time.perf_counter()

    def stop(self) -> None:
        if self.cuda:
            self._events[-1][1].record()
        else:
            self.seconds += time.perf_counter() - self._start

    def read(self) -> float:
        """Seconds so far (waits for the device on CUDA: call it only when reporting)."""
        if self._events:
            self._events[-1][1].synchronize()
            self.seconds += sum(begin.elapsed_time(end) for begin, end in self._events) / 1000
            self._events = []
        return self.seconds


def compare_on_network(config: NetworkConfig, data: ImageSplit) -> Iterator[TrainingStep]:
    """Train the same MLP (identical initial weights, identical batches) once per optimizer, in
    lockstep, on `run_device(config.device)`; yields TrainingSteps with each optimizer's loss, test
    accuracy, time per step, state bytes and (adaptive ones) the current effective step sizes, the
    models so far (`model`, by optimizer) and `device`."""
    device = run_device(config.device)
    initial = build(lambda: _network(config.hidden), RunRandom(config.seed).cpu, device)
    lrs = NETWORK_LR | dict(config.settings)
    models, opts, clocks = {}, {}, {}
    for name in config.optimizers:
        models[name] = copy.deepcopy(initial)
        opts[name] = make(name, models[name].parameters(), {"lr": lrs[name]})
        clocks[name] = _Clock(device)
    train_x, train_y = data.train_x.to(device), data.train_y.to(device)
    test_x, test_y = data.test_x.to(device), data.test_y.to(device)
    order = minibatches(len(train_x), config.batch_size, torch.Generator().manual_seed(config.seed))
    history: dict[str, dict[str, list[float]]] = {name: {"step": [], "loss": [], "eval_step": [], "accuracy": []}
                                                  for name in config.optimizers}
    losses: dict[str, list[torch.Tensor]] = {name: [] for name in config.optimizers}   # since the last report
    throttle = Throttle(config.steps, max_share=0.25)     # the test-accuracy curves are the point here
    for step in range(config.steps):
        index = next(order).to(device)               # one batch, shared by every optimizer
        x, y = train_x[index], train_y[index]
        for name, model in models.items():
            clocks[name].start()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opts[name].zero_grad(set_to_none=True)
            loss.backward()
            opts[name].step()
            clocks[name].stop()
            losses[name].append(loss.detach())
        if not throttle.due(step):
            continue
        metrics, extras = {}, {"effective": {}, "state_bytes": {}, "ms_per_step": {}, "model": models,
                               "device": str(device)}
        for name, model in models.items():
            done = len(history[name]["step"])
            history[name]["step"] += list(range(done + 1, step + 2))
            history[name]["loss"] += torch.stack(losses[name]).tolist()
            losses[name] = []
            with torch.no_grad():
                accuracy = (model(test_x).argmax(1) == test_y).float().mean().item()
            history[name]["eval_step"].append(step + 1)
            history[name]["accuracy"].append(accuracy)
            metrics[f"{name}_accuracy"] = accuracy
            extras["state_bytes"][name] = state_bytes(opts[name])
            extras["ms_per_step"][name] = 1000 * clocks[name].read() / (step + 1)
            effective = effective_steps(name, opts[name], {"lr": lrs[name]})
            if effective is not None:
                extras["effective"][name] = effective.cpu()
        extras["history"] = {k: {m: list(v) for m, v in h.items()} for k, h in history.items()}
        with throttle.reporting():
            yield TrainingStep(step + 1, config.steps, metrics, extras, throttle.training_seconds)


def untrained_network(config: NetworkConfig) -> torch.nn.Module:
    """The network every optimizer of a comparison of `config` starts from (each trains a copy):
    built from the run's seed as `compare_on_network` builds it, on the CPU."""
    return build(lambda: _network(config.hidden), RunRandom(config.seed).cpu)


@torch.no_grad()
def network_step_zero(config: NetworkConfig, data: ImageSplit) -> TrainingStep:
    """Before any run, on the CPU: where every optimizer starts, `history` at step 0 as a report has
    it. All start from the same untrained network: its loss on the first batch (the first loss each
    curve shows) and its accuracy on the test digits."""
    model = untrained_network(config)
    index = next(minibatches(len(data.train_x), config.batch_size, torch.Generator().manual_seed(config.seed)))
    loss = torch.nn.functional.cross_entropy(model(data.train_x[index]), data.train_y[index]).item()
    accuracy = (model(data.test_x).argmax(1) == data.test_y).float().mean().item()
    history = {name: {"step": [0], "loss": [loss], "eval_step": [0], "accuracy": [accuracy]}
               for name in config.optimizers}
    return TrainingStep(0, config.steps, {f"{name}_accuracy": accuracy for name in config.optimizers},
                        {"history": history})


def log_heights(surface: str, points: list[list[float]], resolution: int = 120) -> list[float]:
    """log(1 + loss - grid minimum) at each point: the 3-D paths' heights on contour_grid's scale."""
    spec = SURFACES[surface]
    xs = torch.linspace(*spec.x_range, resolution, dtype=torch.float64)
    ys = torch.linspace(*spec.y_range, resolution, dtype=torch.float64)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")
    floor = spec.function(gx, gy).min()
    path = torch.tensor(points, dtype=torch.float64).reshape(-1, 2)
    return torch.log1p((spec.function(path[:, 0], path[:, 1]) - floor).clamp_min(0)).tolist()


def log10_list(values: torch.Tensor, limit: int = 20000) -> list[float]:
    """log10 of (up to `limit` evenly strided) positive values, for a histogram."""
    stride = max(1, len(values) // limit)
    return values[::stride].log10().tolist()
