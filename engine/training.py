"""The training-step protocol every concept shares.

`train(config, data)` is a generator of `TrainingStep`s. The caller owns the loop: a page draws
each step and may stop early by not asking for more; a test takes the last one
(`*_, last = train(config, data)`). `Throttle` decides when a loop reports, so that the
caller's drawing stays a small, bounded share of the run.
"""

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


class Throttle:
    """Decide when to report so that drawing costs at most `max_share` of the training time.

    The caller's drawing time is measured as the time a generator stays suspended at `yield`
    (wrap the yield in `with throttle.reporting():`); the next report waits until training has
    run `1 / max_share` times as long as the last drawing took.
    """

    def __init__(self, total: int, max_share: float = 0.05, min_interval: float = 0.05) -> None:
        self.total = total
        self.max_share = max_share
        self.min_interval = min_interval
        self.training_seconds = 0.0      # time inside the loop, reports excluded
        self.drawing_seconds = 0.0       # time the caller held each report, summed
        self.reports = 0
        self._last_draw = 0.0
        self._since_report = 0.0
        self._resumed = time.perf_counter()

    def due(self, step: int) -> bool:
        """Should the loop report after 0-based `step`? Always on the first and the last step."""
        now = time.perf_counter()
        self._since_report += now - self._resumed
        self.training_seconds += now - self._resumed
        self._resumed = now
        if step == 0 or step >= self.total - 1:
            return True
        return self._since_report >= max(self.min_interval, self._last_draw / self.max_share)

    @contextmanager
    def reporting(self) -> Iterator[None]:
        """Wrap the `yield`: the time spent there is the caller's, not training's."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self._resumed = time.perf_counter()
            self._last_draw = self._resumed - start
            self.drawing_seconds += self._last_draw
            self._since_report = 0.0
            self.reports += 1
