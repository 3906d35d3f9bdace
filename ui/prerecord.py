"""Hosted mode: record every page's default run, then the cards' runs, while the server has nothing
else to do, so that a class's first presses play back at once instead of queueing for the one worker.

A run is recorded by training it as a job of the runner with the replay key the page gives the
same run (`ui.records.replay_key` of the experiment's key and `Experiment.config` of its values:
the page builds its config with the same function), so the runner's own recording and replay do
the rest. The job is the engine's generator the cards train (`engine/cards/<page>.steps`, seed 0:
what the page trains); tests/test_prerecord.py checks, page by page, that the page's run has this
replay key and starts with the same first report.

Learners come first: a recording starts only while no learner's run waits or trains, and pauses
(giving its worker back) as soon as one waits, unless every waiting run is the one being recorded
(it then plays from the recording as soon as that ends). Defaults come first, then the cards'
runs, while the store of recordings has room (`ui.recordings.RECORDINGS`): a card's run never
pushes a page's default out.

Streamlit runs no app code before the first visitor connects, so recording starts with the first
session of a fresh server process (the entry file calls `start`). `PTLAB_PRERECORD=0` turns it off;
`PTLAB_PRERECORD_STATUS=<file>` makes it write its progress there as JSON (benchmarks, tests).

This module never imports streamlit.
"""

import importlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from engine.cards import traced
from ui import recordings
from ui.jobs import FINISHED, PAUSED, Job
from ui.records import replay_key
from ui.settings import declared_pages, experiments

ENV, STATUS_ENV = "PTLAB_PRERECORD", "PTLAB_PRERECORD_STATUS"
OWNER = ""                      # no learner's session: never stopped as "gone", never put away
POLL_SECONDS = 0.2
LOG = logging.getLogger(__name__)
_STARTED: list[threading.Thread] = []
_START_LOCK = threading.Lock()


def wanted() -> bool:
    return os.environ.get(ENV, "1").strip().lower() not in {"0", "false", "no", "off"}


def planned(pages: list[str] | None = None, cards: bool = True) -> Iterator[tuple[str, Any, dict]]:
    """(page, experiment, settings) of every run to record: each page's default first, then (with
    `cards`) every card's runs in the pages' order; not the experiments that are never replayed."""
    pages = pages or [page for page in declared_pages() if page != "example"]
    for page in pages:
        if experiments(page)[None].replays:
            yield page, experiments(page)[None], {}
    for page in pages if cards else ():
        module = importlib.import_module(f"engine.cards.{page}")
        declared = experiments(page)
        for card in module.CARDS:
            for settings in card.runs if declared[card.experiment].replays else ():
                yield page, declared[card.experiment], dict(settings)


def _learners_waiting(runner, mine: Job) -> bool:
    with runner._lock:
        return any(job.replay_key != mine.replay_key for job in runner._ready)


def _learners_training(runner) -> bool:
    with runner._lock:
        return bool(runner._ready) or runner._busy > 0


def _record_one(runner, page: str, experiment, settings: dict) -> bool:
    """Train one run as a job until it is recorded; False if it was not (a failure, or stopped)."""
    built = experiment.config(settings)
    key = replay_key(experiment.key, *built)
    with runner._lock:
        if key is None or runner.recorded.get(key) is not None:
            return key is not None
    module = importlib.import_module(f"engine.cards.{page}")
    # traced: the reports carry the card chart's points, so a card's replay draws its whole chart
    job = Job(lambda: traced(module.steps(built, 0)), owner=OWNER, page=page, kind=experiment.key,
              replay_key=key)
    while _learners_training(runner):
        time.sleep(POLL_SECONDS)
    runner.submit(job)
    while job.active or job.state == PAUSED:
        time.sleep(POLL_SECONDS)
        if job.active and _learners_waiting(runner, job):
            runner.pause(job)                       # gives its worker back at its next report
        elif job.state == PAUSED and not _learners_training(runner):
            runner.resume(job)
    return job.state == FINISHED


def _room(runner) -> bool:
    with runner._lock:
        return len(runner.recorded) < recordings.RECORDINGS


def record_all(runner, pages: list[str] | None = None, status: str | None = None, cards: bool = True) -> dict:
    """Record the planned runs on `runner` (replays on); returns what it did."""
    began, done, failed = time.monotonic(), 0, 0
    plan = list(planned(pages, cards))
    defaults = sum(1 for _, _, settings in plan if not settings)
    summary = {"planned": len(plan), "recorded": 0, "failed": 0, "done": False, "seconds": 0.0}
    for index, (page, experiment, settings) in enumerate(plan):
        if index >= defaults and not _room(runner):
            break                                   # the store is full: keep the pages' defaults
        try:
            ok = _record_one(runner, page, experiment, settings)
        except Exception:                           # one page's problem must not end the others'
            LOG.exception("pre-recording %s %s", page, settings)
            ok = False
        done, failed = done + ok, failed + (not ok)
        summary |= {"recorded": done, "failed": failed, "seconds": round(time.monotonic() - began, 1)}
        _write(status, summary)
    summary |= {"done": True, "seconds": round(time.monotonic() - began, 1)}
    _write(status, summary)
    LOG.info("pre-recorded %d runs (%d failed) in %.0f s", done, failed, summary["seconds"])
    return summary


def _write(path: str | None, summary: dict) -> None:
    if path:
        with open(path, "w", encoding="utf-8") as file:
            json.dump(summary, file)


def start(runner) -> threading.Thread | None:
    """Start recording in a background thread, once per server process, if replays are on."""
    with _START_LOCK:
        if _STARTED or not wanted() or not runner.replays:
            return None
        thread = threading.Thread(target=record_all, args=(runner, None, os.environ.get(STATUS_ENV)),
                                  name="ptlab-prerecord", daemon=True)
        _STARTED.append(thread)
        thread.start()
        return thread
