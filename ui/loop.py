"""The one loop that advances every job, and the learner's commands on a job.

`Loop` holds the jobs not yet done, the queue of those waiting for a worker, and the worker
threads. `_drive` advances a job report by report until it ends, is stopped or is paused: on a
worker for a run that trains, on a thread of its own for a replay (`_play`), so Pause, Step,
Stop and Skip are written once for both. What happens around it (submitting, replays, the memory
policy, the queue's estimates) is `ui.runner.Runner`, a `Loop`.

This module never imports streamlit or another `ui` module but `ui.jobs`.
"""

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from engine.errors import InputError
from engine.training import TrainingStep, asking
from ui.jobs import ACTIVE, FAILED, FINISHED, PAUSED, QUEUED, RUNNING, STOPPED, Job, step_amount

LOG = logging.getLogger(__name__)


class Loop:
    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._lock = threading.Condition()
        self._ready: deque[Job] = deque()           # waiting for a worker, oldest first
        self._jobs: dict[int, Job] = {}              # every job not yet done
        self._threads: list[threading.Thread] = []
        self._ids = itertools.count(1)
        self._busy = 0
        self._playing = 0                            # jobs driven on threads of their own (replays) now
        self.gone: Callable[[str], bool] | None = None   # is this owner's session closed? (ui.sessions)

    # what a Runner adds around the loop
    def _taken_elsewhere(self, job: Job) -> bool:
        """`job`, just taken from the queue, is played instead of trained (lock held)."""
        return False

    def _finishing(self, job: Job) -> None:
        """`job` finished training (not a replay), before its generator is closed."""

    def _report_kept(self, job: Job, step: TrainingStep) -> None:
        """`step` is `job`'s latest report (lock held)."""

    def _finished(self, job: Job) -> None:
        """`job` is finished (lock held)."""

    # ------------------------------------------------------------------ the learner's commands

    def pause(self, job: Job) -> None:          # a running job reports the step it is on, and pauses there
        with self._lock:
            if job.state == RUNNING:
                job._pause = True
                job.request.after = 0
            elif job.state == QUEUED:
                self._ready.remove(job)
                self._set(job, PAUSED)

    def resume(self, job: Job, steps_once: bool = False) -> None:
        """Queue a paused job again (a replay plays on); with `steps_once` (Step), it trains `step_amount`
        steps more, reports exactly there and pauses. A running job given Step pauses where it is."""
        with self._lock:
            if job.state == PAUSED:
                job._pause, job._step_once = False, steps_once
                last = job.last if steps_once else None
                job._step_until = None if last is None else min(last.step + step_amount(last.total), last.total)
                job.request.after = job._step_until
                if job.replayed is not None:
                    self._play(job)
                else:
                    self._set(job, QUEUED)
                    self._ready.append(job)
                    self._lock.notify_all()
            elif job.state in ACTIVE and steps_once:
                job._step_once, job._step_until, job.request.after = True, None, 0

    def stop(self, job: Job) -> None:
        with self._lock:
            if job.state == RUNNING:
                job._stop = True                      # its loop closes it after the current report
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

    # ------------------------------------------------------------------ for the page and tests

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

    def live_threads(self) -> int:
        return sum(thread.is_alive() for thread in self._threads)

    # ------------------------------------------------------------------ the workers and the one loop

    def _play(self, job: Job) -> None:
        """Drive a replay from where it is, on a thread of its own, not a worker (lock held)."""
        self._playing += 1
        self._set(job, RUNNING)
        threading.Thread(target=self._replay, args=(job,), name=f"ptlab-replay-{job.id}", daemon=True).start()

    def _replay(self, job: Job) -> None:
        try:
            self._drive(job)
        finally:
            with self._lock:
                self._playing -= 1
                self._lock.notify_all()

    def _start_threads(self) -> None:
        self._threads = [thread for thread in self._threads if thread.is_alive()]
        while len(self._threads) < self.workers:
            thread = threading.Thread(target=self._work, name=f"ptlab-runner-{len(self._threads)}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _work(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._ready)
                job = self._ready.popleft()
                if self._taken_elsewhere(job):
                    continue
                self._busy += 1
                job._since = time.monotonic()
                self._set(job, RUNNING)
            try:
                self._drive(job)
            finally:
                with self._lock:
                    job._ran, job._since = job.running_seconds(), None
                    self._busy -= 1
                    self._lock.notify_all()

    def _drive(self, job: Job) -> None:
        """Advance `job` report by report until it ends, is stopped or is paused. A finished run's
        last report is not paused on: Pause or Step there lets it finish."""
        while True:
            with self._lock:
                ended = job.last is not None and job.last.fraction_done >= 1
                stop = job._stop or bool(self.gone is not None and job.owner and self.gone(job.owner))
                if job._pause and not stop and not ended:
                    job._pause = False
                    job.request.after = None
                    self._set(job, PAUSED)
                    return
            if stop:
                self._close(job, STOPPED)
                return
            try:
                if job._generator is None:
                    job._generator = job.start()
                with asking(job.request):        # Pause and Step ask the engine's throttle for a report
                    step = next(job._generator)
                if step is not None and job.replayed is None:    # a replay keeps its recording's pace
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
            if step is not None:
                self._report(job, step)

    def _report(self, job: Job, step: TrainingStep) -> None:
        with self._lock:
            job.last = step
            job.version += 1
            job._paced = (time.monotonic(), step.fraction_done)
            self._report_kept(job, step)
            # a Step pauses once its steps are trained; a step-0 report (before any training) never ends one
            if job._step_once and step.fraction_done < 1 and step.step >= (job._step_until or 1):
                job._step_once, job._pause = False, True
            self._lock.notify_all()

    def _pace(self, job: Job, step: TrainingStep) -> None:
        """A paced job's report waits until its share of `job.pace` seconds has passed since the
        previous report, so a run that trains in a blink can be watched. Pause, Stop and
        `skip_pace` end the wait at once; the time a job spent paused is not made up. A paced job
        never keeps others waiting: while a job is queued, it runs at full speed."""
        if job.pace <= 0 or job._paced is None:
            return
        then, fraction = job._paced
        due = then + job.pace * max(step.fraction_done - fraction, 0.0)
        while job.pace > 0 and not (job.interrupted or self._ready):
            wait = due - time.monotonic()
            if wait <= 0:
                return
            time.sleep(min(wait, 0.05))

    def _set(self, job: Job, state: str) -> None:
        job.state = state
        job.version += 1
        if job.done:
            self._jobs.pop(job.id, None)
        if state == FINISHED:
            self._finished(job)
        self._lock.notify_all()

    def _close(self, job: Job, state: str, error: Exception | None = None) -> None:
        if state == FINISHED and error is None and job.replayed is None:
            self._finishing(job)
        job._frames = []
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
