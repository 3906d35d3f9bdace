"""Page 69's engine: real DDP worker processes equal one process, run under torchrun, and never
outlive their run."""

import os
import subprocess
import sys
import time

import pytest
import torch

from engine import distributed
from engine.errors import InputError
from tests.conftest import WAIT
from ui import runner as jobs

ROOT = distributed.ROOT
CONFIG = distributed.DDPConfig(world_size=2, batch_size=16, steps=20)      # one process would use 32


def gone(process) -> bool:
    if process.poll() is None:
        return False
    try:
        os.kill(process.pid, 0)
    except ProcessLookupError:
        return True
    return False                                  # a zombie would still answer; poll() reaped it


@pytest.fixture(scope="module")
def reference():
    return distributed.single_process(CONFIG)


@pytest.mark.slow
def test_two_ranks_end_with_the_single_process_parameters(tmp_path, reference):
    processes = []
    starting, *steps = list(distributed.launch(CONFIG, out=tmp_path / "ddp.pt", processes=processes))
    # the first report comes before any rank is ready: the plan and the workers, nothing measured yet
    assert starting.step == 0 and not starting.metrics and not starting.extras["ranks"]
    assert starting.extras["pids"] == [p.pid for p in processes] and starting.extras["plan"]["per_rank"] > 0
    assert steps[0].step >= 1 and steps[-1].step == 20 and steps[-1].extras["startup"] > 0
    ddp = torch.load(tmp_path / "ddp.pt")
    assert distributed.max_difference(ddp, reference[0]) <= 1e-5
    for step in steps:                           # every reported step: all ranks hold the same parameters
        assert step.metrics["spread"] == 0.0
        before = [record["before"] for record in step.extras["ranks"].values()]
        after = [record["after"] for record in step.extras["ranks"].values()]
        assert after[0] == after[1]                # the all-reduced gradient is the same everywhere
        assert after[0] == pytest.approx([(a + b) / 2 for a, b in zip(*before, strict=True)], abs=1e-7)
    shards = [set(record["shard"]) for record in steps[0].extras["ranks"].values()]
    assert not shards[0] & shards[1]            # DistributedSampler: disjoint shards
    assert all(gone(p) for p in processes)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_the_ranks_mean_loss_is_the_one_process_loss_at_every_step(seed):
    """What page 69 draws as two coinciding curves: the mean of the ranks' losses equals the loss of
    one process on the global batch, step by step (each seed its own start and shuffle)."""
    config = distributed.DDPConfig(world_size=2, batch_size=8, steps=5, seed=seed)
    *_, last = distributed.train(config)
    history = last.extras["history"]
    mean = [(a + b) / 2 for a, b in zip(history["rank0"], history["rank1"], strict=True)]
    assert mean == pytest.approx(last.extras["reference"]["losses"], rel=1e-4)
    assert history["rank0"] != pytest.approx(history["rank1"], rel=1e-3)    # the ranks' own losses differ


@pytest.mark.slow
def test_torchrun_runs_the_same_module_with_the_same_result(tmp_path, reference):
    port = distributed.free_port()
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
               f"--master_port={port}", "-m", "engine.distributed_worker",
               *distributed.worker_command(CONFIG, tmp_path / "torchrun.pt")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=WAIT)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert distributed.max_difference(torch.load(tmp_path / "torchrun.pt"), reference[0]) <= 1e-5


@pytest.mark.slow
def test_a_crashed_worker_ends_the_run_and_no_worker_remains():
    processes = []
    config = distributed.DDPConfig(world_size=2, batch_size=16, steps=200, timeout=30)
    with pytest.raises(InputError) as caught:
        for _ in distributed.launch(config, crash_at=5, processes=processes):
            pass
    assert caught.value.key == "ddp_worker_failed" and caught.value.params["rank"] == 1
    assert caught.value.params["code"] == 3
    assert len(processes) == 2 and all(gone(p) for p in processes)


@pytest.mark.slow
def test_a_hanging_worker_ends_the_run_within_the_timeout():
    processes = []
    config = distributed.DDPConfig(world_size=2, batch_size=16, steps=200, timeout=5)
    with pytest.raises(InputError) as caught:
        for _ in distributed.launch(config, stall_at=5, processes=processes):
            pass
    # rank 0's collective times out (its own error) or the launcher hears nothing for 5 s: either way
    assert caught.value.key in ("ddp_timeout", "ddp_worker_failed")
    assert all(gone(p) for p in processes)


def test_impossible_settings():
    with pytest.raises(InputError) as caught:
        next(distributed.launch(distributed.DDPConfig(world_size=9)))
    assert caught.value.key == "ddp_world_size"
    if torch.cuda.device_count() < 2:
        with pytest.raises(InputError) as caught:
            next(distributed.launch(distributed.DDPConfig(world_size=2, backend="nccl")))
        assert caught.value.key == "ddp_nccl_devices"


@pytest.mark.parametrize("devices", [2, 3, 5, 8])
def test_ring_all_reduce_schedule(devices):
    frames = distributed.ring_schedule(devices)
    assert len(frames) == 1 + 2 * (devices - 1)
    middle = frames[devices - 1]["holds"]           # after scatter-reduce
    for d in range(devices):
        assert middle[d][(d + 1) % devices] == devices     # each device owns one fully reduced chunk
    assert all(count == devices for row in frames[-1]["holds"] for count in row)
    for frame in frames[1:]:                        # every device sends exactly one chunk per step
        assert sorted(s for s, _, _ in frame["sends"]) == list(range(devices))
    assert distributed.ring_bytes_per_device(devices, 100.0) == pytest.approx(200 * (devices - 1) / devices)


@pytest.mark.slow
def test_two_stage_pipeline_timeline():
    (step,) = distributed.pipeline_run(distributed.PipelineConfig(micro_batches=4))    # one measured report
    timelines = step.extras["timelines"]
    assert step.finished and step.extras["micro_batches"] == 4 and step.metrics["bubble"] == distributed.bubble(
        timelines)
    assert 0 < step.extras["from_flops"] < 1 and step.extras["device"] == "cpu"
    assert set(timelines) == {0, 1}
    for events in timelines.values():
        assert sorted((e["kind"], e["micro"]) for e in events) == sorted(
            [("forward", i) for i in range(4)] + [("backward", i) for i in range(4)])
        assert all(e["end"] >= e["start"] >= -1.0 for e in events)
    first_forward = {stage: min(e["start"] for e in events if e["kind"] == "forward")
                     for stage, events in timelines.items()}
    assert first_forward[1] >= min(e["end"] for e in timelines[0] if e["micro"] == 0)   # stage 1 waits for 0
    assert 0.0 <= distributed.bubble(timelines) < 1.0


@pytest.mark.slow
def test_train_runs_on_run_device_and_ends_with_the_one_process_reference(picked_device):
    calls = picked_device               # engine.device.pick_device, spied: returns the CPU
    steps = list(distributed.train(distributed.DDPConfig(world_size=2, batch_size=8, steps=4)))
    final = steps[-1]
    assert calls and all(step.extras["device"] == "cpu" for step in steps)
    assert final.finished and all(v.device.type == "cpu" for v in final.extras["parameters"].values())
    assert set(final.extras["shards"]) == {0, 1} and len(final.extras["history"]["rank1"]) == 4
    assert len(final.extras["history"]["seconds"]) == 4 and min(final.extras["history"]["seconds"]) > 0
    assert final.extras["plan"] == distributed.shard_plan(4000, 2, 8)
    reference = final.extras["reference"]
    assert reference["difference"] <= 1e-5 and len(reference["losses"]) == 4
    mean = [(a + b) / 2 for a, b in zip(final.extras["history"]["rank0"], final.extras["history"]["rank1"],
                                        strict=True)]
    assert reference["losses"] == pytest.approx(mean, abs=1e-5)               # the global batch's mean loss


def _run_until_a_report(runner, start):
    job = runner.submit(jobs.Job(start))
    deadline = time.monotonic() + 300
    while job.last is None and job.active and time.monotonic() < deadline:
        time.sleep(0.1)
    assert job.last is not None, job.error
    return job


@pytest.mark.slow
def test_pause_stops_the_workers_and_stop_in_the_runner_leaves_none():
    """Pause (the generator waits at a report) stops the worker processes too; Resume continues them;
    Stop (the runner closes the generator) ends them, for the DDP run and for the scaling run."""
    runner = jobs.Runner(workers=1)
    config = distributed.DDPConfig(batch_size=8, steps=5000, timeout=5)
    job = _run_until_a_report(runner, lambda: distributed.train(config))
    assert len(_workers()) == 2
    runner.pause(job)
    assert runner.wait(job, timeout=WAIT) and job.state == jobs.PAUSED
    time.sleep(3 * distributed.PAUSE_AFTER)
    assert set(_workers().values()) == {"T"}                                    # stopped, not training on
    paused_at = job.last.step
    time.sleep(config.timeout + 1)                 # longer than the silence the launcher accepts from a worker
    runner.resume(job)
    deadline = time.monotonic() + 120
    while job.last.step <= paused_at + 10 and job.active and time.monotonic() < deadline:
        time.sleep(0.1)
    assert job.state == jobs.RUNNING and job.last.step > paused_at + 10, job.error
    runner.stop(job)
    assert runner.wait(job, timeout=WAIT) and job.state == jobs.STOPPED and job.last.step < 5000
    assert _workers() == {}
    scaling = _run_until_a_report(runner, lambda: distributed.scaling(
        distributed.ScalingConfig(worlds=(2,), steps=5000, batch_size=8)))
    assert len(_workers()) == 2
    runner.stop(scaling)
    assert runner.wait(scaling, timeout=60) and scaling.state == jobs.STOPPED
    assert _workers() == {}


def _workers() -> dict[int, str]:
    """Live `python -m engine.distributed_worker` processes started by this test process: pid -> state."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                is_worker = b"engine.distributed_worker" in cmdline.read().split(b"\0")
            with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
                state, parent = stat.read().split(") ", 1)[1].split()[:2]
        except OSError:
            continue
        if is_worker and state != "Z" and int(parent) == os.getpid():      # a zombie has exited
            found[int(pid)] = state
    return found


@pytest.mark.slow
def test_scaling_reports_each_world_size_on_one_backend():
    steps = list(distributed.scaling(distributed.ScalingConfig(worlds=(1, 2), steps=6, batch_size=8)))
    assert [s.step for s in steps][-1] == 12 and steps[-1].finished
    rows = steps[-1].extras["rows"]
    assert [r["world"] for r in rows] == [1, 2] and rows[0]["efficiency"] == 1.0
    assert all(r["step_seconds"] > 0 and r["startup"] > 0 for r in rows)
    assert rows[1]["throughput"] == pytest.approx(2 * 8 / rows[1]["step_seconds"])
    assert steps[-1].extras["device"] == "cpu"


@pytest.mark.parametrize(("items", "world"), [(10, 4), (10, 3), (4000, 3), (4000, 4), (7, 2)])
def test_distributed_sampler_trims_or_pads_as_the_caption_says(items, world):
    from torch.utils.data import DistributedSampler

    def shards(drop_last):
        return [list(DistributedSampler(range(items), num_replicas=world, rank=r, seed=0, drop_last=drop_last))
                for r in range(world)]

    plan = distributed.shard_plan(items, world, batch_size=2)
    trimmed, padded = shards(True), shards(False)
    assert all(len(shard) == plan["per_rank"] for shard in trimmed)
    used = [i for shard in trimmed for i in shard]
    assert len(set(used)) == len(used) == items - plan["trimmed"]               # drop_last=True: no repeats
    everything = [i for shard in padded for i in shard]
    assert set(everything) == set(range(items))                                 # drop_last=False: all, plus
    assert len(everything) - items == plan["padded"]                            # this many repeated to pad
    assert plan["batches"] * 2 + plan["unused"] == plan["per_rank"]


def test_padding_repeats_samples_so_a_sharded_evaluation_is_biased():
    from torch.utils.data import DistributedSampler

    counts = torch.zeros(10)
    for rank in range(4):
        for index in DistributedSampler(range(10), num_replicas=4, rank=rank, shuffle=False):
            counts[index] += 1
    assert counts.tolist() == [2, 2] + [1] * 8                                  # 12 slots for 10 samples


def test_each_epoch_gets_a_new_shuffle_only_with_set_epoch():
    from torch.utils.data import DistributedSampler

    sampler = DistributedSampler(range(100), num_replicas=2, rank=0, seed=0)
    assert list(sampler) == list(sampler)                                        # no set_epoch: the same order
    batches = distributed.shard_batches(100, 0, 2, 10, seed=0)
    epochs = [[next(batches) for _ in range(5)] for _ in range(2)]
    assert [e for e, _ in epochs[0]] == [0] * 5 and [e for e, _ in epochs[1]] == [1] * 5
    assert torch.cat([i for _, i in epochs[0]]).tolist() != torch.cat([i for _, i in epochs[1]]).tolist()
    other = distributed.shard_batches(100, 1, 2, 10, seed=0)
    for _ in range(5):
        next(other)
    second = torch.cat([next(other)[1] for _ in range(5)]).tolist()          # rank 1, epoch 1
    assert sorted(torch.cat([i for _, i in epochs[1]]).tolist() + second) == list(range(100))   # still disjoint


def test_pipeline_stage_flops_match_torch_flop_counter():
    from torch.utils.flop_counter import FlopCounterMode

    import engine.distributed_worker as worker
    batch = 8
    x = torch.rand(batch, 1, 28, 28)
    counted = []
    for rank in (0, 1):
        stage = worker.pipeline_stage(rank)
        inputs = x if rank == 0 else torch.rand(batch, worker.PIPELINE_WIDTH, requires_grad=True)
        with FlopCounterMode(display=False) as forward:
            out = stage(inputs)
            loss = torch.nn.functional.cross_entropy(out, torch.zeros(batch, dtype=torch.long)) if rank else out.sum()
        with FlopCounterMode(display=False) as backward:
            loss.backward()
        counted.append({"forward": forward.get_total_flops() // batch, "backward": backward.get_total_flops() // batch})
    assert distributed.stage_flops() == counted
    forward_share = counted[0]["forward"] / (counted[0]["forward"] + counted[1]["forward"])
    assert forward_share == pytest.approx(0.43, abs=0.005)                      # not the "equal stages" once claimed


@pytest.mark.parametrize("micro", [1, 2, 4, 8])
def test_gpipe_bubble_matches_the_closed_forms(micro):
    assert distributed.gpipe_bubble(micro, [1.0, 1.0], [2.0, 2.0]) == pytest.approx(1 / (micro + 1))
    assert distributed.gpipe_bubble(micro, [1.0] * 3, [1.0] * 3) == pytest.approx(2 / (micro + 2))
    # two stages, the second slower in both directions: the span is a + M c, the work M (a + c)
    a, c = 1.0 + 1.0, 1.5 + 3.0
    assert distributed.gpipe_bubble(micro, [1.0, 1.5], [1.0, 3.0]) == pytest.approx(
        1 - micro * (a + c) / (2 * (a + micro * c)))
