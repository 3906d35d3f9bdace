"""The server-wide runner: order, Pause / Step / Resume / Stop, errors, cancellation, nothing left behind."""

import gc
import threading
import time
import weakref

import pytest

from engine.errors import InputError
from engine.training import Throttle, TrainingStep
from tests.conftest import WAIT, wait_until
from ui import queue_times, recordings
from ui import runner as jobs
from ui.jobs import step_amount


class Model:
    """Stands in for a trained model: the thing a stopped run must keep."""


def counting(total: int, seconds: float = 0.0, closed: list | None = None, fail_at: int | None = None,
             error: Exception | None = None):
    model = Model()
    try:
        for step in range(1, total + 1):
            time.sleep(seconds)
            if step == fail_at:
                raise error
            yield TrainingStep(step, total, {"step": float(step)}, {"model": model})
    finally:
        if closed is not None:
            closed.append(True)


@pytest.fixture
def runner():
    return jobs.Runner(workers=1)


def test_a_run_finishes_with_its_last_step(runner):
    job = runner.submit(jobs.Job(lambda: counting(5)))
    assert runner.wait(job, timeout=WAIT)
    assert job.state == jobs.FINISHED and job.last.step == 5 and job.last.finished
    assert runner.jobs() == []                      # the runner forgets a job once it is done


def test_a_full_pool_queues_in_order_and_shows_positions(runner):
    first = runner.submit(jobs.Job(lambda: counting(200, 0.01)))
    second = runner.submit(jobs.Job(lambda: counting(3)))
    third = runner.submit(jobs.Job(lambda: counting(3)))
    wait_until(lambda: first.state == jobs.RUNNING)
    assert (runner.position(first), runner.position(second), runner.position(third)) == (None, 1, 2)
    assert second.state == jobs.QUEUED and second.last is None
    runner.stop(first)
    assert runner.wait(timeout=WAIT)
    assert first.state == jobs.STOPPED and second.state == third.state == jobs.FINISHED


def test_pause_step_resume_stop_keep_the_model_trained_so_far(runner):
    closed = []
    job = runner.submit(jobs.Job(lambda: counting(10_000, 0.001, closed)))
    wait_until(lambda: job.last is not None)
    runner.pause(job)
    wait_until(lambda: job.state == jobs.PAUSED)
    paused_at = job.last.step
    time.sleep(0.05)
    assert job.last.step == paused_at and runner.idle()         # a paused run gives its worker back
    runner.resume(job, steps_once=True)                 # Step: the stated amount more, then paused again
    wait_until(lambda: job.state == jobs.PAUSED and job.last.step > paused_at)
    assert job.last.step == paused_at + step_amount(10_000)
    runner.resume(job)
    wait_until(lambda: job.last.step > paused_at + 5)
    runner.stop(job)
    assert runner.wait(job, timeout=WAIT)
    assert job.state == jobs.STOPPED and closed == [True]        # the engine's cleanup ran
    assert 0 < job.last.step < 10_000 and isinstance(job.last.extras["model"], Model)


def test_step_before_a_run_starts_it_paused_after_the_first_report(runner):
    job = runner.submit(jobs.Job(lambda: counting(50)), paused_after_first=True)
    wait_until(lambda: job.state == jobs.PAUSED)
    assert job.last.step == 1


def test_stopping_a_paused_or_queued_run_closes_it_at_once(runner):
    closed = []
    blocker = runner.submit(jobs.Job(lambda: counting(10_000, 0.001)))
    waiting = runner.submit(jobs.Job(lambda: counting(5)))
    runner.stop(waiting)
    assert waiting.state == jobs.STOPPED and waiting.last is None
    runner.stop(blocker)
    paused = runner.submit(jobs.Job(lambda: counting(10_000, 0.001, closed)), paused_after_first=True)
    wait_until(lambda: paused.state == jobs.PAUSED)
    runner.stop(paused)
    assert paused.state == jobs.STOPPED and closed == [True]


@pytest.mark.parametrize("error", [InputError("regression_no_rows"), RuntimeError("a bug")])
def test_an_error_mid_run_fails_the_job_and_keeps_the_last_report(runner, error):
    closed = []
    job = runner.submit(jobs.Job(lambda: counting(10, closed=closed, fail_at=4, error=error)))
    assert runner.wait(job, timeout=WAIT)
    assert job.state == jobs.FAILED and job.error is error and job.last.step == 3 and closed == [True]
    after = runner.submit(jobs.Job(lambda: counting(2)))           # the worker survived
    assert runner.wait(after, timeout=WAIT) and after.state == jobs.FINISHED


def test_leaving_the_page_or_closing_the_tab_cancels_and_frees_everything(runner):
    closed = []
    model_refs = []

    def tracked(owner_total):
        generator = counting(owner_total, 0.001, closed)
        return generator

    mine = runner.submit(jobs.Job(lambda: tracked(100_000), owner="a", page="unet"))
    other = runner.submit(jobs.Job(lambda: tracked(100_000), owner="b", page="unet"))
    wait_until(lambda: mine.last is not None)
    model_refs.append(weakref.ref(mine.last.extras["model"]))
    threads_before = threading.active_count()
    assert runner.cancel_owner("a", keep_page="unet") == 0        # still on the page: nothing stops
    assert runner.cancel_owner("a", keep_page="home") == 1        # went to another page
    assert runner.wait(mine, timeout=WAIT) and mine.state == jobs.STOPPED
    wait_until(lambda: other.state == jobs.RUNNING)
    runner.gone = lambda owner: owner == "b"                      # b closed the tab
    assert runner.wait(other, timeout=WAIT) and other.state == jobs.STOPPED
    assert closed == [True, True] and runner.jobs() == [] and runner.idle()
    assert threading.active_count() == threads_before and runner.live_threads() == runner.workers
    mine = None                                                   # the session's record goes with the session
    gc.collect()
    assert model_refs[0]() is None                                # nothing else holds the model


def test_two_workers_train_two_runs_at_once():
    runner = jobs.Runner(workers=2)
    first = runner.submit(jobs.Job(lambda: counting(10_000, 0.001)))
    second = runner.submit(jobs.Job(lambda: counting(10_000, 0.001)))
    wait_until(lambda: first.state == second.state == jobs.RUNNING)
    assert runner.position(second) is None
    runner.stop(first)
    runner.stop(second)
    assert runner.wait(timeout=WAIT)


def test_the_default_pool_follows_the_cores(monkeypatch):
    from engine import device

    monkeypatch.delenv(jobs.WORKERS_ENV, raising=False)
    monkeypatch.setattr(device, "usable_cores", lambda: 2)
    assert jobs.default_workers() == 1
    monkeypatch.setattr(device, "usable_cores", lambda: 16)
    assert jobs.default_workers() == 4
    monkeypatch.setenv(jobs.WORKERS_ENV, "3")
    assert jobs.default_workers() == 3


def test_pausing_a_queued_run_takes_it_out_of_the_queue_until_resumed(runner):
    blocker = runner.submit(jobs.Job(lambda: counting(10_000, 0.001)))
    waiting = runner.submit(jobs.Job(lambda: counting(3)))
    wait_until(lambda: blocker.state == jobs.RUNNING)
    runner.pause(waiting)
    assert waiting.state == jobs.PAUSED and runner.position(waiting) is None and waiting.last is None
    runner.resume(waiting)
    assert runner.position(waiting) == 1
    runner.stop(blocker)
    assert runner.wait(waiting, timeout=WAIT) and waiting.state == jobs.FINISHED


@pytest.mark.slow
def test_a_paced_run_spreads_its_reports_and_skip_ends_the_wait(runner):
    """A run that trains in a blink, paced over 1 s, takes about 1 s; Skip makes it finish at once."""
    started = time.monotonic()
    job = runner.submit(jobs.Job(lambda: counting(20), pace=1.0))
    assert runner.wait(job, timeout=WAIT)
    paced = time.monotonic() - started
    assert 0.85 <= paced < 5 and job.state == jobs.FINISHED
    job = runner.submit(jobs.Job(lambda: counting(20), pace=30.0))
    wait_until(lambda: job.last is not None and job.last.step >= 2)
    runner.skip_pace(job)
    assert runner.wait(job, timeout=WAIT) and job.last.step == 20


def test_stop_and_pause_end_a_paced_wait_at_once(runner):
    job = runner.submit(jobs.Job(lambda: counting(10), pace=60.0))       # six seconds between reports
    wait_until(lambda: job.last is not None)
    runner.pause(job)
    wait_until(lambda: job.state == jobs.PAUSED)
    runner.stop(job)
    assert runner.wait(job, timeout=WAIT) and job.state == jobs.STOPPED and job.last.step <= 2


@pytest.mark.slow
def test_the_wait_estimate_follows_the_running_job_and_the_finished_runs_of_each_kind(runner):
    # Nothing to estimate from yet: the first job has not reported and no run of any kind finished.
    runner.submit(jobs.Job(lambda: counting(1, 0.5), kind="slow"))
    waiting = runner.submit(jobs.Job(lambda: counting(3), kind="quick"))
    assert runner.wait_estimate(waiting) is None
    assert runner.wait(timeout=WAIT)
    assert runner.wait_estimate(waiting) is None                     # not waiting any more
    # Now "slow" runs are known to take about 0.5 s: a queue of two slow runs ahead of a third job
    # is estimated from the running one's progress, then the typical slow run.
    first = runner.submit(jobs.Job(lambda: counting(100, 0.01), kind="slow"))
    second = runner.submit(jobs.Job(lambda: counting(1, 0.5), kind="slow"))
    third = runner.submit(jobs.Job(lambda: counting(3), kind="quick"))
    wait_until(lambda: first.last is not None and first.last.step >= 20)
    to_second, to_third = runner.wait_estimate(second), runner.wait_estimate(third)
    left = first.running_seconds() * (1 - first.last.fraction_done) / first.last.fraction_done
    assert 0.4 < to_second < 1.2 and abs(to_second - left) < 0.2      # 80 of 100 steps of 0.01 s still to go
    assert abs(to_third - to_second - 0.5) < 0.15                     # plus one typical slow run
    assert runner.wait_estimate(first) is None
    assert runner.wait(timeout=WAIT)


@pytest.mark.slow
def test_two_workers_split_the_queue_in_the_estimate():
    runner = jobs.Runner(workers=2)
    done = runner.submit(jobs.Job(lambda: counting(1, 0.3), kind="k"))
    assert runner.wait(done, timeout=WAIT)                             # one finished run of 0.3 s
    a = runner.submit(jobs.Job(lambda: counting(1, 2.0), kind="k"))
    b = runner.submit(jobs.Job(lambda: counting(1, 2.0), kind="k"))
    c, d, e = (runner.submit(jobs.Job(lambda: counting(1), kind="k")) for _ in range(3))
    wait_until(lambda: a.state == b.state == jobs.RUNNING)
    # both running jobs are still before their first report, each thought to take 0.3 s in all: c and
    # d get the two workers when those free up, e waits for one of them again
    took = queue_times.typical(runner.durations, "k")     # what the finished run really took: 0.3 s and a little
    assert took >= 0.3
    soon = runner.wait_estimate(c)
    assert 0.0 <= soon <= took
    assert runner.wait_estimate(d) == pytest.approx(soon, abs=0.05)
    assert runner.wait_estimate(e) == pytest.approx(soon + took, abs=0.05)
    for job in (a, b, c, d, e):
        runner.stop(job)
    assert runner.wait(timeout=WAIT)


def test_a_paced_run_goes_full_speed_while_another_learner_waits(runner):
    paced = runner.submit(jobs.Job(lambda: counting(20), pace=60.0))     # three seconds between reports
    wait_until(lambda: paced.last is not None)
    waiting = runner.submit(jobs.Job(lambda: counting(3)))
    assert runner.wait(waiting, timeout=WAIT) and paced.state == jobs.FINISHED and waiting.state == jobs.FINISHED


# ---------------------------------------------------------------- replays of equal runs, models put away

def fitting(total: int, seconds: float = 0.0, calls: list | None = None):
    """A real (tiny) training run, deterministic from its own generator: equal runs, equal models."""
    import torch

    if calls is not None:
        calls.append(True)
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(64, 4, generator=generator)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0])
    model = torch.nn.Linear(4, 1)
    with torch.no_grad():
        model.weight.copy_(torch.randn(1, 4, generator=generator))
        model.bias.zero_()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for step in range(1, total + 1):
        loss = ((model(x).squeeze(1) - y) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        time.sleep(seconds)
        yield TrainingStep(step, total, {"loss": loss.item()}, {"model": model, "curve": [step]})


def replaying_runner(workers: int = 1) -> jobs.Runner:
    runner = jobs.Runner(workers=workers)
    runner.replays = True
    return runner


def test_an_equal_run_is_replayed_at_its_pace_without_a_worker_and_gets_its_own_equal_model():
    import torch

    runner = replaying_runner()
    calls = []
    first = runner.submit(jobs.Job(lambda: fitting(40, 0.01, calls), owner="a", replay_key=("fit", 40)))
    assert runner.wait(first, timeout=WAIT) and first.state == jobs.FINISHED
    assert runner.recordings() == 1 and first.replayed is None
    took = first.running_seconds()

    began = time.monotonic()
    second = runner.submit(jobs.Job(lambda: fitting(40, 0.01, calls), owner="b", replay_key=("fit", 40)))
    assert second.replayed is not None and second.state == jobs.RUNNING
    assert not runner.full()                            # the one worker stays free for a different run
    other = runner.submit(jobs.Job(lambda: fitting(5, 0.0, calls), owner="c", replay_key=("fit", 5)))
    assert runner.wait(other, timeout=WAIT) and other.state == jobs.FINISHED
    assert second.state == jobs.RUNNING                 # played at the original's pace, not in a blink
    assert runner.wait(second, timeout=WAIT) and second.state == jobs.FINISHED
    assert time.monotonic() - began >= 0.6 * took
    assert len(calls) == 2                               # the replay never trained
    assert second.last.metrics == first.last.metrics and second.last.step == 40
    mine, theirs = second.last.extras["model"], first.last.extras["model"]
    assert mine is not theirs
    assert all(torch.equal(a, b) for a, b in zip(mine.state_dict().values(), theirs.state_dict().values(), strict=True))
    with torch.no_grad():                                # the learner's copy is theirs alone
        mine.weight.add_(1.0)
    again = runner.submit(jobs.Job(lambda: fitting(40, 0.01, calls), owner="d", replay_key=("fit", 40)))
    runner.skip_pace(again)
    assert runner.wait(again, timeout=WAIT)
    assert torch.equal(again.last.extras["model"].weight, theirs.weight)


def test_a_replay_pauses_steps_resumes_and_stops_without_a_model():
    runner = replaying_runner()
    first = runner.submit(jobs.Job(lambda: fitting(30, 0.02), replay_key="k"))
    assert runner.wait(first, timeout=WAIT)
    frames = len(runner.recorded["k"].frames)
    assert frames >= 5

    replay = runner.submit(jobs.Job(lambda: fitting(30, 0.02), replay_key="k"))
    wait_until(lambda: replay.last is not None)
    runner.pause(replay)
    wait_until(lambda: replay.state == jobs.PAUSED)
    at = replay.last.step
    assert replay.last.extras.get("model") is None and at < 30      # only the last report brings a model
    runner.resume(replay, steps_once=True)                   # Step: the recorded frame at the stated amount
    wait_until(lambda: replay.state == jobs.PAUSED and replay.last.step > at)
    steps = [s.step for _, s in runner.recorded["k"].frames]
    assert replay.last.step == next(step for step in steps if step >= at + step_amount(30))   # no further
    runner.resume(replay)
    assert runner.wait(replay, timeout=WAIT) and replay.state == jobs.FINISHED
    assert replay.last.extras["model"] is not None and replay.last.metrics == first.last.metrics

    stopped = runner.submit(jobs.Job(lambda: fitting(30, 0.02), replay_key="k"))
    wait_until(lambda: stopped.last is not None)
    runner.stop(stopped)
    assert runner.wait(stopped, timeout=WAIT) and stopped.state == jobs.STOPPED
    assert stopped.last.step < 30 and stopped.last.extras.get("model") is None


def test_no_replay_without_replays_on_for_a_step_from_scratch_or_for_a_different_key():
    runner = replaying_runner()
    calls = []
    assert runner.wait(runner.submit(jobs.Job(lambda: fitting(5, 0, calls), replay_key="k")), timeout=WAIT)
    stepped = runner.submit(jobs.Job(lambda: fitting(5, 0, calls), replay_key="k"), paused_after_first=True)
    wait_until(lambda: stepped.state == jobs.PAUSED)
    different = runner.submit(jobs.Job(lambda: fitting(6, 0, calls), replay_key="other"))
    unkeyed = runner.submit(jobs.Job(lambda: fitting(5, 0, calls)))
    runner.stop(stepped)
    assert runner.wait(timeout=WAIT)
    runner.replays = False
    off = runner.submit(jobs.Job(lambda: fitting(5, 0, calls), replay_key="k"))
    assert runner.wait(off, timeout=WAIT)
    assert len(calls) == 5 and all(job.replayed is None for job in (stepped, different, unkeyed, off))


def test_recordings_are_bounded_least_recently_used_first(monkeypatch):
    monkeypatch.setattr(recordings, "RECORDINGS", 3)
    runner = replaying_runner()
    for key in "abcd":
        assert runner.wait(runner.submit(jobs.Job(lambda: fitting(3), replay_key=key)), timeout=WAIT)
    assert runner.recorded.keys() == ["b", "c", "d"]
    monkeypatch.setattr(recordings, "FRAMES", 4)
    assert runner.wait(runner.submit(jobs.Job(lambda: fitting(50), replay_key="long")), timeout=WAIT)
    frames = runner.recorded["long"].frames
    assert len(frames) <= 8 and frames[-1][1].step == 50 and frames[-1][1].extras["model"] is not None
    assert all(step.extras.get("model") is None for _, step in frames[:-1])


def test_the_sweep_puts_away_the_models_of_owners_away_for_long_and_only_theirs():
    runner = replaying_runner()
    runner.idle_seconds = 600
    away = runner.submit(jobs.Job(lambda: fitting(5), owner="away", replay_key="k1"))
    here = runner.submit(jobs.Job(lambda: fitting(5), owner="here", replay_key="k2"))
    timing = runner.submit(jobs.Job(lambda: fitting(5), owner="away"))      # not replayable: never put away
    assert runner.wait(timeout=WAIT)
    away.views["derived"] = object()
    now = time.monotonic()
    runner.keeper.seen["away"] = now - 601
    runner.keeper.seen["here"] = now - 10
    version = away.version
    assert runner.sweep(now) == 1
    assert away.put_away and away.last.extras.get("model") is None and away.views == {}
    assert away.version > version and away.last.metrics and away.last.extras["curve"] == [5]
    assert here.last.extras["model"] is not None and not here.put_away
    assert timing.last.extras["model"] is not None
    assert runner.sweep(now) == 0
    runner.idle_seconds = 0
    runner.keeper.seen["here"] = now - 10_000
    assert runner.sweep(now) == 0                          # off: nothing is put away


def test_stepping_onto_a_replays_last_report_finishes_it_with_its_model():
    runner = replaying_runner()
    assert runner.wait(runner.submit(jobs.Job(lambda: fitting(4, 0.05), replay_key="k")), timeout=WAIT)
    frames = len(runner.recorded["k"].frames)
    replay = runner.submit(jobs.Job(lambda: fitting(4, 0.05), replay_key="k"))
    runner.pause(replay)
    wait_until(lambda: replay.state == jobs.PAUSED)
    for _ in range(frames + 1):
        if replay.state == jobs.FINISHED:
            break
        runner.resume(replay, steps_once=True)
        wait_until(lambda: replay.state in (jobs.PAUSED, jobs.FINISHED))
    assert replay.state == jobs.FINISHED and replay.last.step == 4 and replay.last.extras["model"] is not None
    assert replay._generator is None                      # a finished replay no longer holds the recording


@pytest.mark.slow
def test_skip_plays_the_rest_of_a_replay_at_once_and_the_estimate_ignores_replays():
    runner = replaying_runner()
    assert runner.wait(runner.submit(jobs.Job(lambda: fitting(40, 0.05), replay_key="slow")), timeout=WAIT)
    replay = runner.submit(jobs.Job(lambda: fitting(40, 0.05), replay_key="slow", kind="fit"))
    real = runner.submit(jobs.Job(lambda: fitting(400, 0.01), kind="fit"))
    queued = runner.submit(jobs.Job(lambda: fitting(3), kind="fit"))
    wait_until(lambda: real.last is not None and real.last.step >= 40)
    estimate = runner.wait_estimate(queued)
    assert estimate is not None and estimate > 1.0           # the real run's remaining seconds, not a replay's 0
    runner.skip_pace(replay)
    assert runner.wait(replay, timeout=WAIT) and replay.state == jobs.FINISHED
    runner.stop(real)
    assert runner.wait(timeout=WAIT)


def test_equal_runs_waiting_in_the_queue_are_played_back_as_soon_as_the_first_one_ends():
    """A class pressing Train at once: the queue holds equal runs before any has finished. When the
    first ends, the equal ones behind it leave the queue and play back; a different one keeps its
    place; the estimate counts the equal ones as holding no worker."""
    runner = replaying_runner()
    calls = []
    first = runner.submit(jobs.Job(lambda: fitting(30, 0.02, calls), replay_key="a", kind="fit"))
    wait_until(lambda: first.last is not None)
    equal = [runner.submit(jobs.Job(lambda: fitting(30, 0.02, calls), replay_key="a", kind="fit")) for _ in range(3)]
    other = runner.submit(jobs.Job(lambda: fitting(30, 0.02, calls), replay_key="b", kind="fit"))
    assert [runner.position(job) for job in (*equal, other)] == [1, 2, 3, 4]
    runner.durations["fit"].append(5.0)
    estimates = [runner.wait_estimate(job) for job in (*equal, other)]
    assert all(e is not None for e in estimates)
    # all start when the first run ends: the equal ones by playing back, the other on the worker they leave free
    assert max(estimates) - min(estimates) < 0.3 and estimates[0] < 5.0
    assert runner.wait(first, timeout=WAIT)
    wait_until(lambda: other.state == jobs.RUNNING and other.replayed is None)
    assert all(job.replayed is not None and job.state in (jobs.RUNNING, jobs.FINISHED) for job in equal)
    assert runner.wait(timeout=WAIT)
    assert len(calls) == 2 and all(job.last.metrics == first.last.metrics for job in equal)


RUN_MACHINERY = {"jobs", "loop", "runner", "recordings", "keeper", "queue_times",      # Streamlit-free
                 "records", "sessions", "controls", "experiment"}                        # the Streamlit side
STREAMLIT_FREE = {"jobs", "loop", "runner", "recordings", "keeper", "queue_times"}


def _ui_imports() -> dict[str, set[str]]:
    """ui module -> the ui modules it imports, at the top or inside a function."""
    import ast
    from pathlib import Path

    graph = {}
    for path in (Path(__file__).resolve().parents[1] / "ui").glob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "ui":
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ui."):
                found.add(node.module.split(".")[1])
            elif isinstance(node, ast.ImportFrom | ast.Import) and any(
                    (alias.name if isinstance(node, ast.Import) else node.module or "").split(".")[0] == "streamlit"
                    for alias in node.names):
                found.add("streamlit")
        graph[path.stem] = found
    return graph


def test_the_run_machinery_is_small_parts_without_import_circles():
    """Each part of the run machinery is under 260 lines; no ui module imports one that imports it
    back (directly or round a longer circle); the Streamlit-free parts import neither Streamlit nor
    the Streamlit side."""
    from pathlib import Path

    graph = _ui_imports()
    folder = Path(__file__).resolve().parents[1] / "ui"
    sizes = {name: len((folder / f"{name}.py").read_text().splitlines()) for name in RUN_MACHINERY}
    assert max(sizes.values()) <= 260, sizes

    def reaches(start: str) -> set[str]:
        seen, frontier = set(), [start]
        while frontier:
            for other in graph.get(frontier.pop(), ()):
                if other not in seen:
                    seen.add(other)
                    frontier.append(other)
        return seen

    assert not [name for name in graph if name in reaches(name)], "an import circle in ui/"
    for name in STREAMLIT_FREE:
        assert not graph[name] & ({"streamlit"} | (RUN_MACHINERY - STREAMLIT_FREE)), (name, graph[name])
        assert graph[name] <= STREAMLIT_FREE, (name, graph[name])


def test_a_replay_of_a_paced_run_keeps_the_recordings_pace_and_is_not_paced_again(monkeypatch):
    """A paced run's recording already holds its pace (the frames' times include the waits): the
    replay plays those times and is not slowed a second time by the pacing."""
    runner = replaying_runner()
    paced_jobs = []
    original = jobs.Runner._pace
    monkeypatch.setattr(jobs.Runner, "_pace",
                        lambda self, job, step: (paced_jobs.append(job), original(self, job, step)))
    first = runner.submit(jobs.Job(lambda: fitting(10), pace=0.5, replay_key="paced"))
    assert runner.wait(first, timeout=WAIT)
    replay = runner.submit(jobs.Job(lambda: fitting(10), pace=0.5, replay_key="paced"))
    assert runner.wait(replay, timeout=WAIT) and replay.replayed is not None and replay.state == jobs.FINISHED
    assert first in paced_jobs and replay not in paced_jobs


def test_pause_stops_at_the_step_the_run_is_on_and_step_goes_exactly_the_stated_amount(runner):
    """An engine loop with a `Throttle` that would report once a minute: Pause still gets a report
    at once, of the very step the loop is on (no step trained after it), and Step reports exactly
    `step_amount(total)` steps later."""
    done = []

    def slow_reporting(total: int):
        throttle = Throttle(total, min_interval=60.0)
        for step in range(total):
            time.sleep(0.002)
            done.append(step + 1)
            if throttle.due(step):
                with throttle.reporting():
                    yield TrainingStep(step + 1, total, {})

    job = runner.submit(jobs.Job(lambda: slow_reporting(10_000)))
    wait_until(lambda: job.last is not None and len(done) > 50)
    assert job.last.step == 1                                 # the throttle alone: only the first step so far
    runner.pause(job)
    wait_until(lambda: job.state == jobs.PAUSED)
    paused_at = job.last.step
    assert paused_at == done[-1] > 50                         # the report is of the step it stopped on
    runner.resume(job, steps_once=True)
    wait_until(lambda: job.state == jobs.PAUSED and job.last.step > paused_at)
    assert job.last.step == done[-1] == paused_at + step_amount(10_000) == paused_at + 500
    runner.stop(job)
