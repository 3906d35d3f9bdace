"""A run as a job: what the learner started, where it stands, and the commands waiting for it.

A job wraps the function that makes an engine's `train(config, data)` generator (a replay's job
wraps a recording's player instead, `ui.recordings.play`). The runner (`ui.runner`) advances it one
report at a time and keeps the latest `TrainingStep` on it; the page reads that. The learner's
commands (Pause, Step, Stop, Skip) are flags the runner reads between reports.

This module never imports streamlit or another `ui` module.
"""

import copy
import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from engine.training import ReportRequest, TrainingStep

QUEUED, RUNNING, PAUSED, STOPPED, FINISHED, FAILED = "queued", "running", "paused", "stopped", "finished", "failed"
ACTIVE = (QUEUED, RUNNING)          # the page keeps redrawing while a job is in one of these
DONE = (STOPPED, FINISHED, FAILED)


@dataclass(eq=False)
class Job:
    start: Callable[[], Iterator[TrainingStep | None]]   # makes the generator, in a worker or a replay's thread
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
    _generator: Iterator[TrainingStep | None] | None = field(default=None, repr=False)
    _pause: bool = False
    _stop: bool = False
    _step_once: bool = False
    _step_until: int | None = None                   # Step: pause after the report at this step
    request: ReportRequest = field(default_factory=ReportRequest, repr=False)   # a report wanted sooner
    _skip: bool = False                              # "Skip to the end" was pressed
    _paced: tuple[float, float] | None = field(default=None, repr=False)   # (time, fraction) of the last report
    _ran: float = field(default=0.0, repr=False)     # seconds it held a worker, before the current spell
    _since: float | None = field(default=None, repr=False)   # when the current spell on a worker began
    _frames: list = field(default_factory=list, repr=False)  # (running seconds, report) while recorded

    def running_seconds(self, now: float | None = None) -> float:
        """Seconds this job has held a worker so far (time paused or queued not counted)."""
        return self._ran + ((now or time.monotonic()) - self._since if self._since is not None else 0.0)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def done(self) -> bool:
        return self.state in DONE

    @property
    def interrupted(self) -> bool:
        """Pause or Stop was pressed (a wait between reports ends at once)."""
        return self._pause or self._stop


STEPS_PER_RUN = 20     # one Step trains a twentieth of the run: a visible change on every page's chart


def step_amount(total: int) -> int:
    """How many steps one Step trains in a run of `total` steps."""
    return max(1, round(total / STEPS_PER_RUN))


def without_model(step: TrainingStep) -> TrainingStep:
    return dataclasses.replace(step, extras={k: v for k, v in step.extras.items() if k != "model"})


def own_copy(step: TrainingStep, shared: Iterable[object] = ()) -> TrainingStep:
    """`step` with a private deep copy of its model. The objects in `shared` (the server's shared
    datasets and networks) stay shared, and so do the report's other extras that the model also
    holds (style transfer's input images): only what training made is copied."""
    if step.extras.get("model") is None:
        return step
    memo = {id(item): item for item in shared}
    for name, value in step.extras.items():
        if name != "model":
            for item in (value, *(value.values() if isinstance(value, dict) else ())):
                memo[id(item)] = item
    return dataclasses.replace(step, extras={**step.extras, "model": copy.deepcopy(step.extras["model"], memo)})


def thin(frames: list) -> list:
    """Every other frame, the last always kept."""
    return frames[:-1][::2] + frames[-1:]
