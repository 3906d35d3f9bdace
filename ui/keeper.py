"""The server's memory policy for finished runs: the models of absent learners are put away.

A finished run's model can always be had again from its settings (every run is deterministic on
the CPU), so a learner who has not been seen for `idle_seconds` (a lab, a rerun or watching a run
counts) has the models of their finished runs dropped (`sweep`), and a page may put one run's model
away (`put_away`: the session cap, `ui.sessions.keep_under_cap`). The curves and numbers stay;
the page gets the run again when the learner comes back (`ui.controls.bring_back`).

This module never imports streamlit or another `ui` module but `ui.jobs`.
"""

import threading
import time
import weakref
from collections import defaultdict

from ui.jobs import FINISHED, Job, without_model


class Keeper:
    """Who was seen when, and whose finished jobs still hold a model. Shares the runner's lock, so
    a job's report and its state are always read together (`ui.runner.snapshot`)."""

    def __init__(self, lock: threading.Condition) -> None:
        self._lock = lock
        self.idle_seconds = 0.0                        # `sweep` puts models away after this (0: never)
        self.seen: dict[str, float] = {}               # owner -> when their session last ran (monotonic)
        self._finished: dict[str, list] = defaultdict(list)   # owner -> weak references to finished jobs

    def touch(self, owner: str) -> None:
        """The owner's session ran just now (the entry file calls this on every run)."""
        with self._lock:
            self.seen[owner] = time.monotonic()

    def finished(self, job: Job) -> None:
        """`job` finished (lock held by the caller)."""
        if job.owner:
            self._finished[job.owner].append(weakref.ref(job))

    def put_away(self, job: Job) -> bool:
        """Drop a finished job's model and its derived views; its curves and numbers stay. True if
        there was something to drop."""
        with self._lock:
            if job.state != FINISHED or job.replay_key is None or job.last is None \
                    or job.last.extras.get("model") is None:      # only runs that training again gives back
                return False
            job.last = without_model(job.last)
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
            idle = [owner for owner, seen in self.seen.items() if now - seen > self.idle_seconds]
        dropped = 0
        for owner in idle:
            for job in self.finished_jobs(owner):
                with self._lock:                        # back meanwhile (a lab, a rerun): keep the rest
                    if owner in self.seen and now - self.seen[owner] <= self.idle_seconds:
                        break
                    dropped += self.put_away(job)
            with self._lock:
                if not self._finished.get(owner):
                    self._finished.pop(owner, None)
                    self.seen.pop(owner, None)
        return dropped
