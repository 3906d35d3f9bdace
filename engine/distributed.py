"""Real data-parallel training from the app: start worker processes, stream their reports, and
make sure none outlives its run; the single-process reference; the ring all-reduce schedule.

The workers are `python -m engine.distributed_worker` subprocesses (each re-imports torch: a few
seconds per rank on a small machine), one per rank, talking over Gloo on CPUs or NCCL on GPUs
through a free localhost port. Any way a run ends (finished, stopped, the page left, a timeout,
a crashed rank) goes through `_stop`, which terminates every worker's process group and waits.
"""

import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from engine.data import load_digits
from engine.distributed_worker import build_model, shard_batches
from engine.errors import InputError
from engine.training import Throttle, TrainingStep

ROOT = Path(__file__).resolve().parents[1]
MAX_WORLD = 4


@dataclass(frozen=True)
class DDPConfig:
    world_size: int = 2
    batch_size: int = 32             # per rank: the global batch is world_size x batch_size
    hidden: int = 64
    steps: int = 30
    learning_rate: float = 0.05      # SGD with momentum 0.9
    seed: int = 0
    backend: str = "gloo"            # "nccl" needs one CUDA device per rank
    timeout: float = 60.0            # seconds without any report before the run is declared stuck
    start_timeout: float = 120.0     # seconds for every rank to import torch and meet


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def worker_command(config: DDPConfig, out: Path | None = None, crash_at: int = -1) -> list[str]:
    """The arguments after `python -m engine.distributed_worker` (also used for torchrun)."""
    command = ["--steps", str(config.steps), "--batch-size", str(config.batch_size), "--hidden", str(config.hidden),
               "--lr", str(config.learning_rate), "--seed", str(config.seed), "--backend", config.backend,
               "--timeout", str(config.timeout)]
    if out is not None:
        command += ["--out", str(out)]
    if crash_at >= 0:
        command += ["--crash-at", str(crash_at)]
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


def launch(config: DDPConfig, out: Path | None = None, crash_at: int = -1,
           processes: list | None = None) -> Iterator[TrainingStep]:
    """Run DDP with `config.world_size` worker processes and yield the merged per-step reports.

    Metrics: mean `loss` over ranks and the largest parameter-checksum `spread` between ranks.
    Extras: `ranks` (this step's record from each rank), `history` (per-rank loss), `startup`
    (seconds until every rank was ready), `pids`. `processes`, if given, receives the Popen objects
    (tests use it to check that none is left). Raises InputError when a rank fails or stalls."""
    if not 1 <= config.world_size <= MAX_WORLD:
        raise InputError("ddp_world_size", low=1, high=MAX_WORLD)
    if config.backend == "nccl" and torch.cuda.device_count() < config.world_size:
        raise InputError("ddp_nccl_devices", needed=config.world_size, found=torch.cuda.device_count())
    port = free_port()
    reports: queue.Queue = queue.Queue()
    errors = [deque(maxlen=25) for _ in range(config.world_size)]
    started = processes if processes is not None else []
    threads = []
    begin = time.perf_counter()
    try:
        for rank in range(config.world_size):
            env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank),
                   "LOCAL_RANK": str(rank), "WORLD_SIZE": str(config.world_size), "OMP_NUM_THREADS": "1",
                   "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
            process = subprocess.Popen([sys.executable, "-m", "engine.distributed_worker",
                                        *worker_command(config, out, crash_at)],
                                       cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                       start_new_session=True)
            started.append(process)
            for stream, sink in ((process.stdout, reports), (process.stderr, errors[rank])):
                thread = threading.Thread(target=_read, args=(stream, rank, sink), daemon=True)
                thread.start()
                threads.append(thread)
        yield from _follow(config, started, reports, errors, begin)
        for process in started:                   # finished: let each exit on its own first
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                break
    finally:
        _stop(started)
        for thread in threads:
            thread.join(timeout=1.0)


def _follow(config, processes, reports, errors, begin) -> Iterator[TrainingStep]:
    pending: dict[int, dict[int, dict]] = {}
    ready, done = set(), set()
    startup = None
    history: dict[str, list[float]] = {"step": [], **{f"rank{r}": [] for r in range(config.world_size)}}
    throttle = Throttle(config.steps, max_share=0.1)
    last_news = time.monotonic()
    while len(done) < config.world_size:
        for rank, process in enumerate(processes):
            code = process.poll()
            if code not in (None, 0):
                time.sleep(0.2)                                   # let its last words arrive
                tail = " | ".join(list(errors[rank])[-3:])[-300:]
                raise InputError("ddp_worker_failed", rank=rank, code=code, detail=tail or "-")
        limit = config.start_timeout if startup is None else config.timeout
        if time.monotonic() - last_news > limit:
            raise InputError("ddp_timeout", seconds=round(limit))
        try:
            rank, line = reports.get(timeout=0.1)
        except queue.Empty:
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue                                              # a stray line (a library warning)
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
            for r, rec in records.items():
                history[f"rank{r}"].append(rec["loss"])
            if throttle.due(step - 1):
                with throttle.reporting():
                    metrics = {"loss": sum(r["loss"] for r in records.values()) / len(records),
                               "spread": max(r["spread"] for r in records.values())}
                    extras = {"ranks": dict(sorted(records.items())), "startup": startup,
                              "history": {k: list(v) for k, v in history.items()},
                              "pids": [p.pid for p in processes]}
                    yield TrainingStep(step, config.steps, metrics, extras, time.perf_counter() - begin)


def single_process(config: DDPConfig) -> tuple[dict[str, torch.Tensor], list[float]]:
    """The same training in one process with the global batch (the union of every rank's batch):
    the final parameters and the loss per step. DDP must end with the same parameters."""
    torch.set_num_threads(1)
    data = load_digits()
    model = build_model(config.seed, config.hidden)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.learning_rate, momentum=0.9)
    shards = [shard_batches(len(data.train_x), r, config.world_size, config.batch_size, config.seed)
              for r in range(config.world_size)]
    losses = []
    for _ in range(config.steps):
        index = torch.cat([next(shard)[1] for shard in shards])
        loss = F.cross_entropy(model(data.train_x[index]), data.train_y[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return {k: v.detach().clone() for k, v in model.state_dict().items()}, losses


def max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max((a[k] - b[k]).abs().max().item() for k in a)


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
