"""One rank of a real DistributedDataParallel run: `python -m engine.distributed_worker ...`.

Started by `engine.distributed.launch` (one subprocess per rank, never from a page body) or by
`torchrun --nproc_per_node=N -m engine.distributed_worker ...`; both set RANK, WORLD_SIZE,
MASTER_ADDR and MASTER_PORT. Each rank prints one JSON line per step on stdout (its loss, one
watched gradient entry before and after the all-reduce, a parameter checksum compared across
ranks, compute and communication time), and rank 0 saves the final parameters if asked.
"""

import argparse
import contextlib
import ctypes
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from engine.data import load_digits
from engine.rng import build

PIPELINE_WIDTH = 512  # the pipeline demo's MLP: 784 -> 512 -> 512 -> 512 -> 10
WATCHED = 6          # gradient entries of the first layer's weight shown before and after the all-reduce
FIRST = 14 * 28 + 11  # the first of them: a pixel of the middle row (border pixels are always 0: no gradient)


def build_model(seed: int, hidden: int, device: torch.device | str = "cpu") -> torch.nn.Module:
    """The same start on every rank and in the single-process reference, drawn from a generator of
    its own (the weights `torch.manual_seed(seed)` would give, without touching the global one)."""
    return build(lambda: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, hidden), torch.nn.ReLU(),
                                             torch.nn.Linear(hidden, 10)),
                 torch.Generator().manual_seed(seed), device)


def pipeline_stage(rank: int, width: int = PIPELINE_WIDTH) -> torch.nn.Sequential:
    """The pipeline demo's two stages: rank 0 holds the first layer, rank 1 the other three (and the loss)."""
    if rank == 0:
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, width), torch.nn.ReLU())
    return torch.nn.Sequential(torch.nn.Linear(width, width), torch.nn.ReLU(), torch.nn.Linear(width, width),
                               torch.nn.ReLU(), torch.nn.Linear(width, 10))


def shard_batches(num_items: int, rank: int, world: int, batch_size: int, seed: int):
    """Endless (epoch, indices) for this rank: DistributedSampler's shard of a seeded permutation,
    cut into batches. Rank r's k-th batch is every world-th index of the k-th global batch."""
    sampler = DistributedSampler(range(num_items), num_replicas=world, rank=rank, shuffle=True, seed=seed,
                                 drop_last=True)       # trim the shuffled data to a multiple of world, never pad
    epoch = 0
    while True:
        sampler.set_epoch(epoch)                       # a new shuffle each epoch (seed + epoch), the same on every rank
        order = torch.tensor(list(sampler))
        for start in range(0, len(order) - batch_size + 1, batch_size):      # the incomplete last batch is dropped
            yield epoch, order[start:start + batch_size]
        epoch += 1


def die_with_parent() -> None:
    """Linux: get SIGTERM if the process that started us dies (a killed server leaves no workers)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)       # PR_SET_PDEATHSIG


class CommTimer:
    """A DDP communication hook: all-reduce each gradient bucket (sum, then divide by the world
    size, as DDP's default does), recording the watched entries before reduction and the time
    until each bucket's reduction completes."""

    def __init__(self, world: int, watched: torch.nn.Parameter) -> None:
        self.__name__ = self.__qualname__ = "comm_timer_hook"     # DDP logs hooks by name
        self.world = world
        self.watched = watched
        self.before: list[float] = []
        self.seconds = 0.0

    def __call__(self, state, bucket):
        start = time.perf_counter()
        buffer = bucket.buffer()
        offset = 0
        for parameter in bucket.parameters():
            if parameter is self.watched:
                self.before = buffer[offset + FIRST:offset + FIRST + WATCHED].tolist()
            offset += parameter.numel()
        buffer.div_(self.world)
        future = dist.all_reduce(buffer, async_op=True).get_future()

        def done(fut):
            self.seconds += time.perf_counter() - start
            return fut.value()[0]

        return future.then(done)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32, help="per rank")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default="gloo")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds a collective may wait")
    parser.add_argument("--out", default="", help="rank 0 saves the final parameters here")
    parser.add_argument("--crash-at", type=int, default=-1, help="testing: rank 1 exits at this step")
    parser.add_argument("--stall-at", type=int, default=-1, help="testing: rank 1 hangs at this step")
    parser.add_argument("--pipeline", type=int, default=0, help="instead of DDP: a 2-stage pipeline step "
                                                                  "with this many micro-batches")
    args = parser.parse_args(argv)
    die_with_parent()
    torch.set_num_threads(1)                     # one thread per worker: the ranks share the cores
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    device = torch.device("cpu")
    if args.backend == "nccl":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
        torch.cuda.set_device(device)
    began = time.perf_counter()
    dist.init_process_group(args.backend, timeout=timedelta(seconds=args.timeout))
    if args.pipeline:
        pipeline_step(args, rank)
        dist.destroy_process_group()
        print(json.dumps({"rank": rank, "event": "done"}), flush=True)
        return
    model = build_model(args.seed, args.hidden, device)
    print(json.dumps({"rank": rank, "event": "ready", "seconds": time.perf_counter() - began}), flush=True)
    for record in train_rank(model, args.steps, args.batch_size, args.lr, args.seed, rank, world, device,
                             crash_at=args.crash_at, stall_at=args.stall_at):
        print(json.dumps(record), flush=True)
    if rank == 0 and args.out:
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, args.out)
    dist.barrier()
    dist.destroy_process_group()
    print(json.dumps({"rank": rank, "event": "done"}), flush=True)


def train_rank(model: torch.nn.Module, steps: int, batch_size: int, learning_rate: float, seed: int, rank: int,
               world: int, device: torch.device, crash_at: int = -1, stall_at: int = -1) -> Iterator[dict]:
    """This rank's share of a DDP run (the process group is up): SGD with momentum 0.9 on its shard
    of the digits, one record per step. `crash_at` and `stall_at` are the app's tests of a rank
    that dies or hangs (rank 1 only)."""
    data = load_digits()
    train_x, train_y = data.train_x.to(device), data.train_y.to(device)      # on the rank's device once
    ddp = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    watched = model[1].weight
    timer = CommTimer(world, watched)
    ddp.register_comm_hook(None, timer)
    optimizer = torch.optim.SGD(ddp.parameters(), lr=learning_rate, momentum=0.9)
    batches = shard_batches(len(train_x), rank, world, batch_size, seed)
    for step in range(steps):
        if step == crash_at and rank == 1:
            os._exit(3)                          # a worker dying without a word, as a crash would
        if step == stall_at and rank == 1:
            time.sleep(3600)                     # a worker hanging, as a deadlock would
        epoch, index = next(batches)
        index = index.to(device)
        x, labels = train_x[index], train_y[index]
        timer.seconds = 0.0
        start = time.perf_counter()
        loss = F.cross_entropy(ddp(x), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()                          # DDP all-reduces the gradient buckets during backward
        after = watched.grad.flatten()[FIRST:FIRST + WATCHED].tolist()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
        checksum = torch.stack([p.detach().double().sum() for p in model.parameters()]).sum().reshape(1)
        sums = [torch.zeros(1, dtype=torch.float64, device=device) for _ in range(world)]
        dist.all_gather(sums, checksum.to(device))
        spread = (max(s.item() for s in sums) - min(s.item() for s in sums))
        record = {"rank": rank, "event": "step", "step": step + 1, "epoch": epoch, "loss": loss.item(),
                  "before": timer.before, "after": after, "spread": spread, "seconds": seconds,
                  "comm_seconds": timer.seconds}
        if step == 0:
            record["shard"] = index[:12].tolist()
        yield record


def pipeline_step(args, rank: int, batch: int = 1024) -> None:
    """Model parallelism in two stages with GPipe's schedule (`pipeline_stage`: unequal work, see
    `engine.distributed.stage_flops`); `args.pipeline` micro-batches go forward through both stages, then
    backward in reverse. Prints every forward / backward interval, timed on the machine-wide
    monotonic clock from a common origin (the second of two steps: the first warms up)."""
    data = load_digits()
    stage = build(lambda: pipeline_stage(rank), torch.Generator().manual_seed(args.seed))
    args.hidden = PIPELINE_WIDTH
    inputs = data.train_x[:batch].chunk(args.pipeline)
    labels = data.train_y[:batch].chunk(args.pipeline)
    for _ in range(2):
        events = _pipeline_once(stage, inputs, labels, rank, args.hidden)
        stage.zero_grad(set_to_none=True)
    print(json.dumps({"rank": rank, "event": "timeline", "events": events}), flush=True)


def _pipeline_once(stage, inputs, labels, rank: int, hidden: int) -> list[dict]:
    origin = torch.tensor([time.monotonic()], dtype=torch.float64)
    dist.barrier()
    dist.broadcast(origin, src=0)
    zero = origin.item()
    events: list[dict] = []

    def record(kind: str, index: int, start: float) -> None:
        events.append({"kind": kind, "micro": index, "start": start - zero, "end": time.monotonic() - zero})

    if rank == 0:
        outputs = []
        for i, x in enumerate(inputs):
            start = time.monotonic()
            activation = stage(x)
            record("forward", i, start)
            dist.send(activation.detach().contiguous(), dst=1)
            outputs.append(activation)
        for i in reversed(range(len(inputs))):
            gradient = torch.empty_like(outputs[i])
            dist.recv(gradient, src=1)
            start = time.monotonic()
            outputs[i].backward(gradient)
            record("backward", i, start)
        return events
    received, losses = [], []
    for i, y in enumerate(labels):
        activation = torch.empty(len(y), hidden)
        dist.recv(activation, src=0)
        activation.requires_grad_(True)
        start = time.monotonic()
        losses.append(F.cross_entropy(stage(activation), y) / len(labels))
        record("forward", i, start)
        received.append(activation)
    for i in reversed(range(len(labels))):
        start = time.monotonic()
        losses[i].backward()
        record("backward", i, start)
        dist.send(received[i].grad.contiguous(), dst=0)
    return events


if __name__ == "__main__":
    main()
