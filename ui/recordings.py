"""Recordings of finished runs, and the player that replays one as if the run were training again.

Every run is deterministic on the CPU, so a run with the same experiment, settings and data as a
recorded one is that run: the runner plays it from the recording instead of training (hosted mode).
A recording keeps `FRAMES` to twice as many of the run's reports, evenly thinned, each with the
running seconds at which it came, and a private copy of the final model; the store keeps the last
`RECORDINGS` runs, at most `RECORDING_BYTES`, least recently used dropped first.

`play` is a generator like an engine's: the runner's one loop drives it, so Pause, Step, Stop and
Skip work on a replay exactly as on a run. It yields None while it waits for a frame's time when
Pause or Stop is pressed (no report: the loop then pauses or stops the job).

This module never imports streamlit or another `ui` module but `ui.jobs`.
"""

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from engine.training import TrainingStep
from ui.jobs import Job

FRAMES = 32                     # a recorded run keeps FRAMES to 2 x FRAMES reports (evenly thinned; the last always)
RECORDINGS = 16                 # recorded runs kept, least recently used dropped first
RECORDING_BYTES = 160_000_000   # and at most this many bytes of them


@dataclass
class Recording:
    """A finished run: its reports (without the model, but the last), each with the running
    seconds at which it came; the last report's model is the recording's own copy."""

    frames: list[tuple[float, TrainingStep]]
    finished: float                                   # time.time() when the run finished
    paced: bool
    size: int = 0                                     # bytes, for the store's bound


class Recordings:
    """The recorded runs by replay key, bounded in number and bytes (least recently used dropped
    first). Not thread-safe: the runner holds its lock around every call."""

    def __init__(self) -> None:
        self._kept: OrderedDict[Any, Recording] = OrderedDict()

    def add(self, key: Any, recording: Recording) -> None:
        self._kept[key] = recording
        self._kept.move_to_end(key)
        while len(self._kept) > RECORDINGS or \
                (len(self._kept) > 1 and sum(r.size for r in self._kept.values()) > RECORDING_BYTES):
            self._kept.popitem(last=False)

    def get(self, key: Any) -> Recording | None:
        return self._kept.get(key)

    def use(self, key: Any) -> Recording:
        """The recording for `key`, now the most recently used."""
        self._kept.move_to_end(key)
        return self._kept[key]

    def keys(self) -> list:
        return list(self._kept)

    def clear(self) -> None:
        self._kept.clear()

    def __getitem__(self, key: Any) -> Recording:
        return self._kept[key]

    def __len__(self) -> int:
        return len(self._kept)


def play(recording: Recording, job: Job, last: Callable[[TrainingStep], TrainingStep]) -> Iterator[TrainingStep | None]:
    """The recording's reports, each as long after the previous one as it came in the run (time
    paused does not count), the last through `last` (the learner's own copy of the model). "Skip
    to the end" (`job._skip`) and a model brought back (`job.rebuilt`: no show) play every frame
    at once."""
    previous = 0.0
    for index, (offset, step) in enumerate(recording.frames):
        due = time.monotonic() + offset - previous
        while not (job._skip or job.rebuilt) and (left := due - time.monotonic()) > 0:
            if job.interrupted:
                stopped = time.monotonic()
                yield None                             # no report: the runner pauses or stops the job
                due += time.monotonic() - stopped      # resumed: the time paused does not count
                continue
            time.sleep(min(left, 0.05))
        previous = offset
        yield last(step) if index == len(recording.frames) - 1 else step
