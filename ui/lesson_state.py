"""A learner's place in a lesson, in their session, and what the pages ask of it.

The Streamlit side of a lesson that the pages' own modules call (`ui.fields.Form` asks `rule`; the
cards ask `held` and report through `predicted`, `judged`, `challenge_met`). It imports none of them
back: the editor, the lesson bar and the teacher's view are `ui.lessons`.
"""

import functools
import importlib
import time
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from ui.lesson_plan import Step
from ui.lesson_store import Lesson, store

ATTENDING = "_lesson"           # Session State: this learner's place in a lesson (Attending)
LIVE_SECONDS = 3                # the teacher's view and a held verdict look again this often
FRESH_SECONDS = 2.0             # a lesson's row read within this is read again only after it
UNREACHABLE = object()          # what `safely` returns when the database cannot be reached


@dataclass
class Attending:
    """A learner's place in a lesson, in their session. `applied`: (step, widget key) pairs whose
    starting value was put in place (an open setting is set once per visit to its step)."""

    code: str
    learner: str
    step: int
    lesson: Lesson
    read_at: float
    page: str = ""
    applied: set[tuple[int, str]] = field(default_factory=set)
    switch: bool = False
    reported: set[tuple[int, str]] = field(default_factory=set)
    renewed: bool = False           # the browser's id was malformed and replaced (said once)
    seen_at: float = 0.0            # when this session last marked the learner active
    predictions: dict[tuple[str, str], str] = field(default_factory=dict)   # (page, card) -> kept prediction

    @property
    def current(self) -> Step:
        return self.lesson.steps[self.step]

    def step_for(self, slug: str) -> int | None:
        """The step a card of page `slug` counts for: the learner's own step when it is on that page,
        else the first step on it; None when the lesson never visits the page."""
        if self.current.page == slug:
            return self.step
        return next((index for index, step in enumerate(self.lesson.steps) if step.page == slug), None)


@functools.cache
def cards_of(slug: str) -> tuple:
    """The page's cards and challenge (imports the page's engine: torch)."""
    module = importlib.import_module(f"engine.cards.{slug}")
    return tuple(module.CARDS), getattr(module, "CHALLENGE", None)


def experiment_for(step: Step):
    """The experiment a step starts: its card's, or the page's main one."""
    from ui.settings import experiments

    name = None
    if step.card is not None:
        name = next(card.experiment for card in cards_of(step.page)[0] if card.id == step.card)
    return experiments(step.page)[name]


def step_values(step: Step) -> dict[str, Any]:
    """Every setting of the step's experiment: its card's first run (or the defaults), then the step's."""
    experiment = experiment_for(step)
    start = {}
    if step.card is not None:
        start = dict(next(card.runs[0] for card in cards_of(step.page)[0] if card.id == step.card))
    return experiment.complete({**start, **step.settings})


def safely(work, fallback):
    """`work()`, or `fallback` when the database cannot be reached (the page says so where it matters)."""
    try:
        return work()
    except Exception:  # noqa: BLE001 - a lost database never breaks the page
        return fallback


def refresh(attending: Attending, now: float | None = None) -> None:
    """Read the lesson's row again (hold, reveals, closed) when the last read is older than FRESH_SECONDS."""
    now = time.monotonic() if now is None else now
    if now - attending.read_at >= FRESH_SECONDS:
        lesson = safely(lambda: store().lesson(attending.code), attending.lesson)
        attending.lesson = lesson or attending.lesson
        attending.read_at = now


def attending() -> Attending | None:
    return st.session_state.get(ATTENDING)


def rule(experiment: Any, name: str) -> tuple[Any, bool, bool, bool] | None:
    """For `ui.fields.Form`: (value, fixed, drawn, first) when the learner's current step sets this
    setting (its page and experiment), else None. `first`: the first draw in this visit to the step."""
    here = attending()
    if here is None or here.page != here.current.page:
        return None
    step = here.current
    if experiment.page != step.page or experiment.key != experiment_for(step).key:
        return None
    key = (here.step, experiment.widget_key(name))
    first = key not in here.applied
    here.applied.add(key)
    return step_values(step)[name], step.fixed(name), step.drawn(name), first


def held(slug: str) -> bool:
    """Whether a card's verdict on page `slug` waits for the teacher (read afresh every FRESH_SECONDS)."""
    here = attending()
    if here is None or (step := here.step_for(slug)) is None:
        return False
    refresh(here)
    return here.lesson.held(step)


def kept_prediction(slug: str, card: str) -> str | None:
    """The learner's recorded prediction for a card (a reload or a later visit shows it again)."""
    here = attending()
    return None if here is None else here.predictions.get((slug, card))


def predicted(slug: str, card: str, prediction: str) -> None:
    here = attending()
    if here is not None:
        here.predictions.setdefault((slug, card), prediction)
    if here is not None and (step := here.step_for(slug)) is not None:
        safely(lambda: store().predict(here.code, here.learner, step, card, prediction), False)


def judged(slug: str, card: str, prediction: str, outcome: str) -> None:
    """The runs' verdict on a card (recorded once per run of the card; the first verdict stays)."""
    here = attending()
    if here is not None and (step := here.step_for(slug)) is not None:
        safely(lambda: store().judge(here.code, here.learner, step, card, outcome, prediction == outcome), False)


def challenge_met(slug: str) -> None:
    here = attending()
    if here is None or (step := here.step_for(slug)) is None or (step, "challenge") in here.reported:
        return
    if safely(lambda: store().challenge(here.code, here.learner, step), False):
        here.reported.add((step, "challenge"))
