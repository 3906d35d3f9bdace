"""The training-step protocol every concept shares.

`train(config, data)` is a generator of `TrainingStep`s. The caller owns the loop: a page draws
each step and may stop early by not asking for more; a test takes the last one
(`*_, last = train(config, data)`). `Throttle` decides when a loop reports, so that the
caller's drawing stays a small, bounded share of the run.
"""

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TrainingStep:
    step: int                                   # steps done so far, 1-based
    total: int                                  # steps planned
    metrics: dict[str, float]                   # scalars, e.g. {"train_loss": 0.12}
    extras: dict[str, Any] = field(default_factory=dict)   # anything to draw (curves, predictions)
    seconds: float = 0.0                        # training time so far, drawing excluded

    @property
    def fraction_done(self) -> float:
        return self.step / self.total if self.total else 1.0

    @property
    def finished(self) -> bool:
        return self.step >= self.total


class ReportRequest:
    """A consumer's wish for a report sooner than the throttle would give one: `after` is the number
    of steps done after which the loop should report (0: after the step it is on). The runner
    sets it for Pause (report now, so the run stops at the step it is on) and Step (report exactly
    after the stated number of steps) and hands it to the engine with `asking` around each resume."""

    def __init__(self) -> None:
        self.after: int | None = None


_ASKING = threading.local()


@contextmanager
def asking(request: ReportRequest) -> Iterator[None]:
    """Resume a training generator with `request` visible to its `Throttle` (this thread only)."""
    before = getattr(_ASKING, "request", None)
    _ASKING.request = request
    try:
        yield
    finally:
        _ASKING.request = before


class Throttle:
    """Decide when to report so that reporting costs at most `max_share` of the training time, and
    whenever the consumer asks for a report (`ReportRequest`: Pause, Step).

    A report's cost is the time from `due()` saying yes to the `yield` (scoring held-out data,
    copying curves); the next report waits until training has run `1 / max_share` times as long.
    The time the generator stays suspended at `yield` (wrap it in `with throttle.reporting():`)
    belongs to the consumer (a runner storing the step, a learner's Pause) and counts as neither
    training nor reporting. The page draws the latest report on its own timer, beside the run.
    """

    def __init__(self, total: int, max_share: float = 0.05, min_interval: float = 0.05, frames: int = 0) -> None:
        """frames: also report at least this often over the run (every total/frames steps), however
        fast it trains, so that a run paced for watching has frames to show."""
        self.total = total
        self.frame_every = total / frames if frames > 0 else math.inf
        self._next_frame = self.frame_every
        self.max_share = max_share
        self.min_interval = min_interval
        self.training_seconds = 0.0      # time inside the loop, reports and suspensions excluded
        self.drawing_seconds = 0.0       # time spent preparing reports, summed
        self.reports = 0
        self._last_report = 0.0
        self._since_report = 0.0
        self._report_started: float | None = None
        self._resumed = time.perf_counter()

    def due(self, step: int) -> bool:
        """Should the loop report after 0-based `step`? Always on the first and the last step."""
        now = time.perf_counter()
        self._since_report += now - self._resumed
        self.training_seconds += now - self._resumed
        self._resumed = now
        request = getattr(_ASKING, "request", None)
        wanted = request is not None and request.after is not None and step + 1 >= request.after
        due = wanted or step == 0 or step >= self.total - 1 or step + 1 >= self._next_frame or \
            self._since_report >= max(self.min_interval, self._last_report / self.max_share)
        if due:
            while self._next_frame <= step + 1:
                self._next_frame += self.frame_every
            self._report_started = now
        return due

    @contextmanager
    def reporting(self) -> Iterator[None]:
        """Wrap the `yield`: the time since `due()` is the report's cost; the time suspended there
        is the consumer's and is not counted."""
        start = time.perf_counter()
        if self._report_started is not None:
            self._last_report = start - self._report_started
            self.drawing_seconds += self._last_report
            self._report_started = None
        try:
            yield
        finally:
            self._resumed = time.perf_counter()
            self._since_report = 0.0
            self.reports += 1
