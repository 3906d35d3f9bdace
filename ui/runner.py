"""The server-wide runner: every experiment is a job beside the page's script, not inside it.

A job wraps an engine's `train(config, data)` generator. A bounded pool of worker threads takes
jobs in the order they were started and advances each one report at a time, keeping the latest
`TrainingStep`; the page only reads that step and redraws on a timer, so reruns (a slider, the
language switch, a lab) never touch the run. A job can be paused (its generator waits at a
`yield` and gives its worker back), resumed (it queues again), stepped (one report's worth of
training, then paused) and stopped (its generator is closed, so the engine's cleanup runs, and
the model trained so far stays with the last step). Jobs whose owner has gone (a closed tab) or
who moved to another page are stopped by `cancel_owner`.

Two things keep a class on one small server (`replays` and `sweep`, both on in hosted mode):
- **Replays.** A finished run is recorded (`FRAMES` to twice as many of its reports, evenly thinned,
  each with the time it came, and a private copy of the final model; the last `RECORDINGS` runs,
  at most `RECORDING_BYTES`). A later run of the same experiment with the same settings
  and data (`Job.replay_key`) is the same run, since every run is deterministic: it is played from
  the recording at the pace the original ran, on a thread of its own rather than a worker, and its
  last report hands the learner their own copy of the model. Pause, Step and Stop work on a replay
  too; only its last report carries a model.
- **Putting models away.** `sweep` drops the model (and the views computed from it) of finished
  runs whose owner has not been seen for `idle_seconds`; `put_away` does it for one job. The
  page gets such a run again from its own settings (played back or trained) when the learner
  comes back (`ui.experiment.bring_back`).

This module never imports streamlit: the page helper (`ui.experiment`) binds jobs to sessions.
"""

import copy
import dataclasses
import heapq
import itertools
import logging
import os
import statistics
import threading
import time
import weakref
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from engine.errors import InputError
from engine.training import TrainingStep

WORKERS_ENV = "PTLAB_WORKERS"
FRAMES = 32                     # a recorded run keeps FRAMES to 2 x FRAMES reports (evenly thinned; the last always)
RECORDINGS = 16                 # recorded runs kept, least recently used dropped first
RECORDING_BYTES = 160_000_000   # and at most this many bytes of them
LOG = logging.getLogger(__name__)

QUEUED, RUNNING, PAUSED, STOPPED, FINISHED, FAILED = "queued", "running", "paused", "stopped", "finished", "failed"
ACTIVE = (QUEUED, RUNNING)          # the page keeps redrawing while a job is in one of these
DONE = (STOPPED, FINISHED, FAILED)


@dataclass(eq=False)
class Job:
    start: Callable[[], Iterator[TrainingStep]]     # makes the engine's generator, in a worker
    owner: str = ""                                  # the learner's session
    page: str = ""                                   # the page that started it
    id: int = 0
    state: str = QUEUED
    last: TrainingStep | None = None                 # the latest report
    error: Exception | None = None                   # why it failed (an InputError is the learner's)
    version: int = 0                                 # counts reports and state changes, for redraws
    pace: float = 0.0                                # spread the reports over this many seconds (0: no pacing)
    kind: str = ""                                   # the experiment (its key): finished runs of a kind time the queue
    replay_key: Any = None                           # (kind, settings, data): equal keys, equal runs (None: never)
    views: dict = field(default_factory=dict, repr=False)   # derived views of its reports (`ui.experiment`)
    replayed: float | None = None                    # a replay: when the run it replays finished (time.time())
    put_away: bool = False                           # its model was dropped while the owner was away
    rebuilt: bool = False                            # it trains a put-away run again
    _generator: Iterator[TrainingStep] | None = field(default=None, repr=False)
    _pause: bool = False
    _stop: bool = False
    _step_once: bool = False
    _paced: tuple[float, float] | None = field(default=None, repr=False)   # (time, fraction) of the last report
    _ran: float = field(default=0.0, repr=False)     # seconds it held a worker, before the current spell
    _since: float | None = field(default=None, repr=False)   # when the current spell on a worker began
    _frames: list = field(default_factory=list, repr=False)  # (running seconds, report) while recorded
    _recording: "Recording | None" = field(default=None, repr=False)   # what a replay plays
    _frame: int = 0                                  # a replay's next frame
    _skip: bool = False                              # "Skip to the end" was pressed

    def running_seconds(self, now: float | None = None) -> float:
        """Seconds this job has held a worker so far (time paused or queued not counted)."""
        return self._ran + ((now or time.monotonic()) - self._since if self._since is not None else 0.0)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def done(self) -> bool:
        return self.state in DONE


@dataclass
class Recording:
    """A finished run: its reports (without the model, but the last), each with the running
    seconds at which it came; the last report's model is the recording's own copy."""

    frames: list[tuple[float, TrainingStep]]
    finished: float                                   # time.time() when the run finished
    paced: bool
    size: int = 0                                     # bytes, for the cache's bound


def _without_model(step: TrainingStep) -> TrainingStep:
    return dataclasses.replace(step, extras={k: v for k, v in step.extras.items() if k != "model"})


def _own_copy(step: TrainingStep) -> TrainingStep:
    """`step` with a private deep copy of its model. Shared server objects stay shared, and so do
    the report's other extras that the model also holds (style transfer's input images): only what
    training made is copied."""
    if step.extras.get("model") is None:
        return step
    from ui import audit

    memo = {id(shared): shared for shared in audit.shared_objects()}
    for name, value in step.extras.items():
        if name != "model":
            for item in (value, *(value.values() if isinstance(value, dict) else ())):
                memo[id(item)] = item
    return dataclasses.replace(step, extras={**step.extras, "model": copy.deepcopy(step.extras["model"], memo)})


def _thin(frames: list) -> list:
    """Every other frame, the last always kept."""
    return frames[:-1][::2] + frames[-1:]


def default_workers() -> int:
    """Jobs trained at once: `PTLAB_WORKERS`, else one per four usable cores (at least one), each
    with a share of the cores as intra-op threads (`engine.device.configure_threads`). On 2 cores
    one run at a time; a second learner's run waits with its place in the queue shown."""
    from engine.device import usable_cores

    return int(os.environ.get(WORKERS_ENV, "0")) or max(1, usable_cores() // 4)


class Runner:
    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or default_workers()
        self._lock = threading.Condition()
        self._ready: deque[Job] = deque()           # waiting for a worker, oldest first
        self._jobs: dict[int, Job] = {}              # every job not yet done
        self._threads: list[threading.Thread] = []
        self._ids = itertools.count(1)
        self._busy = 0
        # kind -> the seconds recent finished runs of it held a worker (the queue's wait estimate)
        self._durations: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=20))
        self.gone: Callable[[str], bool] | None = None   # is this owner's session closed?
        self.replays = False                          # play runs equal to a recorded one (hosted mode)
        self.idle_seconds = 0.0                       # `sweep` puts models away after this (0: never)
        self._recordings: OrderedDict[Any, Recording] = OrderedDict()
        self._playing = 0                             # replays on their threads now
        self._seen: dict[str, float] = {}             # owner -> when their session last ran (monotonic)
        self._finished: dict[str, list] = defaultdict(list)   # owner -> weak references to finished jobs
        self.replayed_count = 0                       # replays started (benchmarks)

    # ------------------------------------------------------------------ the learner's commands

    def submit(self, job: Job, paused_after_first: bool = False) -> Job:
        """Queue `job` for a worker, or, when replays are on and a run with its key was recorded
        (and it is not a Step from scratch), play it from the recording at once."""
        with self._lock:
            job.id = next(self._ids)
            job.state, job._step_once = QUEUED, paused_after_first
            self._jobs[job.id] = job
            recording = self._recording_for(job)
            if recording is not None:
                self._start_replay(job, recording)
            else:
                self._ready.append(job)
                self._start_threads()
            self._lock.notify_all()
        return job

    def position(self, job: Job) -> int | None:
        """1 for the next job to get a worker; None if it is not waiting."""
        with self._lock:
            for index, waiting in enumerate(self._ready, 1):
                if waiting is job:
                    return index
        return None

    def wait_estimate(self, job: Job) -> float | None:
        """Seconds until the waiting `job` should get a worker, or None when it is not waiting or
        there is nothing yet to estimate from. The running jobs free their workers after their
        remaining time (what they took so far, scaled by the share still to do); each job ahead in
        the queue then holds a worker for as long as recent finished runs of its kind took (of any
        kind when none of its kind has finished yet), except one equal to a run before it, which is
        played back when that run ends and holds no worker; so is `job` itself in that case."""
        with self._lock:
            if job not in self._ready:
                return None
            now = time.monotonic()
            free = []
            ends: dict[Any, float] = {}            # replay key -> when its first real run should finish
            for other in self._jobs.values():
                if other.state == RUNNING and other._recording is None:     # a replay holds no worker
                    left = self._remaining(other, now)
                    if left is None:
                        return None
                    free.append(left)
                    if self._replayable_key(other):
                        ends.setdefault(other.replay_key, left)
            free += [0.0] * max(self.workers - len(free), 0)
            heapq.heapify(free)
            for ahead in self._ready:
                if ahead is job:
                    break
                if self._replayable_key(ahead) and ahead.replay_key in ends:
                    continue                        # played back when its equal run ends: no worker
                took = self._typical(ahead.kind)
                if took is None:
                    return None
                start = heapq.heappop(free)
                heapq.heappush(free, start + took)
                if self._replayable_key(ahead):
                    ends[ahead.replay_key] = start + took
            if self._replayable_key(job) and job.replay_key in ends:
                return min(ends[job.replay_key], free[0])
            return free[0]

    def _replayable_key(self, job: Job) -> bool:
        """Replays on, `job` has a key and is not a Step: equal runs may stand in for it."""
        return self.replays and job.replay_key is not None and not job._step_once

    def _typical(self, kind: str) -> float | None:
        """The median seconds of recent finished runs of `kind` (of every kind if none)."""
        times = self._durations.get(kind) or [t for runs in self._durations.values() for t in runs]
        return statistics.median(times) if times else None

    def _remaining(self, job: Job, now: float) -> float | None:
        ran = job.running_seconds(now)
        done = job.last.fraction_done if job.last is not None else 0.0
        if done >= 0.05:                                   # enough of the run to extrapolate from
            return ran * (1 - done) / done
        typical = self._typical(job.kind)
        return None if typical is None else max(typical - ran, 0.0)

    def pause(self, job: Job) -> None:
        with self._lock:
            if job.state == RUNNING:
                job._pause = True
            elif job.state == QUEUED:
                self._ready.remove(job)
                self._set(job, PAUSED)

    def resume(self, job: Job, steps_once: bool = False) -> None:
        """Queue a paused job again; with `steps_once`, it pauses after its next report (Step)."""
        with self._lock:
            if job.state == PAUSED and job._recording is not None:
                job._pause, job._step_once = False, steps_once
                self._play(job)
            elif job.state == PAUSED:
                job._pause, job._step_once = False, steps_once
                self._set(job, QUEUED)
                self._ready.append(job)
                self._lock.notify_all()
            elif job.state in ACTIVE and steps_once:
                job._step_once = True

    def stop(self, job: Job) -> None:
        with self._lock:
            if job.state == RUNNING:
                job._stop = True                      # the worker closes it after the current report
                return
            if job.done:
                return
            if job.state == QUEUED:
                self._ready.remove(job)
        self._close(job, STOPPED)                    # queued or paused: nobody is running it

    def cancel_owner(self, owner: str, keep_page: str | None = None) -> int:
        """Stop the owner's jobs (all of them, or those not on `keep_page`); returns how many."""
        with self._lock:
            mine = [job for job in self._jobs.values() if job.owner == owner and job.page != keep_page]
        for job in mine:
            self.stop(job)
        return len(mine)

    def cancel_where(self, gone: Callable[[str], bool]) -> int:
        """Stop the jobs of every owner for whom `gone(owner)` is true (closed sessions)."""
        with self._lock:
            owners = {job.owner for job in self._jobs.values() if gone(job.owner)}
        return sum(self.cancel_owner(owner) for owner in owners)

    def skip_pace(self, job: Job) -> None:
        """Let a paced job run at full speed from now on (a replay: play its remaining reports at once)."""
        job.pace = 0.0
        job._skip = True

    def _pace(self, job: Job, step: TrainingStep) -> None:
        """A paced job's report waits until its share of `job.pace` seconds has passed since the
        previous report, so a run that trains in a blink can be watched. Pause, Stop and
        `skip_pace` end the wait at once; the time a job spent paused is not made up. A paced job
        never keeps others waiting: while a job is queued, it runs at full speed."""
        if job.pace <= 0 or job._paced is None:
            return
        then, fraction = job._paced
        due = then + job.pace * max(step.fraction_done - fraction, 0.0)
        while job.pace > 0 and not (job._stop or job._pause or self._ready):
            wait = due - time.monotonic()
            if wait <= 0:
                return
            time.sleep(min(wait, 0.05))

    # ------------------------------------------------------------------ for tests and the page

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def full(self) -> bool:
        """Every worker is busy (a job submitted now waits in the queue)."""
        with self._lock:
            return self._busy >= self.workers

    def idle(self) -> bool:
        with self._lock:
            return not self._ready and self._busy == 0

    def wait(self, job: Job | None = None, timeout: float = 600.0) -> bool:
        """Wait until `job` (or every job) stops being active; True if it did in time."""
        with self._lock:
            return self._lock.wait_for(
                lambda: (not job.active) if job is not None else
                (not self._ready and self._busy == 0 and self._playing == 0), timeout)

    # ------------------------------------------------------------------ memory: recordings, putting away

    def recordings(self) -> int:
        with self._lock:
            return len(self._recordings)

    def forget_recordings(self) -> None:
        with self._lock:
            self._recordings.clear()

    def touch(self, owner: str) -> None:
        """The owner's session ran just now (the entry file calls this on every run)."""
        with self._lock:
            self._seen[owner] = time.monotonic()

    def put_away(self, job: Job) -> bool:
        """Drop a finished job's model and its derived views; its curves and numbers stay. True if
        there was something to drop."""
        with self._lock:
            if job.state != FINISHED or job.replay_key is None or job.last is None \
                    or job.last.extras.get("model") is None:      # only runs that training again gives back
                return False
            job.last = _without_model(job.last)
            job.views = {}
            job.put_away = True
            job.version += 1
            return True

    def finished_jobs(self, owner: str) -> list[Job]:
        """The owner's finished jobs that still hold a model (newest last)."""
        with self._lock:
            alive = [ref() for ref in self._finished.get(owner, [])]
            kept = [job for job in alive if job is not None and not job.put_away and job.state == FINISHED]
            self._finished[owner] = [weakref.ref(job) for job in kept]
            return kept

    def sweep(self, now: float | None = None) -> int:
        """Put away the models of owners not seen for `idle_seconds`; returns how many."""
        if self.idle_seconds <= 0:
            return 0
        now = time.monotonic() if now is None else now
        with self._lock:
            idle = [owner for owner, seen in self._seen.items() if now - seen > self.idle_seconds]
        dropped = 0
        for owner in idle:
            for job in self.finished_jobs(owner):
                with self._lock:                        # back meanwhile (a lab, a rerun): keep the rest
                    if owner in self._seen and now - self._seen[owner] <= self.idle_seconds:
                        break
                    dropped += self.put_away(job)
            with self._lock:
                if not self._finished.get(owner):
                    self._finished.pop(owner, None)
                    self._seen.pop(owner, None)
        return dropped

    def _record(self, job: Job, final: TrainingStep) -> None:
        """Keep a finished run's reports, `final` (its last, with a model of the recording's own)
        last, for replays of equal runs (lock held by the caller)."""
        from ui.session_memory import nbytes

        frames, job._frames = job._frames, []
        at = frames[-1][0] if frames else job.running_seconds()
        recording = Recording([*frames[:-1], (at, final)], time.time(), paced=job.pace > 0)
        recording.size = nbytes([step for _, step in recording.frames])
        self._recordings[job.replay_key] = recording
        self._recordings.move_to_end(job.replay_key)
        # learners who pressed Train with the same settings while it ran leave the queue: played now
        equal = [other for other in self._ready if other.replay_key == job.replay_key and self._replayable(other)]
        for waiting in equal:
            self._ready.remove(waiting)
            self._start_replay(waiting, recording)
        while len(self._recordings) > RECORDINGS or \
                (len(self._recordings) > 1 and sum(r.size for r in self._recordings.values()) > RECORDING_BYTES):
            self._recordings.popitem(last=False)

    # ------------------------------------------------------------------ replays

    def _replayable(self, job: Job) -> bool:
        """May `job` be played from a recording: replays on, a key, not a Step, not begun (lock held)."""
        return self._replayable_key(job) and job._generator is None and job.last is None

    def _recording_for(self, job: Job) -> Recording | None:
        """The recording `job` may be played from now, if any (lock held)."""
        return self._recordings.get(job.replay_key) if self._replayable(job) else None

    def _start_replay(self, job: Job, recording: Recording) -> None:
        self._recordings.move_to_end(job.replay_key)
        job._recording, job.replayed, job._frame = recording, recording.finished, 0
        self.replayed_count += 1
        self._play(job)

    def _play(self, job: Job) -> None:
        """Start playing a replay from its next frame, on a thread of its own (lock held)."""
        self._playing += 1
        self._set(job, RUNNING)
        threading.Thread(target=self._replay, args=(job,), name=f"ptlab-replay-{job.id}", daemon=True).start()

    def _replay(self, job: Job) -> None:
        recording = job._recording
        frames = recording.frames
        # the clock: the next frame comes as long after the previous one as it did in the run
        before = frames[job._frame - 1][0] if job._frame > 0 else 0.0
        origin = time.monotonic() - before
        try:
            while True:
                with self._lock:
                    if job._frame >= len(frames):           # the last report came: finished, whatever came after
                        job._pause = job._stop = False
                        job._recording = None
                        self._set(job, FINISHED)
                        return
                    if job._stop or (self.gone is not None and job.owner and self.gone(job.owner)):
                        job._recording = None
                        self._set(job, STOPPED)
                        return
                    if job._pause:
                        job._pause = False
                        self._set(job, PAUSED)
                        return
                    offset, step = frames[job._frame]
                due = origin + offset
                # "Skip to the end", or a model brought back (no show): every frame at once
                skip = job._skip or job.rebuilt
                if not skip and time.monotonic() < due:
                    time.sleep(min(due - time.monotonic(), 0.05))
                    continue
                if job._frame == len(frames) - 1:
                    step = _own_copy(step)              # the learner's own model, as a run of theirs would give
                with self._lock:
                    job.last = step
                    job._frame += 1
                    job.version += 1
                    if job._step_once:
                        job._step_once, job._pause = False, True
                    self._lock.notify_all()
        except Exception as error:                      # a bug: logged, and the page says the run failed
            LOG.exception("replay of job %s failed", job.id)
            with self._lock:
                job.error = error
                self._set(job, FAILED)
        finally:
            with self._lock:
                self._playing -= 1
                self._lock.notify_all()

    def live_threads(self) -> int:
        return sum(thread.is_alive() for thread in self._threads)

    # ------------------------------------------------------------------ the workers

    def _start_threads(self) -> None:
        self._threads = [thread for thread in self._threads if thread.is_alive()]
        while len(self._threads) < self.workers:
            thread = threading.Thread(target=self._work, name=f"ptlab-runner-{len(self._threads)}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _set(self, job: Job, state: str) -> None:
        job.state = state
        job.version += 1
        if job.done:
            self._jobs.pop(job.id, None)
        if state == FINISHED and job.owner:
            self._finished[job.owner].append(weakref.ref(job))
        self._lock.notify_all()

    def _close(self, job: Job, state: str, error: Exception | None = None) -> None:
        if state == FINISHED and error is None:
            recorded = self.replays and job.replay_key is not None and job.replayed is None and job.last is not None
            final = _own_copy(job.last) if recorded else None     # copied before taking the lock
            with self._lock:
                if job.kind:
                    self._durations[job.kind].append(job.running_seconds())
                if final is not None:
                    self._record(job, final)
        job._frames, job._recording = [], None
        generator, job._generator = job._generator, None
        if generator is not None:
            try:
                generator.close()                    # the engine's finally blocks run now
            except Exception as caught:               # a cleanup error must not kill the worker
                LOG.exception("closing job %s", job.id)
                error = error or caught
        with self._lock:
            job.error = error
            self._set(job, FAILED if error is not None else state)

    def _work(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._ready)
                job = self._ready.popleft()
                recording = self._recording_for(job)
                if recording is not None:           # an equal run finished while it waited
                    self._start_replay(job, recording)
                    continue
                self._busy += 1
                job._since = time.monotonic()
                self._set(job, RUNNING)
            try:
                self._advance(job)
            finally:
                with self._lock:
                    job._ran, job._since = job.running_seconds(), None
                    self._busy -= 1
                    self._lock.notify_all()

    def _advance(self, job: Job) -> None:
        """Run `job` report by report until it ends, is stopped or is paused."""
        while True:
            with self._lock:
                if job._stop or (self.gone is not None and job.owner and self.gone(job.owner)):
                    stop = True
                elif job._pause:
                    job._pause = False
                    self._set(job, PAUSED)
                    return
                else:
                    stop = False
            if stop:
                self._close(job, STOPPED)
                return
            try:
                if job._generator is None:
                    job._generator = job.start()
                step = next(job._generator)
                self._pace(job, step)
            except StopIteration:
                self._close(job, FINISHED)
                return
            except InputError as error:               # the learner's input: a message on the page
                self._close(job, FAILED, error)
                return
            except Exception as error:                # a bug: logged, and the page says the run failed
                LOG.exception("job %s failed", job.id)
                self._close(job, FAILED, error)
                return
            with self._lock:
                job.last = step
                job.version += 1
                job._paced = (time.monotonic(), step.fraction_done)
                if self.replays and job.replay_key is not None:
                    job._frames.append((job.running_seconds(), _without_model(step)))
                    if len(job._frames) > 2 * FRAMES:
                        job._frames = _thin(job._frames)
                if job._step_once:
                    job._step_once, job._pause = False, True
                self._lock.notify_all()


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
