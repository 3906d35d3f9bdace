"""Pre-recording in hosted mode (`ui.prerecord`): the runs it records are the runs the pages start
(same replay key, same first report), and a learner's equal run then plays from the recording."""

import contextlib
import importlib
import threading

import pytest

from tests.conftest import WAIT, wait_until
from ui import controls, prerecord
from ui import runner as jobs
from ui.catalog import CONCEPTS
from ui.records import replay_key
from ui.settings import experiments

SLUGS = [concept.slug for concept in CONCEPTS]


@pytest.mark.parametrize("slug", SLUGS)
def test_the_recorded_default_is_the_run_the_page_starts(app, slug, monkeypatch):
    """Press the page's Run at its defaults: the run it would start has the replay key the
    pre-recording gives that page's default, and its first report equals the recorded engine's."""
    started = {}
    monkeypatch.setattr(controls, "start_run",
                        lambda key, training, settings, stepping=False: started.update(key=key, training=training))
    experiment = experiments(slug)[None]
    page = app(f"pages/{slug}.py")
    page.button(key=f"act_{experiment.key}").click().run()
    training = started["training"]
    built = experiment.config({})
    assert started["key"] == experiment.key and training.replay == experiment.replays
    if not experiment.replays:                         # timed runs: always trained, never recorded
        assert all(page != slug for page, _, _ in prerecord.planned())
        return
    assert replay_key(experiment.key, training.config, training.data_key) == replay_key(experiment.key, *built)
    module = importlib.import_module(f"engine.cards.{slug}")
    with contextlib.closing(training.start()) as theirs, contextlib.closing(module.steps(built, 0)) as ours:
        first, recorded = next(theirs), next(ours)
    assert (first.step, first.total, first.metrics) == (recorded.step, recorded.total, recorded.metrics)


def test_every_page_default_is_planned_first_then_each_card_run_once():
    plan = list(prerecord.planned())
    replayed = [slug for slug in SLUGS if experiments(slug)[None].replays]
    assert len(replayed) >= 8
    assert {page for page, _, _ in plan[:len(replayed)]} == set(replayed)
    assert all(settings == {} and experiment.name is None for _, experiment, settings in plan[:len(replayed)])
    cards = sum(len(card.runs) for slug in SLUGS for card in importlib.import_module(f"engine.cards.{slug}").CARDS
                if experiments(slug)[card.experiment].replays)
    assert len(plan) == len(replayed) + cards


def test_a_learners_run_equal_to_a_recorded_one_plays_back():
    runner = jobs.Runner(workers=1)
    runner.replays = True
    summary = prerecord.record_all(runner, ["regression"], cards=False)
    assert summary == {"planned": 1, "recorded": 1, "failed": 0, "done": True, "seconds": summary["seconds"]}
    experiment = experiments("regression")[None]
    built = experiment.config({})
    module = importlib.import_module("engine.cards.regression")
    learner = runner.submit(jobs.Job(lambda: module.steps(built, 0), owner="learner", kind=experiment.key,
                                     replay_key=replay_key(experiment.key, *built)))
    assert learner.replayed is not None                          # played from the recording, not queued
    assert runner.wait(learner, timeout=WAIT) and learner.state == jobs.FINISHED
    assert learner.last.metrics == module.run(built, 0).metrics


def test_a_waiting_learner_goes_first_and_the_recording_then_finishes():
    """A learner's run submitted while a recording trains gets the one worker at once (the recording
    pauses at its next report), and the recording resumes and is kept once the learner's run ends."""
    runner = jobs.Runner(workers=1)
    runner.replays = True
    experiment = experiments("regression")[None]
    module = importlib.import_module("engine.cards.regression")
    long = {"steps": 5000}
    recording = threading.Thread(target=prerecord._record_one, args=(runner, "regression", experiment, long))
    recording.start()
    wait_until(lambda: any(job.owner == prerecord.OWNER and job.state == jobs.RUNNING
                           for job in runner.jobs()), WAIT)
    short = experiment.config({"steps": 50})
    learner = runner.submit(jobs.Job(lambda: module.steps(short, 0), owner="learner",
                                     replay_key=replay_key(experiment.key, *short)))
    assert runner.wait(learner, timeout=WAIT) and learner.state == jobs.FINISHED
    mine = [job for job in runner.jobs() if job.owner == prerecord.OWNER]
    assert mine and mine[0].state != jobs.FINISHED          # it gave way: still to finish after the learner's
    recording.join(WAIT)
    assert runner.recorded.get(replay_key(experiment.key, *experiment.config(long))) is not None
