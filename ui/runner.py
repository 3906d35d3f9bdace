"""The server-wide runner: every experiment is a job beside the page's script, not inside it.

A bounded pool of worker threads takes jobs (`ui.jobs.Job`) in the order they were started and
advances each one report at a time, keeping the latest `TrainingStep`; the page only reads that
step and redraws on a timer, so reruns (a slider, the language switch, a lab) never touch the run.
A job can be paused (its generator waits at a `yield` and gives its worker back), resumed (it
queues again), stepped (one report's worth of training, then paused) and stopped (its generator is
closed, so the engine's cleanup runs, and the model trained so far stays with the last step). Jobs
whose owner has gone (a closed tab) or who moved to another page are stopped by `cancel_owner`.

One loop (`_drive`) serves every job: a run's generator on a worker, or a recording's player
(`ui.recordings.play`) on a thread of its own when replays are on and an equal run was recorded.
The wait estimates are `ui.queue_times`; the memory policy (putting models away) is `ui.keeper`.

This module never imports streamlit: the Streamlit side (`ui.sessions`, `ui.controls`) binds jobs to sessions and
gives the runner its hooks (`gone`, `shared`, `size_of`).
"""

import os
import threading
import time
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable, Iterable
from typing import Any

from engine.training import TrainingStep
from ui import queue_times, recordings
from ui.jobs import ACTIVE, DONE, FAILED, FINISHED, PAUSED, QUEUED, RUNNING, STOPPED, Job, own_copy, thin, without_model
from ui.keeper import Keeper
from ui.loop import Loop
from ui.recordings import Recording, Recordings, play

__all__ = ["ACTIVE", "DONE", "FAILED", "FINISHED", "PAUSED", "QUEUED", "RUNNING", "STOPPED", "Job", "Runner",
           "default_workers", "existing", "runner", "snapshot", "wait_for_runs"]
WORKERS_ENV = "PTLAB_WORKERS"


def default_workers() -> int:
    """Jobs trained at once: `PTLAB_WORKERS`, else one per four usable cores (at least one), each
    with a share of the cores as intra-op threads (`engine.device.configure_threads`). On 2 cores
    one run at a time; a second learner's run waits with its place in the queue shown."""
    from engine.device import usable_cores

    return int(os.environ.get(WORKERS_ENV, "0")) or max(1, usable_cores() // 4)


class Runner(Loop):
    """The loop with a queue's estimates, replays of equal runs and the memory policy."""

    def __init__(self, workers: int | None = None) -> None:
        super().__init__(workers or default_workers())
        # kind -> the seconds recent finished runs of it held a worker (the queue's wait estimate)
        self.durations: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=20))
        # replay key -> the same for runs with equal settings (the time shown beside Run, `usual_duration`)
        self.settings_durations: OrderedDict[Any, deque[float]] = OrderedDict()
        self.replays = False                         # play runs equal to a recorded one (hosted mode)
        self.recorded = Recordings()
        self.keeper = Keeper(self._lock)
        self.replayed_count = 0                      # replays started (benchmarks)
        # hooks, set by ui.sessions.configure (with `gone`): the objects every session shares
        # (never copied into a learner's model), and the bytes of a recording's reports
        self.shared: Callable[[], Iterable[object]] = tuple
        self.size_of: Callable[[list], int] = lambda steps: 0

    # ------------------------------------------------------------------ the learner's commands

    def submit(self, job: Job, paused_after_first: bool = False) -> Job:
        """Queue `job` for a worker, or, when replays are on and a run with its key was recorded
        (and it is not a Step from scratch), play it from the recording at once."""
        with self._lock:
            job.id = next(self._ids)
            job.state, job._step_once = QUEUED, paused_after_first
            self._jobs[job.id] = job
            if (recording := self._recording_for(job)) is not None:
                self._start_replay(job, recording)
            else:
                self._ready.append(job)
                self._start_threads()
            self._lock.notify_all()
        return job

    # ------------------------------------------------------------------ for the page and tests

    def position(self, job: Job) -> int | None:
        """1 for the next job to get a worker; None if it is not waiting."""
        with self._lock:
            return next((index for index, waiting in enumerate(self._ready, 1) if waiting is job), None)

    def wait_estimate(self, job: Job) -> float | None:
        """Seconds until the waiting `job` should get a worker (`ui.queue_times.estimate`)."""
        with self._lock:
            return queue_times.estimate(self, job)

    def usual_duration(self, kind: str, key: Any) -> tuple[float, int, bool] | None:
        """How long finished runs of experiment `kind` took here, of settings `key` if any
        (`ui.queue_times.usual`): (median seconds, runs, same settings), or None."""
        with self._lock:
            return queue_times.usual(self.durations, self.settings_durations, kind, key)

    def replayable_key(self, job: Job) -> bool:
        """Replays on, `job` has a key and is not a Step: equal runs may stand in for it."""
        return self.replays and job.replay_key is not None and not job._step_once

    def recordings(self) -> int:
        with self._lock:
            return len(self.recorded)

    def forget_recordings(self) -> None:
        with self._lock:
            self.recorded.clear()

    # the memory policy, `ui.keeper`
    @property
    def idle_seconds(self) -> float:
        return self.keeper.idle_seconds

    @idle_seconds.setter
    def idle_seconds(self, seconds: float) -> None:
        self.keeper.idle_seconds = seconds

    def touch(self, owner: str) -> None:
        self.keeper.touch(owner)

    def put_away(self, job: Job) -> bool:
        return self.keeper.put_away(job)

    def finished_jobs(self, owner: str) -> list[Job]:
        return self.keeper.finished_jobs(owner)

    def sweep(self, now: float | None = None) -> int:
        return self.keeper.sweep(now)

    # ------------------------------------------------------------------ around the loop (ui.loop)

    def _taken_elsewhere(self, job: Job) -> bool:
        if (recording := self._recording_for(job)) is None:
            return False
        self._start_replay(job, recording)           # an equal run finished while it waited
        return True

    def _report_kept(self, job: Job, step: TrainingStep) -> None:
        if self.replays and job.replay_key is not None and job.replayed is None:
            job._frames.append((job.running_seconds(), without_model(step)))
            if len(job._frames) > 2 * recordings.FRAMES:
                job._frames = thin(job._frames)

    def _finishing(self, job: Job) -> None:
        recorded = self.replays and job.replay_key is not None and job.last is not None
        final = own_copy(job.last, self.shared()) if recorded else None     # copied before taking the lock
        with self._lock:
            if job.kind:
                seconds = job.running_seconds()
                self.durations[job.kind].append(seconds)
                if job.replay_key is not None:
                    queue_times.remember(self.settings_durations, job.replay_key, seconds)
            if final is not None:
                self._record(job, final)

    def _finished(self, job: Job) -> None:
        self.keeper.finished(job)

    # ------------------------------------------------------------------ recordings and replays

    def _recording_for(self, job: Job) -> Recording | None:
        """The recording `job` may be played from now: replays on, a key, not a Step, not begun (lock held)."""
        begun = job._generator is not None or job.last is not None
        return self.recorded.get(job.replay_key) if self.replayable_key(job) and not begun else None

    def _start_replay(self, job: Job, recording: Recording) -> None:
        self.recorded.use(job.replay_key)
        job.replayed = recording.finished
        job._generator = play(recording, job, lambda step: own_copy(step, self.shared()))   # job.start stays
        self.replayed_count += 1
        self._play(job)

    def _record(self, job: Job, final: TrainingStep) -> None:
        """Keep a finished run's reports, `final` (its last, with a model of the recording's own)
        last, for replays of equal runs; equal runs waiting in the queue play now (lock held)."""
        frames, job._frames = job._frames, []
        at = frames[-1][0] if frames else job.running_seconds()
        recording = Recording([*frames[:-1], (at, final)], time.time(), paced=job.pace > 0)
        recording.size = self.size_of([step for _, step in recording.frames])
        self.recorded.add(job.replay_key, recording)
        for waiting in [other for other in self._ready if other.replay_key == job.replay_key
                        and self._recording_for(other) is not None]:
            self._ready.remove(waiting)
            self._start_replay(waiting, recording)



_RUNNER: Runner | None = None
_RUNNER_LOCK = threading.Lock()


def runner() -> Runner:
    """The one runner of this server process."""
    global _RUNNER
    with _RUNNER_LOCK:
        if _RUNNER is None:
            from engine.device import configure_threads

            _RUNNER = Runner()
            configure_threads(_RUNNER.workers)       # the thread policy, once for the server's life
        return _RUNNER


def existing() -> Runner | None:
    """The runner if one was made (no run was ever started otherwise); never imports torch."""
    return _RUNNER


def wait_for_runs(timeout: float = 600.0) -> bool:
    """Tests: wait until every job has finished, stopped or paused."""
    return runner().wait(timeout=timeout)


def snapshot(job: Job) -> tuple[str, TrainingStep | None, Any, int]:
    """State, last step, error and version, read together."""
    with runner()._lock:
        return job.state, job.last, job.error, job.version
