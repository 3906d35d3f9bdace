"""A learner's run as their session keeps it: the record of one experiment, and what travels home.

`RunRecord` holds the settings a run started with and its job (`ui.Job`, which holds the
latest report); the same record on every page. `Training` is what an experiment trains, and
`TakeHome` what "Download as a script" exports.
"""

import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from engine.training import TrainingStep
from ui.jobs import FINISHED, STOPPED, Job

PAGE_KEY = "ptlab_page"        # session key: the page the learner is on (set by the entry file)
AUTORUN = "_autorun_{key}"     # session key: start experiment `key` in this script run (ui.cards sets it)


@dataclass(frozen=True)
class TakeHome:
    """What the experiment's "Download as a script" exports: `name` is an `engine.export.PAGES` key,
    `settings` what `engine.export.script` fills in (the page's current config objects), `files` makes
    the files that travel with it (the learner's pictures), only when the button is pressed."""

    name: str
    settings: dict
    files: Callable[[], dict[str, bytes]] | None = None



@dataclass(frozen=True)
class Training:
    """What an experiment trains when the learner presses Run (`ui.experiment.experiment`).

    start: makes the engine's generator for the current settings (called in a worker).
    config, data_key: what the run depends on; a record made with others gets the stale note.
    pace: spread a run's reports over at least this many seconds, with a "Skip to the end" button
      (a run that trains in a blink can then be watched).
    replay: a run equal to one recorded on this server may be played from the recording (hosted
      mode); False for runs that measure time, whose results differ from one run to the next.
    steps: offer Pause and Step (a run that reports once, like a timing race, may not).
    ready: False while there is nothing to train on (no data chosen yet): Run and Step are off.
    take_home: the experiment as a standalone script, offered beside the controls.
    form: the experiment's declared settings as drawn in this run (`ui.fields.Form`): recorded with
      the run, they are what the cards judge it by and what "changed since" lists."""

    start: Callable[[], Iterator[TrainingStep]]
    config: Any
    data_key: Any = None
    pace: float = 0.0
    replay: bool = True
    steps: bool = True
    ready: bool = True
    take_home: TakeHome | None = None
    form: Any = None


@dataclass(eq=False)
class RunRecord:
    """One learner's run on one experiment: the settings it used and its job (which holds the
    latest step). The same record on every page; `model` is what the engine reports under
    `extras["model"]` (a module, or a dict of them), kept when the run is paused or stopped."""

    config: Any
    data_key: Any
    job: Job
    started: float = field(default_factory=time.time)
    settings: dict = field(default_factory=dict, repr=False)   # its declared settings (name -> value)
    previous: "RunRecord | None" = field(default=None, repr=False)   # the run before, for faint curves
    put_away_from: Job | None = field(default=None, repr=False)  # the put-away run being brought back

    @property
    def step(self) -> TrainingStep | None:
        """The latest report; until a put-away model is back, the put-away run's last one (the same
        curves and numbers, which the run bringing it back ends on)."""
        if self.job.rebuilt and self.job.state != FINISHED and self.put_away_from is not None:
            return self.put_away_from.last
        return self.job.last

    @property
    def identity(self) -> tuple[int, float]:
        """This run, the same once its model was put away and brought back (a new job then)."""
        return id(self), self.started

    @property
    def views(self) -> dict:
        """Derived views, cached per report; they live on the job, so putting its model away drops them too."""
        return self.job.views

    @views.setter
    def views(self, value: dict) -> None:
        self.job.views = value

    @property
    def model(self) -> Any:
        return None if self.job.last is None else self.job.last.extras.get("model")

    @property
    def active(self) -> bool:
        return self.job.active

    @property
    def complete(self) -> bool:
        return self.job.state == FINISHED

    @property
    def device(self) -> str:
        reported = None if self.job.last is None else self.job.last.extras.get("device")
        return device_label(reported)

    def matches(self, config: Any, data_key: Any = None) -> bool:
        return self.config == config and self.data_key == data_key

    def usable(self, data_key: Any = None) -> bool:
        """A model trained so far that a lab may use now: not being trained, same data."""
        return self.model is not None and not self.active and self.data_key == data_key

    def cached(self, name: str, compute: Callable[..., Any], *args: Any) -> Any:
        """`compute(*args)` once per report of this run (a lab slider then costs only drawing)."""
        key = (name, args, self.job.version)
        if key not in self.views:
            self.views = {k: v for k, v in self.views.items() if k[2] == self.job.version}
            self.views[key] = compute(*args)
        return self.views[key]



def device_label(reported: str | None) -> str:
    from engine.device import device_label as label  # imports torch: a run exists, so it is loaded

    return label(reported)



def faded(record: RunRecord | None) -> RunRecord | None:
    """What is kept of a finished or stopped run to draw it faintly beside the next: its settings
    and last report, without its model (a session keeps one model per experiment, not two)."""
    if record is None or record.step is None:
        return None
    last = record.step
    job = Job(record.job.start, state=STOPPED if record.job.state != FINISHED else FINISHED,
                   last=dataclasses.replace(last, extras={k: v for k, v in last.extras.items() if k != "model"}))
    return RunRecord(record.config, record.data_key, job, record.started, settings=record.settings)



def replay_key(key: str, config: Any, data_key: Any) -> Any:
    """What makes two runs of experiment `key` equal (None if it cannot be compared)."""
    try:
        hash((key, config, data_key))
    except TypeError:
        return None
    return key, config, data_key

