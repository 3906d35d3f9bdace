"""How long a waiting run should wait: the queue's estimate, shown beside a learner's place in line.

The running jobs free their workers after their remaining time (what they took so far, scaled by
the share still to do); each job ahead in the queue then holds a worker for as long as recent
finished runs of its kind took (of any kind when none of its kind has finished yet), except one
equal to a run before it, which is played back when that run ends and holds no worker; so is the
job itself in that case.

Beside the Run button, before a run, the page says how long finished runs of the experiment took on
this server (`usual`): runs of the learner's very settings when some finished, else of the
experiment; the runner keeps those per settings with `remember`.

This module never imports streamlit or another `ui` module but `ui.jobs`.
"""

import heapq
import statistics
import time
from collections import OrderedDict, deque
from typing import Any

from ui.jobs import RUNNING, Job

RUNS_KEPT = 20             # finished runs remembered per settings, as `Runner.durations` keeps per experiment
SETTINGS_KEPT = 200        # settings remembered: the ones used least recently are forgotten first


def typical(durations: dict, kind: str) -> float | None:
    """The median seconds of recent finished runs of `kind` (of every kind if none)."""
    times = durations.get(kind) or [t for runs in durations.values() for t in runs]
    return statistics.median(times) if times else None


def remember(by_settings: OrderedDict, key: Any, seconds: float, kept: int = SETTINGS_KEPT) -> None:
    """Add a finished run's `seconds` under its settings `key` (a replay key); the key becomes the most
    recent, and beyond `kept` keys the least recent is forgotten (lock held)."""
    runs = by_settings.pop(key, None) or deque(maxlen=RUNS_KEPT)
    runs.append(seconds)
    by_settings[key] = runs
    while len(by_settings) > kept:
        by_settings.popitem(last=False)


def usual(durations: dict, by_settings: dict, kind: str, key: Any) -> tuple[float, int, bool] | None:
    """How long a run of experiment `kind` with settings `key` may take here: (the median seconds, how
    many finished runs that is the median of, whether they had these very settings). Runs of equal
    settings when any finished, else any run of `kind`; None when none did (never a guess)."""
    same = by_settings.get(key) if key is not None else None
    times = same or durations.get(kind)
    if not times:
        return None
    return statistics.median(times), len(times), bool(same)


def remaining(durations: dict, job: Job, now: float) -> float | None:
    """Seconds until running `job` frees its worker."""
    ran = job.running_seconds(now)
    done = job.last.fraction_done if job.last is not None else 0.0
    if done >= 0.05:                                   # enough of the run to extrapolate from
        return ran * (1 - done) / done
    usual = typical(durations, job.kind)
    return None if usual is None else max(usual - ran, 0.0)


def estimate(runner: Any, job: Job) -> float | None:
    """Seconds until the waiting `job` gets a worker on `runner` (a `ui.runner.Runner`, its lock
    held), or None when it is not waiting or there is nothing yet to estimate from."""
    if job not in runner._ready:
        return None
    now = time.monotonic()
    free = []
    ends: dict[Any, float] = {}            # replay key -> when its first real run should finish
    for other in runner._jobs.values():
        if other.state == RUNNING and other.replayed is None:     # a replay holds no worker
            left = remaining(runner.durations, other, now)
            if left is None:
                return None
            free.append(left)
            if runner.replayable_key(other):
                ends.setdefault(other.replay_key, left)
    free += [0.0] * max(runner.workers - len(free), 0)
    heapq.heapify(free)
    for ahead in runner._ready:
        if ahead is job:
            break
        if runner.replayable_key(ahead) and ahead.replay_key in ends:
            continue                        # played back when its equal run ends: no worker
        took = typical(runner.durations, ahead.kind)
        if took is None:
            return None
        start = heapq.heappop(free)
        heapq.heappush(free, start + took)
        if runner.replayable_key(ahead):
            ends[ahead.replay_key] = start + took
    if runner.replayable_key(job) and job.replay_key in ends:
        return min(ends[job.replay_key], free[0])
    return free[0]
