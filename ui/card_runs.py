"""A card's runs, inside the card: jobs of the server-wide runner, where they stand, a small live chart.

"Run" (or "Run both") submits each of the card's runs as a job of the runner that the page's own
experiments use (`ui.runner`): `engine/cards/<page>.steps` at the card's settings with seed 0, the
run the claims tests judge, report by report. A job is keyed for replays like the page's run of the
same settings (`ui.records.replay_key`), so on a shared server an equal run recorded by anyone, from
a card or from the page, plays back instead of training again. The card draws where its runs stand
and one line per run of the scalar they report (`watched`); once every run has finished, the card
keeps their measures, and their models are let go (only the numbers are judged).

A card's runs live in the learner's session (`STORE`), so a rerun, a language switch or a lab never
ends them, and a judged card stays judged.
"""

import functools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType

import streamlit as st

from engine.cards import TRACE, Card, Measures, traced, watched
from engine.errors import InputError
from engine.training import TrainingStep
from ui import lesson_state, runner
from ui.charts import history_figure, show
from ui.i18n import text
from ui.jobs import without_model
from ui.records import PAGE_KEY, replay_key
from ui.sessions import configure, session_id
from ui.settings import Experiment
from ui.widgets import reduced_motion, show_input_error

STORE = "_cards"               # Session State: "<slug>.<card id>" -> CardRuns
CHART_HEIGHT = 240             # small: the card's question and verdict stay the point


@dataclass(eq=False)
class CardRuns:
    """One card's runs in this session: their jobs (in the card's order), the prediction they were
    started with, and once all have finished, the measures the card judged."""

    jobs: list[runner.Job]
    guess: str
    measures: list[Measures] | None = None
    polled: list[list[tuple[int, float]]] = field(default_factory=list)   # per run: points seen, see `points`
    reported: bool = False         # the verdict went to the learner's lesson (`ui.lessons.judged`)

    @property
    def active(self) -> bool:
        return any(job.active for job in self.jobs)

    @property
    def waiting(self) -> bool:
        """Every run still waits for a worker (the card then looks less often: a full class waits)."""
        return all(job.state == runner.QUEUED for job in self.jobs)

    @property
    def finished(self) -> bool:
        return all(job.state == runner.FINISHED for job in self.jobs)


def _trained(make: Callable[..., Iterator[TrainingStep]], built: tuple) -> Iterator[TrainingStep]:
    return traced(make(built, 0))


def start(name: str, module: ModuleType, card: Card, experiment: Experiment, guess: str | None) -> None:
    """Button callback: the card's runs, submitted in order (a pair's second waits for a worker like
    any other run); runs of this card still going are stopped first."""
    if guess is None:                # the button is off until a prediction is picked
        return
    store = st.session_state.setdefault(STORE, {})
    if (old := store.get(name)) is not None:
        stop(old)
    pool = configure(runner.runner())
    owner, page = session_id(), st.session_state.get(PAGE_KEY, "")
    made = []
    for values in card.runs:
        config, data_key = experiment.config(values)
        key = replay_key(experiment.key, config, data_key) if experiment.replays else None   # as the page's run
        made.append(runner.Job(functools.partial(_trained, module.steps, (config, data_key)), owner=owner, page=page,
                               kind=experiment.key, replay_key=key))
    store[name] = CardRuns(made, guess, polled=[[] for _ in made])
    lesson_state.predicted(experiment.page, card.id, guess)       # in a lesson: the prediction, before any verdict
    for job in made:
        job._skip = reduced_motion()        # a replay plays at once for a learner who asked for reduced motion
        pool.submit(job)


def stop(runs: CardRuns) -> None:
    for job in runs.jobs:
        runner.runner().stop(job)


def judge(runs: CardRuns, card: Card) -> None:
    """Once every run has finished: measure each and keep the measures, and keep each job as a
    finished stand-in without its model (a card reads numbers only; its last report stays for the
    progress and the chart), so the models go with the runner's jobs."""
    if runs.measures is not None or not runs.jobs or not runs.finished:
        return
    runs.measures = [card.measure(runner.snapshot(job)[1]) for job in runs.jobs]
    runs.jobs = [runner.Job(job.start, state=runner.FINISHED, last=without_model(job.last), replayed=job.replayed)
                 for job in runs.jobs]


def progress(runs: CardRuns) -> None:
    """Where each run stands, one bar per run: waiting (and its place in the queue), the step it
    reached, stopped or finished; a failed run says why."""
    pair = len(runs.jobs) > 1
    for index, job in enumerate(runs.jobs):
        state, step, error, _ = runner.snapshot(job)
        where = {"step": step.step, "total": step.total} if step is not None else {"step": 0, "total": "?"}
        if state == runner.FAILED:
            if isinstance(error, InputError):
                show_input_error(error)
            else:
                st.error(text("common.run_failed", error=f"{type(error).__name__}: {error}"), icon=":material/error:")
            continue
        if state == runner.QUEUED:
            words = text("common.card_run_queued", position=runner.runner().position(job) or 1)
        elif state == runner.FINISHED:
            words = text("common.card_run_replayed" if job.replayed is not None else "common.card_run_finished",
                         **where)
        elif state == runner.STOPPED:
            words = text("common.card_run_stopped" if step is not None else "common.run_stopped_early", **where)
        elif step is None:
            words = text("common.card_run_preparing")
        else:
            words = text("common.progress", **where)
        label = f"{text('common.card_run_name', n=index + 1)} · {words}" if pair else words
        st.progress(step.fraction_done if step is not None else 0.0, text=label)


def points(runs: CardRuns, index: int) -> tuple[str | None, list[tuple[int, float]]]:
    """(scalar's name, its finite points so far) of run `index`: from its latest report's trace, or,
    for a replay of a page's recording (whose reports carry none), from the reports the card saw."""
    step = runner.snapshot(runs.jobs[index])[1]
    if step is None:
        return None, []
    if TRACE in step.extras:
        name, found = step.extras[TRACE]
    else:
        seen, found = watched(step), runs.polled[index]
        name = seen[0] if seen is not None else None
        if seen is not None and (not found or found[-1][0] != step.step):
            found.append((step.step, seen[1]))
    return name, [(at, value) for at, value in found if math.isfinite(value)]


def quantity(names: set[str]) -> str:
    """What the watched metrics measure, in words a learner reads (a `common.diverged_<kind>` entry),
    not their keys ("train_mse", "multihead/digit"): a loss, an error (an MSE) or else a score."""
    if all(name.endswith("loss") for name in names):
        return "loss"
    return "error" if any("mse" in name or "error" in name for name in names) else "score"


def chart(runs: CardRuns, key: str) -> None:
    """One line per run of the watched scalar; nothing for runs that report once (no line to draw)."""
    traced_runs = [points(runs, index) for index in range(len(runs.jobs))]
    names = {name for name, found in traced_runs if name is not None}
    if not names or max(len(found) for _, found in traced_runs) < 2:
        return
    pair = len(runs.jobs) > 1
    kind = quantity(names)
    lines = {f"run_{index}": text("common.card_run_name", n=index + 1) if pair else text(f"common.diverged_{kind}")
             for index in range(len(traced_runs))}
    values = [value for _, found in traced_runs for _, value in found]
    spread = min(values) > 0 and max(values) >= 10 * min(values)          # a loss falling by decades
    figure = history_figure(lines, text("common.card_chart_title", name=text(f"common.diverged_{kind}")),
                            text("common.card_chart_step"), log_y=spread, quantity=kind)
    for trace, (_, found) in zip(figure.data, traced_runs, strict=True):
        trace.x, trace.y = [at for at, _ in found], [value for _, value in found]
        trace.showlegend = pair             # one run: the title names its line
    figure.update_layout(height=CHART_HEIGHT, margin={"t": 40, "b": 10})
    show(figure, key=key)
