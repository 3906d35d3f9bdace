"""Number formats and mixed precision: what fp32, fp16 and bf16 can hold, and training in each.

The facts shown on the page come from `torch.finfo`, not from a table typed by hand. Mixed
precision: Micikevicius et al. (2018), "Mixed Precision Training" (loss scaling, fp32 master weights).
"""

import copy
import math
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.data import minibatches
from engine.device import run_device
from engine.errors import InputError
from engine.rng import build
from engine.training import Throttle, TrainingStep

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
LAYOUT = {"fp32": (1, 8, 23), "fp16": (1, 5, 10), "bf16": (1, 8, 7)}     # sign, exponent, mantissa bits


@dataclass(frozen=True)
class FormatFacts:
    name: str
    sign_bits: int
    exponent_bits: int
    mantissa_bits: int
    largest: float                 # finfo.max
    smallest_normal: float         # finfo.smallest_normal
    smallest_subnormal: float      # 2 ** (min exponent - mantissa bits)
    epsilon: float                 # finfo.eps: the gap between 1 and the next number


def facts(name: str) -> FormatFacts:
    """The format's layout and limits, read from torch.finfo (any format of the page's table)."""
    return format_facts(name)


@dataclass(frozen=True)
class Encoding:
    bits: str                      # the bit pattern, sign first
    stored: float                  # the value the format actually holds
    relative_error: float          # |stored - value| / |value|: 0 for 0 and ±inf, inf on overflow, nan for nan
    kind: str                      # "normal", "subnormal", "zero", "overflow" (finite value -> inf), "infinity", "nan"


def encode(value: float, name: str) -> Encoding:
    """Round `value` to the format and show its bits."""
    dtype = DTYPES[name]
    stored_tensor = torch.tensor(value, dtype=torch.float64).to(dtype)
    width = torch.finfo(dtype).bits
    raw = stored_tensor.view({32: torch.int32, 16: torch.int16}[width]).item() & ((1 << width) - 1)
    bits = format(raw, f"0{width}b")
    stored = stored_tensor.item()
    _, exponent_bits, _ = LAYOUT[name]
    exponent = bits[1:1 + exponent_bits]
    if stored != stored:
        kind = "nan"
    elif abs(stored) == float("inf"):
        kind = "infinity"
    elif stored == 0:
        kind = "zero"
    else:
        kind = "subnormal" if set(exponent) == {"0"} else "normal"
    if kind == "infinity" and math.isfinite(value):
        kind = "overflow"                                       # a finite value beyond the largest number
    if kind == "nan":
        error = math.nan
    elif kind == "overflow":
        error = math.inf
    else:
        error = abs(stored - value) / abs(value) if value != 0 and math.isfinite(value) else 0.0
    return Encoding(bits, stored, error, kind)


def decode(bits: str, name: str) -> float:
    """The value of a bit pattern in the format (the inverse of `encode(...).bits`)."""
    _, exponent_bits, mantissa_bits = LAYOUT[name]
    sign = -1.0 if bits[0] == "1" else 1.0
    exponent = int(bits[1:1 + exponent_bits], 2)
    mantissa = int(bits[1 + exponent_bits:], 2)
    bias = 2 ** (exponent_bits - 1) - 1
    if exponent == 2**exponent_bits - 1:
        return sign * float("inf") if mantissa == 0 else float("nan")
    if exponent == 0:                                           # subnormal: no implicit leading 1
        return sign * mantissa * 2.0 ** (1 - bias - mantissa_bits)
    return sign * (1 + mantissa / 2**mantissa_bits) * 2.0 ** (exponent - bias)


def spacing(value: float, name: str) -> float:
    """The gap between `value` (rounded to the format) and the next larger representable number."""
    dtype = DTYPES[name]
    x = torch.tensor(value, dtype=dtype)
    return (torch.nextafter(x, torch.tensor(float("inf"), dtype=dtype)) - x).item()


def accumulate(count: int, value: float, name: str) -> tuple[float, float]:
    """Add `value` `count` times, one step at a time, in the format (naive) and with an fp32 accumulator."""
    dtype = DTYPES[name]
    naive = torch.zeros((), dtype=dtype)
    step = torch.tensor(value, dtype=dtype)
    for _ in range(count):
        naive = naive + step
    wide = torch.full((count,), value, dtype=dtype).float().sum()
    return naive.item(), wide.item()


def float32_bits(value: float) -> str:
    """Python's own view of an fp32 bit pattern (an independent check of `encode`)."""
    return format(struct.unpack(">I", struct.pack(">f", value))[0], "032b")


def underflow_demo(scale: float = 1024.0, magnitude: float = 1e-8) -> dict[str, torch.Tensor]:
    """Gradients of size ~`magnitude` flowing back through an fp16 layer: exact in fp32, flushed to
    zero in fp16 (below fp16's smallest subnormal, about 6e-8), recovered by loss scaling.

    The layer y = w * x runs in the given dtype; the loss sum(y) * magnitude is formed in fp32, as
    under autocast. Returns each variant's gradient of w, in fp32 and divided by its scale."""
    results = {}
    for label, dtype, factor in (("fp32", torch.float32, 1.0), ("fp16", torch.float16, 1.0),
                                 ("fp16_scaled", torch.float16, scale)):
        w = torch.linspace(1.0, 2.0, 8, dtype=dtype).requires_grad_(True)
        y = w * torch.ones(8, dtype=dtype)
        loss = (y.float() * magnitude).sum() * factor          # the gradient reaching y is magnitude * factor
        loss.backward()
        results[label] = w.grad.float() / factor                # unscale in fp32, as GradScaler does
    return results


# ---------------------------------------------------------------- the training race

MODES = ("fp32", "bf16", "fp16_scaler", "fp16_autocast", "fp16_naive")
FORMATS = {"fp32": "fp32", "bf16": "bf16", "fp16_scaler": "fp16", "fp16_autocast": "fp16", "fp16_naive": "fp16"}
FACT_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16,
               "fp8_e4m3": torch.float8_e4m3fn, "fp8_e5m2": torch.float8_e5m2}
FACT_LAYOUT = {**LAYOUT, "fp8_e4m3": (1, 4, 3), "fp8_e5m2": (1, 5, 2)}


def format_facts(name: str) -> FormatFacts:
    """The layout and limits of any format in the table, fp8 included (torch.finfo knows them too)."""
    info = torch.finfo(FACT_DTYPES[name])
    sign, exponent, mantissa = FACT_LAYOUT[name]
    assert info.bits == sign + exponent + mantissa
    return FormatFacts(name, sign, exponent, mantissa, info.max, info.smallest_normal,
                       info.smallest_normal * 2.0 ** -mantissa, info.eps)


@dataclass(frozen=True)
class ModeCheck:
    runs: bool          # the mode ran a real training step on this device
    note: str           # locale key suffix explaining the situation ("ok", "cpu_fp16_slow", ...)


def _probe(device: torch.device, mode: str) -> bool:
    """Run one tiny training step in `mode` on `device`; False if the device refuses it."""
    try:
        generator = torch.Generator().manual_seed(0)               # the probe's own: no global draw
        model = build(lambda: nn.Linear(8, 4), generator, device)
        if mode == "fp16_naive":
            model = model.half()
        x = torch.randn(16, 8, generator=generator).to(device)
        step_once(mode, model, torch.optim.SGD(model.parameters(), lr=0.1), make_scaler(mode, device),
                  x, torch.zeros(16, dtype=torch.long, device=device), 1.0)
        return True
    except (RuntimeError, TypeError, NotImplementedError):
        return False


def availability(device: torch.device | str, bf16_fast_cpu: bool = False) -> dict[str, ModeCheck]:
    """Which modes run on this device, found by trying each one, and the note the page shows."""
    device = torch.device(device)
    results = {}
    for mode in MODES:
        runs = _probe(device, mode)
        results[mode] = ModeCheck(runs, mode_note(device.type, mode, runs, bf16_fast_cpu))
    return results


def mode_note(device_type: str, mode: str, runs: bool, bf16_fast_cpu: bool = False) -> str:
    """The explanation for a mode on a device type (separate from the probe so it can be tested)."""
    if not runs:
        return "cuda_bf16_unavailable" if (device_type, mode) == ("cuda", "bf16") else "unavailable"
    if mode == "fp16_naive":
        return "naive"
    if device_type == "cpu":
        if mode == "bf16":
            return "cpu_bf16_fast" if bf16_fast_cpu else "cpu_bf16_slow"
        if mode in ("fp16_scaler", "fp16_autocast"):
            return "cpu_fp16_slow"
    if device_type == "cuda" and mode != "fp32":
        return "cuda_tensor_cores"
    return "ok"


def make_scaler(mode: str, device: torch.device, growth_interval: int = 2000) -> torch.amp.GradScaler:
    """Loss scaling only for fp16 autocast with a scaler; elsewhere a disabled scaler (a no-op).
    The scale starts at 2^16, halves after a step with inf/NaN gradients and doubles after
    `growth_interval` clean steps in a row (PyTorch's default: 2,000)."""
    return torch.amp.GradScaler(device.type, growth_interval=growth_interval, enabled=mode == "fp16_scaler")


def step_once(mode: str, model: nn.Module, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
              x: torch.Tensor, labels: torch.Tensor, loss_factor: float) -> torch.Tensor:
    """One training step in `mode`; returns the loss (fp32, before scaling).

    fp32: everything in fp32. bf16 / fp16 autocast: matmuls run in the low-precision type, weights
    and optimizer state stay fp32; fp16 with a GradScaler multiplies the loss before backward,
    unscales the gradients, skips the step if any is inf/NaN and adapts the scale. fp16_naive: the
    model itself is fp16 (`.half()`), weights, gradients and Adam's state too, and no scaler."""
    device = x.device
    if mode == "fp16_naive":
        loss = F.cross_entropy(model(x.half()).float(), labels) * loss_factor
    else:
        low = {"bf16": torch.bfloat16, "fp16_scaler": torch.float16, "fp16_autocast": torch.float16}.get(mode)
        with torch.autocast(device.type, dtype=low or torch.float32, enabled=low is not None):
            loss = F.cross_entropy(model(x), labels) * loss_factor
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return loss.detach().float()


class DigitMLP(nn.Module):
    """784 -> hidden -> hidden -> 10, ReLU: small enough for fp16 on a CPU, big enough to matter."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                 nn.ReLU(), nn.Linear(hidden, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def training_bytes(mode: str, model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor,
                   labels: torch.Tensor) -> dict[str, int]:
    """Memory a training step holds, measured on the tensors themselves (the CPU has no allocator
    statistics): weights, gradients, optimizer state, and the activations autograd saves for
    backward (caught with saved_tensors_hooks, each storage counted once; a weight that autograd
    saves as it is, not as a 16-bit copy, is already counted among the weights)."""
    saved: dict[int, int] = {}
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}

    def keep(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameters:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        if mode == "fp16_naive":
            F.cross_entropy(model(x.half()).float(), labels)
        else:
            low = {"bf16": torch.bfloat16, "fp16_scaler": torch.float16, "fp16_autocast": torch.float16}.get(mode)
            with torch.autocast(x.device.type, dtype=low or torch.float32, enabled=low is not None):
                F.cross_entropy(model(x), labels)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    state = sum(v.numel() * v.element_size() for s in optimizer.state.values() for v in s.values()
                if torch.is_tensor(v) and v.dim() > 0)
    return {"weights": weights, "gradients": weights, "optimizer": state, "activations": sum(saved.values())}


@dataclass(frozen=True)
class RaceConfig:
    modes: tuple[str, ...] = ("fp32", "bf16", "fp16_scaler", "fp16_naive")
    hidden: int = 128
    steps: int = 200
    batch_size: int = 128
    learning_rate: float = 1e-3          # Adam, eps 1e-8 (PyTorch's default)
    loss_factor: float = 1.0             # < 1 makes every gradient that much smaller (a loss averaged
                                         # over very many elements does this): the underflow setting
    growth_interval: int = 50            # clean steps before GradScaler doubles its scale: PyTorch's default,
                                         # 2,000, is longer than the longest race (1,000 steps)
    live_size: int = 300                 # held-out digits scored for the live curves (all at the end)
    seed: int = 0
    device: str | None = None            # None: engine.device.pick_device()


def gradient_magnitudes(model: nn.Module) -> torch.Tensor:
    """log10 of every non-zero gradient entry's magnitude (fp32)."""
    values = torch.cat([p.grad.detach().float().abs().flatten() for p in model.parameters() if p.grad is not None])
    values = values[values > 0]
    return values.log10()


def fp16_shares(logs: torch.Tensor) -> tuple[float, float]:
    """Of gradient magnitudes given as log10 |g|: the share below half of fp16's smallest subnormal
    (they round to 0) and the share in its subnormal range (they keep fewer significant bits)."""
    if len(logs) == 0:
        return 0.0, 0.0
    fp16 = torch.finfo(torch.float16)
    zero_below = math.log10(fp16.smallest_normal * 2.0**-11)      # half of 2^-24: rounds to 0
    normal_from = math.log10(fp16.smallest_normal)
    below = (logs < zero_below).float().mean().item()
    subnormal = ((logs >= zero_below) & (logs < normal_from)).float().mean().item()
    return below, subnormal


def train_race(config: RaceConfig, data) -> Iterator[TrainingStep]:
    """Train the same model from the same start on the same batches in each mode, on
    `run_device(config.device)`.

    Metrics: `<mode>/accuracy` and `<mode>/loss`. Extras: `history` (loss, accuracy and loss scale
    per mode), `seconds_per_step`, `memory` (bytes per mode: measured tensors on the CPU, the
    allocator's peak of one step on CUDA), `skipped` (steps the GradScaler skipped), `gradients`
    (log10 |g| of the fp32 model's gradients, if fp32 races), `zero_gradients` (share of gradient
    entries exactly 0 per mode), `model` (the models so far, by mode), `device`."""
    if not config.modes:
        raise InputError("half_no_mode")
    device = run_device(config.device)
    # The same weights as `torch.manual_seed(seed); DigitMLP(hidden)`, drawn from the run's own generator.
    start = build(lambda: DigitMLP(config.hidden), torch.Generator().manual_seed(config.seed))
    runs = {}
    for mode in config.modes:
        model = copy.deepcopy(start).to(device)
        if mode == "fp16_naive":
            model = model.half()
        runs[mode] = {"model": model, "optimizer": torch.optim.Adam(model.parameters(), lr=config.learning_rate),
                      "scaler": make_scaler(mode, device, config.growth_interval), "seconds": 0.0, "skipped": 0}
    train_x, train_y = data.train_x.to(device), data.train_y.to(device)
    test_x, test_y = data.test_x.to(device), data.test_y.to(device)
    batches = minibatches(len(train_x), config.batch_size, torch.Generator().manual_seed(config.seed))
    history: dict[str, list[float]] = {"step": []}
    memory: dict[str, int] = {}
    throttle = Throttle(config.steps, max_share=0.1)
    for step in range(config.steps):
        index = next(batches).to(device)
        x, labels = train_x[index], train_y[index]
        losses = {}
        for mode, run in runs.items():
            if step == 0:
                memory[mode] = _step_memory(mode, run, x, labels, config.loss_factor)
            before = run["scaler"].get_scale() if run["scaler"].is_enabled() else None
            began = time.perf_counter()
            losses[mode] = step_once(mode, run["model"], run["optimizer"], run["scaler"], x, labels,
                                     config.loss_factor)
            if device.type == "cuda":
                torch.cuda.synchronize(device)          # each mode's time is its own: wait for its kernels
            run["seconds"] += time.perf_counter() - began
            if before is not None and run["scaler"].get_scale() < before:
                run["skipped"] += 1                     # the scale only drops when the step was skipped
        if not throttle.due(step):
            continue
        # Scoring held-out digits and copying the curves is the report's cost, counted by the throttle.
        count = len(test_x) if step == config.steps - 1 else config.live_size
        record = {"step": step + 1}
        metrics = {}
        for mode, run in runs.items():
            accuracy = _accuracy(mode, run["model"], test_x[:count], test_y[:count])
            loss = losses[mode].item() / config.loss_factor
            metrics |= {f"{mode}/accuracy": accuracy, f"{mode}/loss": loss}
            record |= {f"loss/{mode}": loss, f"accuracy/{mode}": accuracy}
            if run["scaler"].is_enabled():
                record[f"scale/{mode}"] = run["scaler"].get_scale()
        for key, value in record.items():
            history.setdefault(key, []).append(value)
        extras = {"history": {k: list(v) for k, v in history.items()},
                  "seconds_per_step": {m: r["seconds"] / (step + 1) for m, r in runs.items()},
                  "memory": dict(memory), "skipped": {m: r["skipped"] for m, r in runs.items()},
                  "zero_gradients": {m: _zero_share(r["model"]) for m, r in runs.items()},
                  "model": {m: r["model"] for m, r in runs.items()}, "device": str(device)}
        if "fp32" in runs:
            logs = gradient_magnitudes(runs["fp32"]["model"]).cpu()
            extras["gradients"] = logs[:: max(1, len(logs) // 5000)].tolist()    # enough for a histogram
            extras["fp16_shares"] = fp16_shares(logs)
        with throttle.reporting():
            yield TrainingStep(step + 1, config.steps, metrics, extras, throttle.training_seconds)


def untrained(config: RaceConfig) -> nn.Module:
    """The model every mode of a race of `config` starts from (each trains a copy; pure fp16 a
    half-precision one): built from the run's seed as `train_race` builds it, on the CPU."""
    return build(lambda: DigitMLP(config.hidden), torch.Generator().manual_seed(config.seed))


@torch.no_grad()
def race_step_zero(config: RaceConfig, data) -> TrainingStep:
    """Before any run, on the CPU: the race's start in `history` at step 0. Per mode, the loss of the
    untrained model on the race's first batch computed as `step_once` computes it in that mode (the
    loss the first report shows), and its accuracy on the held-out digits a report scores; the loss
    scaler's starting scale."""
    if not config.modes:
        raise InputError("half_no_mode")
    start = untrained(config)
    index = next(minibatches(len(data.train_x), config.batch_size, torch.Generator().manual_seed(config.seed)))
    x, labels = data.train_x[index], data.train_y[index]
    history: dict[str, list[float]] = {"step": [0]}
    for mode in config.modes:
        model = copy.deepcopy(start).half() if mode == "fp16_naive" else start
        if mode == "fp16_naive":
            loss = F.cross_entropy(model(x.half()).float(), labels) * config.loss_factor
        else:
            low = {"bf16": torch.bfloat16, "fp16_scaler": torch.float16, "fp16_autocast": torch.float16}.get(mode)
            with torch.autocast("cpu", dtype=low or torch.float32, enabled=low is not None):
                loss = F.cross_entropy(model(x), labels) * config.loss_factor
        history[f"loss/{mode}"] = [loss.float().item() / config.loss_factor]
        history[f"accuracy/{mode}"] = [_accuracy(mode, model, data.test_x[: config.live_size],
                                                 data.test_y[: config.live_size])]
        if mode == "fp16_scaler":
            history[f"scale/{mode}"] = [make_scaler(mode, torch.device("cpu"), config.growth_interval).get_scale()]
    metrics = {f"{mode}/{name}": history[f"{name}/{mode}"][0] for mode in config.modes for name in ("loss", "accuracy")}
    return TrainingStep(0, config.steps, metrics, {"history": history})


def _step_memory(mode: str, run: dict, x: torch.Tensor, labels: torch.Tensor, loss_factor: float) -> int:
    """Bytes one training step needs in `mode`: the allocator's peak on CUDA, measured tensors elsewhere."""
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)
        torch.cuda.reset_peak_memory_stats(x.device)
        probe = copy.deepcopy(run["model"])
        optimizer = torch.optim.Adam(probe.parameters(), lr=0.0)
        step_once(mode, probe, optimizer, make_scaler(mode, x.device), x, labels, loss_factor)
        torch.cuda.synchronize(x.device)
        return torch.cuda.max_memory_allocated(x.device)
    probe = copy.deepcopy(run["model"])
    optimizer = torch.optim.Adam(probe.parameters(), lr=0.0)
    step_once(mode, probe, optimizer, make_scaler(mode, x.device), x, labels, loss_factor)   # creates Adam's state
    return sum(training_bytes(mode, probe, optimizer, x, labels).values())


@torch.no_grad()
def _accuracy(mode: str, model: nn.Module, x: torch.Tensor, labels: torch.Tensor) -> float:
    inputs = x.half() if mode == "fp16_naive" else x
    return (model(inputs).argmax(1) == labels).float().mean().item()


def _zero_share(model: nn.Module) -> float:
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if not grads:
        return 0.0
    zeros = sum((g == 0).sum().item() for g in grads)
    return zeros / sum(g.numel() for g in grads)


# ---------------------------------------------------------------- is it faster here?

@dataclass(frozen=True)
class SpeedResult:
    name: str                 # "fp32", "bf16" or "fp16"
    matmul_gflops: float      # an n x n matrix product, GFLOP/s (2 n^3 operations)
    conv_ms: float            # one 3x3 convolution, 64 -> 64 channels, batch 8 at 56 x 56, milliseconds
    matmul_speedup: float     # against fp32 on the same device (> 1: faster)
    conv_speedup: float


def _median_seconds(work, device: torch.device, repeats: int, slow: float = 0.25) -> float:
    """Median time of `work` after a warm-up run; a path slower than `slow` seconds (an emulated
    dtype) is timed by its warm-up run alone, so the check stays a few seconds long."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    work()                                                   # warm-up: kernels chosen, caches filled
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    warm_up = time.perf_counter() - start
    if warm_up > slow:
        return warm_up
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        work()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


@dataclass(frozen=True)
class SpeedConfig:
    size: int = 768                      # the matrix product is size x size
    repeats: int = 5                     # timed runs per operation after a warm-up (the median counts)
    device: str | None = None            # None: engine.device.pick_device()


SPEED_FORMATS = ("fp32", "bf16", "fp16")


@torch.no_grad()
def speed_run(config: SpeedConfig) -> Iterator[TrainingStep]:
    """Time a matrix product and a convolution in fp32, bf16 and fp16 on `run_device(config.device)`,
    each the median of `config.repeats` runs after a warm-up, one format after the other; a report
    after each format. Extras: `results` (a `SpeedResult` per format so far), `device`."""
    device = run_device(config.device)
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(config.size, config.size, generator=generator).to(device)
    b = torch.randn(config.size, config.size, generator=generator).to(device)
    image = torch.randn(8, 64, 56, 56, generator=generator).to(device)
    kernel = torch.randn(64, 64, 3, 3, generator=generator).to(device) * 0.05
    began = time.perf_counter()
    rows = []
    for name in SPEED_FORMATS:
        dtype = DTYPES[name]
        a_, b_, image_, kernel_ = a.to(dtype), b.to(dtype), image.to(dtype), kernel.to(dtype)
        matmul = _median_seconds(lambda: a_ @ b_, device, config.repeats)           # noqa: B023 - used right away
        conv = _median_seconds(lambda: F.conv2d(image_, kernel_, padding=1), device, config.repeats)   # noqa: B023
        rows.append((name, 2 * config.size**3 / matmul / 1e9, conv * 1000))
        base_matmul, base_conv = rows[0][1], rows[0][2]
        results = [SpeedResult(n, gflops, ms, gflops / base_matmul, base_conv / ms) for n, gflops, ms in rows]
        yield TrainingStep(len(rows), len(SPEED_FORMATS), {f"{name}/gflops": rows[-1][1]},
                           {"results": results, "device": str(device)}, time.perf_counter() - began)


def speed_check(device: torch.device | str, size: int = 768, repeats: int = 5) -> list[SpeedResult]:
    """`speed_run` to the end: every format's result (the benchmarks' entry)."""
    *_, last = speed_run(SpeedConfig(size, repeats, str(device)))
    return last.extras["results"]


# ---------------------------------------------------------------- number-lab helpers

EXAMPLES = (("300 × 300", lambda t: t(300.0) * t(300.0)),
            ("exp(12)", lambda t: torch.exp(t(12.0))),
            ("65504 + 16", lambda t: t(65504.0) + t(16.0)),
            ("1e-4 × 1e-4", lambda t: t(1e-4) * t(1e-4)),
            ("1 + 1e-3", lambda t: t(1.0) + t(1e-3)),
            ("2048 + 1", lambda t: t(2048.0) + t(1.0)),
            ("1 + 2⁻⁹", lambda t: t(1.0) + t(2.0**-9)),
            ("1e-8", lambda t: t(1e-8)))


def examples() -> list[tuple[str, dict[str, float]]]:
    """Overflow, underflow and rounding cases, each computed by torch in every format."""
    rows = []
    for label, compute in EXAMPLES:
        values = {}
        for name, dtype in DTYPES.items():
            values[name] = compute(lambda v, dtype=dtype: torch.tensor(v, dtype=dtype)).item()
        rows.append((label, values))
    return rows


def spacing_curve(name: str, low: float = 1e-8, high: float = 1e5,
                  points: int = 200) -> tuple[list[float], list[float]]:
    """Gap to the next number at log-spaced values from `low` to `high`, within the format's range
    (values it cannot hold are left out)."""
    largest = torch.finfo(DTYPES[name]).max
    values = torch.logspace(math.log10(low), math.log10(high), points, dtype=torch.float64).tolist()
    kept = [v for v in values if v < largest]
    return kept, [spacing(v, name) for v in kept]
