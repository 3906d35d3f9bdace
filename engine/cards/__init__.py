"""Experiment cards and challenges: the claims a page makes about its experiments, as code.

A card asks the learner to predict what a run will show, runs it, and judges the prediction from
the run's own numbers. Everything a card claims is here, not in the text: the settings of its
run(s), how to read a run's final step (`measure`), and which answer the numbers give (`judge`).
The claims tests (tests/test_claims.py) run every card at its own settings on three seeds and check
that `judge` gives the card's stated `answer` each time.

Each page with cards has a module `engine/cards/<slug>.py` with:
  steps(built, seed=0) -> Iterator[TrainingStep]   the training generator of the experiment that
               `built` describes (the (config, data key) pair that the page's declared settings give,
               `ui.settings.Experiment.config`: the page trains the same pair) with `seed`, on the
               CPU. A card's run in the app is this generator with seed 0, driven by the page's
               runner on a worker (`ui.card_runs`), report by report like the page's own runs;
  run(built, seed=0) -> TrainingStep   `to_the_end(steps(built, seed))`, what the claims tests judge
               (a module whose cards share runs keeps the finished ones in a cache);
  CARDS        a tuple of Card; CHALLENGE a Challenge.
A card names settings by their bare names (`{"degree": 15}`), the names `ui/settings/<slug>.py`
declares; this package knows no widget, session or locale key.
Locale entries live in the page's locale file: `card_<id>_question`, `card_<id>_answer_<code>`,
`card_<id>_result` (formatted with the measured numbers), `card_<id>_why`; `challenge_goal`,
`challenge_rules` and `challenge_result`.
"""

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any

from engine.training import TrainingStep

Measures = dict[str, float]


@dataclass(frozen=True)
class Card:
    """One predict-run-check experiment.

    runs: the settings of each run (setting name -> value; every other setting at its default).
      One run, or two for a comparison (A, then B).
    answers: the answer codes offered, in order; answer: the code the runs give (tested, 3 seeds).
    measure: a run's final step -> the numbers the verdict quotes and `judge` reads.
    judge: the measures of every run, in order -> an answer code.
    experiment: the name of the experiment judged (`ui.settings.Experiment.name`), None for the
      page's main one.
    """

    id: str
    runs: tuple[Mapping[str, Any], ...]
    answers: tuple[str, ...]
    answer: str
    measure: Callable[[TrainingStep], Measures]
    judge: Callable[[list[Measures]], str]
    experiment: str | None = None

    def __post_init__(self) -> None:
        if not 2 <= len(self.answers) <= 4 or self.answer not in self.answers:
            raise ValueError(f"card {self.id}: 2-4 answers, including the stated one")
        if not 1 <= len(self.runs) <= 2:
            raise ValueError(f"card {self.id}: one run or two")


@dataclass(frozen=True)
class Challenge:
    """A goal judged from a run: `met(measures, settings)` with the run's full settings (so a rule
    such as "degree at least 10" is checked too). `solution`: settings that reach it (tested), while
    the page's defaults do not (tested)."""

    measure: Callable[[TrainingStep], Measures]
    met: Callable[[Measures, Mapping[str, Any]], bool]
    solution: Mapping[str, Any]
    experiment: str | None = None
    id: str = "challenge"


def numbers(measures: list[Measures]) -> dict[str, float]:
    """The values a card's result text is formatted with: each run's measures as `<name>_<run>`
    (`dice_0`, `dice_1`); with one run also as plain `<name>`."""
    flat = {f"{name}_{index}": value for index, run in enumerate(measures) for name, value in run.items()}
    if len(measures) == 1:
        flat.update(measures[0])
    return flat


def to_the_end(steps: Iterator[TrainingStep]) -> TrainingStep:
    """Drive a training generator to its last report and return it."""
    last = None
    for step in steps:
        last = step
    if last is None:
        raise RuntimeError("the run reported nothing")
    return last


# What a card's chart draws while its runs go (`ui.card_runs`): one scalar per report, by one rule.
TRACE = "card_trace"       # a report's extras under `traced`: (the scalar's name, ((step, value), ...) so far)


def watched(step: TrainingStep) -> tuple[str, float] | None:
    """The scalar a card's chart follows in a report, by a rule every engine's reports fit: its loss
    (the first metric whose name ends in "loss": `loss`, `train_loss`, `fp32/loss`), else its first
    metric (an error or an accuracy: `train_mse`, `multihead/digit`); None for a report without
    metrics (the optimizers' race, computed whole)."""
    names = list(step.metrics)
    chosen = next((name for name in names if name.endswith("loss")), names[0] if names else None)
    return None if chosen is None else (chosen, float(step.metrics[chosen]))


def traced(steps: Iterator[TrainingStep]) -> Iterator[TrainingStep]:
    """The reports of `steps`, each carrying the watched scalar's points so far under `TRACE`: the
    chart draws the whole run from any one report, a replay of this run included (its recording
    holds these reports)."""
    points: list[tuple[int, float]] = []
    name = None
    try:
        for step in steps:
            if (seen := watched(step)) is not None:
                name = seen[0]
                points.append((step.step, seen[1]))
            yield replace(step, extras={**step.extras, TRACE: (name, tuple(points))})
    finally:
        steps.close()               # a Stop closes this generator: the engine's own cleanup runs now


# Judging with a margin. A judge compares measured numbers with thresholds only through the helpers
# below. On the page they are plain comparisons. Under `strictly()` (the claims tests) each comparison
# must be decisive: the number lies at least twice the threshold away from the other side (for
# "rises by more than 5 %", a rise of 10 % or more; for "within 0.02", a change of 0.01 or less), or
# the comparison raises `Undecided`. A claim that passes strictly cannot be flipped by a CPU's rounding.
_STRICT: ContextVar[bool] = ContextVar("strict_judging", default=False)


class Undecided(ValueError):
    """A comparison that lies within the margin of its threshold (raised only under `strictly()`)."""


@contextmanager
def strictly() -> Iterator[None]:
    """Judge in this thread with the margin: every comparison decisive or `Undecided`."""
    token = _STRICT.set(True)
    try:
        yield
    finally:
        _STRICT.reset(token)


def _decide(clear_yes: bool, clear_no: bool, plain: bool, what: str) -> bool:
    if not _STRICT.get():
        return plain
    if clear_yes == clear_no:
        raise Undecided(what)
    return clear_yes


def exceeds(value: float, limit: float) -> bool:
    """value > limit (limit > 0); strictly, yes from 2 x limit, no up to limit / 2."""
    return _decide(value >= 2 * limit, value <= limit / 2, value > limit, f"{value:.4g} against {limit:g}")


def rises(after: float, before: float, by: float) -> bool:
    """`after` above `before` by more than the fraction `by` (both positive); strictly, yes from a rise
    of 2 x by, no up to by / 2."""
    ratio = after / max(before, 1e-12)
    return _decide(ratio >= 1 + 2 * by, ratio <= 1 + by / 2, ratio > 1 + by,
                   f"ratio {ratio:.4g} against 1 + {by:g}")


def falls(after: float, before: float, by: float) -> bool:
    """`after` below `before` by more than `by` in the same sense: `before` rises over `after`."""
    return rises(before, after, by)


def at_least(value: float, other: float, tie: float) -> bool:
    """value >= other; strictly, yes from other + tie, no up to other - tie."""
    return _decide(value >= other + tie, value <= other - tie, value >= other,
                   f"{value:.4g} against {other:.4g} (tie {tie:g})")


def smallest(values: Mapping[str, float], lead: float) -> str:
    """The name of the smallest (positive) value; strictly, every other must exceed it by the fraction `lead`."""
    best = min(values, key=values.get)
    if _STRICT.get() and any(value < values[best] * (1 + lead) for name, value in values.items() if name != best):
        raise Undecided(f"{best} leads {dict(values)} by less than {lead:g}")
    return best


def largest(values: Mapping[str, float], lead: float) -> str:
    """The name of the largest (positive) value; strictly, it must exceed every other by the fraction `lead`."""
    best = max(values, key=values.get)
    if _STRICT.get() and any(values[best] < value * (1 + lead) for name, value in values.items() if name != best):
        raise Undecided(f"{best} leads {dict(values)} by less than {lead:g}")
    return best


def direction(before: float, after: float, tolerance: float) -> str:
    """"up", "down" or "same" (within `tolerance`): how a number moved between two runs."""
    if not exceeds(abs(after - before), tolerance):
        return "same"
    return "up" if after > before else "down"
