"""Real data-parallel training from the app: start worker processes, stream their reports, and
make sure none outlives its run; the single-process reference; the ring all-reduce schedule.

The workers are `python -m engine.distributed_worker` subprocesses (each re-imports torch: a few
seconds per rank on a small machine), one per rank, talking over Gloo on CPUs or NCCL on GPUs
through a free localhost port. Any way a run ends (finished, stopped, the page left, a timeout,
a crashed rank) goes through `_stop`, which terminates every worker's process group and waits.
The app's own process sets no thread count and draws nothing from the global generator: each
worker is a process of its own, with one thread, and every model starts from an owned generator.
"""

import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from engine.data import ImageSplit, load_digits
from engine.device import run_device
from engine.distributed_worker import PIPELINE_WIDTH, build_model, pipeline_stage, shard_batches
from engine.errors import InputError
from engine.training import Throttle, TrainingStep

ROOT = Path(__file__).resolve().parents[1]
MAX_WORLD = 4
COLLECTIVE_TIMEOUT = 24 * 3600.0    # a rank's own limit on a collective: the launcher detects stalls itself
                                    # (`DDPConfig.timeout`), and the workers of a paused run are stopped
                                    # (SIGSTOP), which must not look like a peer that hangs
PAUSE_AFTER = 0.2                   # seconds the consumer keeps a report before the workers are stopped


@dataclass(frozen=True)
class DDPConfig:
    world_size: int = 2
    batch_size: int = 32             # per rank: the global batch is world_size x batch_size
    hidden: int = 64
    steps: int = 30
    learning_rate: float = 0.05      # SGD with momentum 0.9
    seed: int = 0
    backend: str | None = None       # None: NCCL when the run's device is CUDA with a GPU per rank, else Gloo
    timeout: float = 60.0            # seconds without any report before the run is declared stuck
    start_timeout: float = 120.0     # seconds for every rank to import torch and meet
    device: str | None = None        # None: engine.device.pick_device()


def backend_for(config: DDPConfig) -> str:
    """The configured backend, else NCCL when `run_device(config.device)` is CUDA and there is a
    CUDA device for every rank, else Gloo on the CPU."""
    if config.backend:
        return config.backend
    device = run_device(config.device)
    return "nccl" if device.type == "cuda" and torch.cuda.device_count() >= config.world_size else "gloo"


def ranks_device(backend: str) -> torch.device:
    """Where each rank trains: its own GPU under NCCL (rank r on cuda:r), the CPU under Gloo."""
    return torch.device("cuda" if backend == "nccl" else "cpu")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def worker_command(config: DDPConfig, out: Path | None = None, crash_at: int = -1,
                   pipeline: int = 0, stall_at: int = -1) -> list[str]:
    """The arguments after `python -m engine.distributed_worker` (also used for torchrun)."""
    command = ["--steps", str(config.steps), "--batch-size", str(config.batch_size), "--hidden", str(config.hidden),
               "--lr", str(config.learning_rate), "--seed", str(config.seed), "--backend", backend_for(config),
               "--timeout", str(COLLECTIVE_TIMEOUT)]
    if out is not None:
        command += ["--out", str(out)]
    if crash_at >= 0:
        command += ["--crash-at", str(crash_at)]
    if pipeline:
        command += ["--pipeline", str(pipeline)]
    if stall_at >= 0:
        command += ["--stall-at", str(stall_at)]
    return command


def _read(stream, rank: int, sink: queue.Queue | deque) -> None:
    for line in stream:
        if isinstance(sink, deque):
            sink.append(line.rstrip())
        else:
            sink.put((rank, line))
    stream.close()


def _stop(processes: list[subprocess.Popen], grace: float = 3.0) -> None:
    """Terminate every worker (its whole process group), then kill what is left after `grace` s."""
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _signal(processes: list[subprocess.Popen], sign: int) -> None:
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sign)


@contextmanager
def _held(processes: list[subprocess.Popen]) -> Iterator[None]:
    """Wrap a report's `yield`: if the consumer keeps the generator there longer than
    `PAUSE_AFTER` (a learner's Pause), the workers are stopped too (SIGSTOP), so a paused run
    really pauses; they continue when the generator is resumed or closed."""
    stopped = threading.Event()

    def stop() -> None:
        stopped.set()
        _signal(processes, signal.SIGSTOP)

    timer = threading.Timer(PAUSE_AFTER, stop)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()
        if stopped.is_set():
            _signal(processes, signal.SIGCONT)


def launch(config: DDPConfig, out: Path | None = None, crash_at: int = -1,
           processes: list | None = None, stall_at: int = -1) -> Iterator[TrainingStep]:
    """Run DDP with `config.world_size` worker processes and yield the merged per-step reports.

    The first report, step 0, comes as soon as the workers are launched: no metrics, no ranks yet,
    the `plan` and the `pids`. Then, per step: metrics, the mean `loss` over ranks and the largest
    parameter-checksum `spread` between ranks. Extras: `ranks` (this step's record from each rank),
    `history` (per-rank loss, spread and the slowest rank's seconds, every step), `startup` (seconds
    until every rank was ready), `pids`,
    `plan` (`shard_plan` of the training digits), `device` (where the ranks train); the last step
    also `parameters` (rank 0's final state dict, on the CPU).
    `processes`, if given, receives the Popen objects (tests use it to check that none is left;
    `crash_at` / `stall_at` make rank 1 exit or hang).
    Raises InputError when a rank fails or stalls. Closing the generator stops every worker."""
    if not 1 <= config.world_size <= MAX_WORLD:
        raise InputError("ddp_world_size", low=1, high=MAX_WORLD)
    backend = backend_for(config)
    if backend == "nccl" and torch.cuda.device_count() < config.world_size:
        raise InputError("ddp_nccl_devices", needed=config.world_size, found=torch.cuda.device_count())
    started = processes if processes is not None else []
    begin = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ptlab-ddp-") as scratch:
        out = out or Path(scratch) / "parameters.pt"
        arguments = worker_command(config, out, crash_at, stall_at=stall_at)
        with _workers(config.world_size, arguments, started) as (reports, errors):
            plan = shard_plan(len(load_digits().train_x), config.world_size, config.batch_size)
            yield from _follow(config, started, reports, errors, begin, out,
                               {"plan": plan, "device": str(ranks_device(backend))})
            for process in started:               # finished: let each exit on its own first
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    break


@contextmanager
def _workers(world: int, arguments: list[str], started: list) -> Iterator[tuple[queue.Queue, list[deque]]]:
    """One `python -m engine.distributed_worker` per rank, each in its own process group (so it can
    be stopped with everything it started), with reader threads for its stdout (JSON reports, into
    the queue) and stderr (the last lines, per rank). However the block ends, every worker is stopped."""
    reports: queue.Queue = queue.Queue()
    errors = [deque(maxlen=25) for _ in range(world)]
    threads: list[threading.Thread] = []
    try:
        _spawn(world, arguments, started, reports, errors, threads)
        yield reports, errors
    finally:
        _stop(started)
        for thread in threads:
            thread.join(timeout=1.0)


def _spawn(world: int, arguments: list[str], started: list, reports: queue.Queue, errors: list[deque],
           threads: list[threading.Thread]) -> None:
    port = free_port()
    for rank in range(world):
        env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank),
               "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world), "OMP_NUM_THREADS": "1",
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        process = subprocess.Popen([sys.executable, "-m", "engine.distributed_worker", *arguments], cwd=ROOT,
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
        started.append(process)
        for stream, sink in ((process.stdout, reports), (process.stderr, errors[rank])):
            thread = threading.Thread(target=_read, args=(stream, rank, sink), daemon=True)
            thread.start()
            threads.append(thread)


def _next_record(reports: queue.Queue) -> tuple[int, dict] | None:
    """The next JSON report of any rank, or None after 0.1 s of silence (stray lines are skipped)."""
    try:
        rank, line = reports.get(timeout=0.1)
    except queue.Empty:
        return None
    try:
        return rank, json.loads(line)
    except json.JSONDecodeError:
        return None                                               # a stray line (a library warning)


def _check_workers(processes: list, errors: list[deque]) -> None:
    for rank, process in enumerate(processes):
        code = process.poll()
        if code not in (None, 0):
            time.sleep(0.2)                                       # let its last words arrive
            tail = " | ".join(list(errors[rank])[-3:])[-300:]
            raise InputError("ddp_worker_failed", rank=rank, code=code, detail=tail or "-")


def pipeline_timeline(micro_batches: int, timeout: float = 120.0) -> dict[int, list[dict]]:
    """Run one measured two-stage pipeline step in two worker processes on the CPU (Gloo); each
    stage's intervals."""
    config = DDPConfig(world_size=2, timeout=timeout, backend="gloo")
    timelines: dict[int, list[dict]] = {}
    started: list = []
    with _workers(2, worker_command(config, pipeline=micro_batches), started) as (reports, errors):
        deadline = time.monotonic() + timeout
        while len(timelines) < 2:
            _check_workers(started, errors)
            if time.monotonic() > deadline:
                raise InputError("ddp_timeout", seconds=round(timeout))
            news = _next_record(reports)
            if news is not None and news[1].get("event") == "timeline":
                timelines[news[0]] = news[1]["events"]
    return timelines


def stage_flops(width: int = PIPELINE_WIDTH) -> list[dict[str, int]]:
    """Matrix-product FLOPs per sample of each pipeline stage (2 per multiply-add), read from its Linear
    layers: forward 2·in·out per layer; backward 2·in·out for the weight's gradient plus 2·in·out for
    the gradient of the layer's input, which the model's first layer skips (the data needs none).
    Stage 1 also computes the loss: softmax and log over 10 logits, a few dozen FLOPs."""
    flops = []
    for rank in (0, 1):
        sizes = [2 * m.in_features * m.out_features for m in pipeline_stage(rank, width).modules()
                 if isinstance(m, torch.nn.Linear)]
        first_input = sizes[0] if rank == 0 else 0
        flops.append({"forward": sum(sizes), "backward": 2 * sum(sizes) - first_input})
    return flops


def gpipe_bubble(micro_batches: int, forward: list[float], backward: list[float]) -> float:
    """Idle share of a GPipe step (all forwards, then all backwards in reverse) when stage s takes
    forward[s] and backward[s] per micro-batch and sending is free: 1/(M + 1) for two equal stages."""
    stages = len(forward)
    free = [0.0] * stages                                  # when each stage finishes its current work
    ready = [0.0] * micro_batches                          # when the previous stage handed micro-batch m on
    for s in range(stages):
        for m in range(micro_batches):
            free[s] = ready[m] = max(free[s], ready[m]) + forward[s]
    for s in reversed(range(stages)):                      # the last stage turns round as soon as it is free
        for m in reversed(range(micro_batches)):
            free[s] = ready[m] = max(free[s], ready[m]) + backward[s]
    busy = micro_batches * (sum(forward) + sum(backward))
    return 1 - busy / (stages * max(free))


def bubble(timelines: dict[int, list[dict]]) -> float:
    """Share of the stages' time spent idle between the step's first start and last end."""
    events = [e for stage in timelines.values() for e in stage]
    span = max(e["end"] for e in events) - min(e["start"] for e in events)
    busy = sum(e["end"] - e["start"] for e in events)
    return 1 - busy / (len(timelines) * span)


@dataclass(frozen=True)
class PipelineConfig:
    micro_batches: int = 4                   # the step's 1,024 digits cut into this many micro-batches
    timeout: float = 120.0                   # seconds for both stages to start and report


def pipeline_run(config: PipelineConfig) -> Iterator[TrainingStep]:
    """One measured pipeline step (`pipeline_timeline`), as a single report. Metrics: `bubble` (the
    measured idle share). Extras: `timelines`, `micro_batches`, `from_flops` (the bubble GPipe's
    schedule gives with each stage's time proportional to its FLOPs), `device`."""
    began = time.perf_counter()
    timelines = pipeline_timeline(config.micro_batches, config.timeout)
    flops = stage_flops()
    from_flops = gpipe_bubble(config.micro_batches, [f["forward"] for f in flops], [f["backward"] for f in flops])
    yield TrainingStep(1, 1, {"bubble": bubble(timelines)},
                       {"timelines": timelines, "micro_batches": config.micro_batches, "from_flops": from_flops,
                        "device": "cpu"}, time.perf_counter() - began)


def _follow(config, processes, reports, errors, begin, out: Path, fixed: dict) -> Iterator[TrainingStep]:
    pending: dict[int, dict[int, dict]] = {}
    ready, done = set(), set()
    startup = None
    shards: dict[int, list[int]] = {}
    final = None
    history: dict[str, list[float]] = {"step": [], "spread": [], "seconds": [],
                                       **{f"rank{r}": [] for r in range(config.world_size)}}
    throttle = Throttle(config.steps, max_share=0.1)
    # Step 0, at once: every rank now imports PyTorch and waits for the others at the rendezvous,
    # which takes seconds; meanwhile the learner sees the run's plan (which digits each rank gets).
    with _held(processes):
        yield TrainingStep(0, config.steps, {}, {"ranks": {}, "startup": None, "shards": {},
                                                 "history": {k: [] for k in history},
                                                 "pids": [p.pid for p in processes], **fixed}, 0.0)
    last_news = time.monotonic()
    while len(done) < config.world_size:
        _check_workers(processes, errors)
        news = _next_record(reports)
        if news is None:
            limit = config.start_timeout if startup is None else config.timeout
            if time.monotonic() - last_news > limit:
                raise InputError("ddp_timeout", seconds=round(limit))
            continue
        rank, record = news
        last_news = time.monotonic()
        if record["event"] == "ready":
            ready.add(rank)
            if len(ready) == config.world_size:
                startup = time.perf_counter() - begin
        elif record["event"] == "done":
            done.add(rank)
        elif record["event"] == "step":
            step = record["step"]
            pending.setdefault(step, {})[rank] = record
            if len(pending[step]) < config.world_size:
                continue
            records = pending.pop(step)
            history["step"].append(step)
            history["spread"].append(max(r["spread"] for r in records.values()))
            history["seconds"].append(max(r["seconds"] for r in records.values()))     # the slowest rank sets the pace
            for r, rec in records.items():
                history[f"rank{r}"].append(rec["loss"])
                if "shard" in rec:
                    shards[r] = rec["shard"]
            if step < config.steps and not throttle.due(step - 1):
                continue
            # The merged report (copies of the curves) is built only when it is sent: the report's cost.
            metrics = {"loss": sum(r["loss"] for r in records.values()) / len(records),
                       "spread": max(r["spread"] for r in records.values())}
            extras = {"ranks": dict(sorted(records.items())), "startup": startup,
                      "shards": dict(sorted(shards.items())), "history": {k: list(v) for k, v in history.items()},
                      "pids": [p.pid for p in processes], **fixed}
            report = TrainingStep(step, config.steps, metrics, extras, time.perf_counter() - begin)
            if step == config.steps:                              # reported once rank 0 has saved the result
                final = report
                continue
            with throttle.reporting(), _held(processes):
                yield report
            last_news = time.monotonic()                          # time spent paused is no silence
    if final is not None:
        final.extras["parameters"] = torch.load(out, weights_only=True) if out.exists() else None
        yield final


@dataclass(frozen=True)
class ScalingConfig:
    worlds: tuple[int, ...] = (1, 2, 4)      # world sizes timed one after the other
    steps: int = 40                          # per world size; the median of the last half counts
    batch_size: int = 32                     # per rank: each rank does the same work (weak scaling)
    device: str | None = None                # None: engine.device.pick_device()


def scaling(config: ScalingConfig) -> Iterator[TrainingStep]:
    """Time per step (the slowest rank's median over the last half of the steps), throughput and
    scaling efficiency = throughput(N) / (N x throughput(1)), and start-up time, per world size:
    one DDP run per world size, all on the same backend, each reported as it goes. Extras: `rows`
    (one per world size finished), `world` (the one running), `device`. Closing the generator
    stops the running world's workers."""
    backend = backend_for(DDPConfig(world_size=max(config.worlds), device=config.device))
    total = len(config.worlds) * config.steps
    began = time.perf_counter()
    rows: list[dict] = []
    for index, world in enumerate(config.worlds):
        run = DDPConfig(world_size=world, batch_size=config.batch_size, steps=config.steps, backend=backend)
        with contextlib.closing(launch(run)) as steps:        # stopped here, the workers stop too
            for step in steps:
                if step.step == 0:                            # the ranks are starting: nothing timed yet
                    continue
                if step.finished:
                    per_step = sorted(step.extras["history"]["seconds"][config.steps // 2:])
                    seconds = per_step[len(per_step) // 2]
                    rows.append({"world": world, "step_seconds": seconds, "throughput": world * config.batch_size /
                                 seconds, "startup": step.extras["startup"]})
                    base = rows[0]["throughput"] / rows[0]["world"]
                    for row in rows:
                        row["efficiency"] = row["throughput"] / (row["world"] * base)
                yield TrainingStep(index * config.steps + step.step, total, {"loss": step.metrics["loss"]},
                                   {"rows": [dict(row) for row in rows], "world": world,
                                    "device": step.extras["device"]}, time.perf_counter() - began)


def shard_plan(num_items: int, world: int, batch_size: int) -> dict[str, int]:
    """What one epoch gives each rank here: DistributedSampler(drop_last=True) trims the shuffled data
    to a multiple of `world` (`trimmed` items left out); with drop_last=False it would instead repeat
    `padded` items so every rank gets as many. Each rank then drops its incomplete last batch."""
    per_rank = num_items // world
    padded = -num_items % world
    return {"items": num_items, "per_rank": per_rank, "trimmed": num_items - world * per_rank, "padded": padded,
            "batches": per_rank // batch_size, "unused": per_rank % batch_size}


def single_process(config: DDPConfig) -> tuple[dict[str, torch.Tensor], list[float]]:
    """The same training in one process with the global batch (the union of every rank's batch),
    on the device the ranks use: the final parameters (on the CPU) and the loss per step. DDP must
    end with the same parameters."""
    device = ranks_device(backend_for(config))
    data = load_digits()
    train_x, train_y = data.train_x.to(device), data.train_y.to(device)
    model = build_model(config.seed, config.hidden, device)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.learning_rate, momentum=0.9)
    shards = [shard_batches(len(train_x), r, config.world_size, config.batch_size, config.seed)
              for r in range(config.world_size)]
    losses = []
    for _ in range(config.steps):
        index = torch.cat([next(shard)[1] for shard in shards]).to(device)
        loss = F.cross_entropy(model(train_x[index]), train_y[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}, torch.stack(losses).tolist()


def train(config: DDPConfig) -> Iterator[TrainingStep]:
    """`launch`, and once every rank has finished, the single-process reference: the last step's
    extras also hold `reference` (its `losses` per step and the largest parameter `difference`
    from DDP's)."""
    with contextlib.closing(launch(config)) as steps:
        for step in steps:
            if step.finished and step.extras.get("parameters") is not None:
                parameters, losses = single_process(config)
                step.extras["reference"] = {"losses": losses,
                                            "difference": max_difference(step.extras["parameters"], parameters)}
            yield step


def max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max((a[k] - b[k]).abs().max().item() for k in a)


@torch.no_grad()
def step_zero(config: DDPConfig, data: ImageSplit, shown: int = 8) -> TrainingStep:
    """Before any run, in this process on the CPU: the `plan` (`shard_plan`), each rank's first batch
    (`shards`: its indices; `digits`, `labels`: its first `shown` digits) and the loss of the untrained
    model on it (`losses`, by rank: each rank's first loss), the model's `parameters`; the metric
    `loss` is their mean, the loss of the global batch a single process sees."""
    model = build_model(config.seed, config.hidden)
    shards, digits, labels, losses = {}, {}, {}, {}
    for rank in range(config.world_size):
        _, index = next(shard_batches(len(data.train_x), rank, config.world_size, config.batch_size, config.seed))
        shards[rank] = index.tolist()
        digits[rank], labels[rank] = data.train_x[index[:shown]], data.train_y[index[:shown]]
        losses[rank] = F.cross_entropy(model(data.train_x[index]), data.train_y[index]).item()
    extras = {"plan": shard_plan(len(data.train_x), config.world_size, config.batch_size), "shards": shards,
              "digits": digits, "labels": labels, "losses": losses,
              "parameters": sum(p.numel() for p in model.parameters())}
    return TrainingStep(0, config.steps, {"loss": sum(losses.values()) / len(losses)}, extras)


# ---------------------------------------------------------------- ring all-reduce, step by step

def ring_schedule(devices: int) -> list[dict]:
    """Ring all-reduce of a vector cut into `devices` chunks: devices - 1 scatter-reduce steps, then
    devices - 1 all-gather steps. Each entry: the phase, the transfers (sender, receiver, chunk)
    and `holds[d][c]`, how many devices' contributions device d's copy of chunk c sums."""
    holds = [[1] * devices for _ in range(devices)]          # every device starts with its own gradient
    frames = [{"phase": "start", "sends": [], "holds": [row[:] for row in holds]}]
    for step in range(devices - 1):                        # scatter-reduce: partial sums travel the ring
        sends = [(d, (d + 1) % devices, (d - step) % devices) for d in range(devices)]
        incoming = {receiver: (chunk, holds[sender][chunk]) for sender, receiver, chunk in sends}
        for receiver, (chunk, count) in incoming.items():
            holds[receiver][chunk] += count
        frames.append({"phase": "scatter_reduce", "sends": sends, "holds": [row[:] for row in holds]})
    for step in range(devices - 1):                        # all-gather: finished chunks travel the ring
        sends = [(d, (d + 1) % devices, (d + 1 - step) % devices) for d in range(devices)]
        for sender, receiver, chunk in sends:
            holds[receiver][chunk] = holds[sender][chunk]
        frames.append({"phase": "all_gather", "sends": sends, "holds": [row[:] for row in holds]})
    return frames


def ring_bytes_per_device(devices: int, total_bytes: float) -> float:
    """Each device sends 2 (N - 1) / N of the vector: nearly flat in N (vs (N - 1) x for naive)."""
    return 2 * (devices - 1) / devices * total_bytes
