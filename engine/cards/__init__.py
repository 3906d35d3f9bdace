"""Experiment cards and challenges: the claims a page makes about its experiments, as code.

A card asks the learner to predict what a run will show, sets the page up for it, and judges the
prediction from the run's own numbers. Everything a card claims is here, not in the text: the
settings of its run(s), how to read a run's final step (`measure`), and which answer the numbers
give (`judge`). The claims tests (tests/test_claims.py) run every card at its own settings on three
seeds and check that `judge` gives the card's stated `answer` each time.

Each page with cards has a module `engine/cards/<slug>.py` with:
  EXPERIMENT   the session key of the page's experiment the cards judge (e.g. "regression_train");
  DEFAULTS     the page's linked settings at their defaults (widget key -> value);
  run(settings, seed) -> TrainingStep   the experiment at `settings` (missing keys at DEFAULTS) with
               `seed`, trained on the CPU to its last step; seed 0 is what the page runs;
  config(settings) -> (config, data_key)   what the page passes its experiment for `settings` (the
               tests compare it with what the page really passes);
  CARDS        a tuple of Card; CHALLENGE a Challenge.
Locale entries live in the page's locale file: `card_<id>_question`, `card_<id>_answer_<code>`,
`card_<id>_result` (formatted with the measured numbers), `card_<id>_why`; `challenge_goal`,
`challenge_rules` and `challenge_result`.
"""

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from engine.training import TrainingStep

Measures = dict[str, float]


@dataclass(frozen=True)
class Card:
    """One predict-run-check experiment.

    runs: the settings of each run (linked widget key -> value; every other setting at its default).
      One run, or two for a comparison (A, then B).
    answers: the answer codes offered, in order; answer: the code the runs give (tested, 3 seeds).
    measure: a run's final step -> the numbers the verdict quotes and `judge` reads.
    judge: the measures of every run, in order -> an answer code.
    free: settings the learner may change without voiding the verdict (none by default).
    experiment: the experiment judged, when not the module's EXPERIMENT.
    """

    id: str
    runs: tuple[Mapping[str, Any], ...]
    answers: tuple[str, ...]
    answer: str
    measure: Callable[[TrainingStep], Measures]
    judge: Callable[[list[Measures]], str]
    free: tuple[str, ...] = ()
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


def full_settings(defaults: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    return {**defaults, **settings}


def to_the_end(steps: Iterator[TrainingStep]) -> TrainingStep:
    """Drive a training generator to its last report and return it."""
    last = None
    for step in steps:
        last = step
    if last is None:
        raise RuntimeError("the run reported nothing")
    return last


def direction(before: float, after: float, tolerance: float) -> str:
    """"up", "down" or "same" (within `tolerance`): how a number moved between two runs."""
    if abs(after - before) <= tolerance:
        return "same"
    return "up" if after > before else "down"
