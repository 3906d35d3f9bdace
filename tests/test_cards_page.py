"""The cards on the pages (AppTest): a card's link opens it; predict, then "Run" ("Run both" for a
comparison) trains the card's runs inside the card, as jobs keyed like the page's runs of the same
settings, and the verdict quotes those runs' numbers, while the page's own experiment stays as it
was; a judged card stays judged; Stop ends a card's runs unjudged; "Open in the experiment" sets the
page up; the challenge says the defaults miss it, runs the page's experiment with the learner's
settings and, after a miss, names the settings to change (never their values); the home page counts
the learner's progress."""

import json
import threading

import pytest

from engine.cards import TRACE, numbers, watched
from engine.cards import regression as regression_cards
from engine.training import TrainingStep
from tests.conftest import WAIT, wait_until
from tests.test_claims import MODULES
from ui import card_runs, links, runner
from ui.card_runs import STORE
from ui.cards import challenge_hint
from ui.catalog import CONCEPTS
from ui.i18n import translate
from ui.records import replay_key
from ui.settings import experiment_of

PAGES = {concept.slug: concept.page_path for concept in CONCEPTS}
pytestmark = pytest.mark.claims


@pytest.fixture
def submitted(monkeypatch):
    """Every job submitted to the runner during the test, in order."""
    jobs = []
    submit = runner.Runner.submit

    def recording(self, job, paused_after_first=False):
        jobs.append(job)
        return submit(self, job, paused_after_first)

    monkeypatch.setattr(runner.Runner, "submit", recording)
    return jobs


def _open(app, slug: str, lang: str, query: dict):
    test = app(lang=lang)
    for name, value in query.items():
        test.query_params[name] = value
    return test.switch_page(PAGES[slug]).run()


def _ended(test):
    assert runner.wait_for_runs(timeout=WAIT), "a run did not end"
    return test.run()


def _shown(test) -> list[str]:
    return [m.value for m in test.markdown]


@pytest.mark.parametrize("slug", sorted(MODULES))
def test_a_card_runs_in_the_card_and_judges_from_its_runs_numbers(app, submitted, monkeypatch, slug):
    module, trained = MODULES[slug], []
    card = module.CARDS[0]

    def steps(built, seed=0):            # the module's own generator, noting what it was asked to train
        trained.append((built, seed))
        return original(built, seed)

    original = module.steps
    monkeypatch.setattr(module, "steps", steps)
    declared = experiment_of(slug, card.experiment)
    lang = "zh" if sorted(MODULES).index(slug) % 2 else "en"
    test = _open(app, slug, lang, {"card": card.id})
    assert translate("common.challenge_defaults", lang) in [c.value for c in test.caption]
    run = test.button(key=f"act_card_{slug}_{card.id}")
    assert run.label == translate("common.card_run_both" if len(card.runs) == 2 else "common.card_run", lang)
    assert run.proto.disabled, "a card runs only after a prediction"
    test.radio(key=f"card_{slug}_{card.id}_prediction").set_value(card.answer).run()
    test.button(key=f"act_card_{slug}_{card.id}").click().run()
    expected = [replay_key(declared.key, *declared.config(settings)) if declared.replays else None
                for settings in card.runs]
    assert [job.replay_key for job in submitted] == expected, "the card's runs are not keyed as the page's"
    assert all(job.kind == declared.key and job.owner for job in submitted)
    test = _ended(test)
    assert trained == [(declared.config(settings), 0) for settings in card.runs], "the card trained other runs"
    assert declared.key not in test.session_state, "the card started the page's own experiment"
    runs = test.session_state[STORE][f"{slug}.{card.id}"]
    bars = [bar.proto.text for bar in test.get("progress")]
    for index, job in enumerate(runs.jobs):
        ended = translate("common.card_run_finished", lang, total=job.last.total)
        name = translate("common.card_run_name", lang, n=index + 1)
        assert (f"{name} · {ended}" if len(card.runs) == 2 else ended) in bars, bars
    verdict = translate(f"{slug}.card_{card.id}_result", lang, **numbers(runs.measures))
    assert verdict in _shown(test), "the verdict with the runs' numbers is not in the card"
    outcome = card.judge(runs.measures)
    messages = [e.value for e in (test.success if outcome == card.answer else test.error)]
    assert any(translate(f"{slug}.card_{card.id}_answer_{outcome}", lang) in m for m in messages)
    assert all(job.last.extras.get("model") is None for job in runs.jobs), "a judged card keeps a model"
    traces = [job.last.extras[TRACE] for job in runs.jobs]       # every report's watched scalar, so far
    assert all(name and found for name, found in traces), f"a run reported nothing to chart: {traces}"
    kind = card_runs.quantity({name for name, _ in traces})          # named in words, not by the metric's key
    title = translate("common.card_chart_title", lang, name=translate(f"common.diverged_{kind}", lang))
    layouts = [json.loads(chart.proto.spec)["layout"] for chart in test.get("plotly_chart")]
    titles = [layout.get("title", {}).get("text", "") for layout in layouts]
    assert any(title in shown for shown in titles) == any(len(found) > 1 for _, found in traces), titles
    assert test.run().session_state[STORE][f"{slug}.{card.id}"].measures == runs.measures
    assert verdict in _shown(test), "the card forgot its verdict on a rerun"


def test_a_cards_chart_follows_the_loss_else_the_first_metric():
    assert watched(TrainingStep(1, 9, {"accuracy": 0.5, "train_loss": 2.0, "test_loss": 3.0})) == ("train_loss", 2.0)
    assert watched(TrainingStep(1, 9, {"fp32/accuracy": 0.5, "fp32/loss": 2.0})) == ("fp32/loss", 2.0)
    assert watched(TrainingStep(1, 9, {"multihead/digit": 0.8, "multihead/ink": 0.1})) == ("multihead/digit", 0.8)
    assert watched(TrainingStep(9, 9, {}, {"race": {}})) is None        # a race computed whole: nothing to follow
    assert card_runs.quantity({"train_loss"}) == "loss" and card_runs.quantity({"train_mse"}) == "error"
    assert card_runs.quantity({"multihead/digit"}) == "score"


def test_a_judged_card_stays_judged_opens_in_the_experiment_and_home_counts_progress(app):
    card = next(card for card in MODULES["regression"].CARDS if card.id == "scaling")
    test = _open(app, "regression", "en", {"card": card.id})
    test.radio(key="card_regression_scaling_prediction").set_value("diverge").run()
    test.button(key="act_card_regression_scaling").click().run()
    test = _ended(test)
    assert any("Your prediction was right" in m.value for m in test.success)
    test.radio(key="lang").set_value("zh").run()             # the language switch keeps the verdict
    assert any(translate("common.card_right", "zh", answer=translate("regression.card_scaling_answer_diverge", "zh"))
               == m.value for m in test.success)
    test.radio(key="lang").set_value("en").run()
    test.button(key="act_card_regression_scaling_open").click().run()
    assert test.select_slider(key="regression_learning_rate").value == 0.001
    assert test.selectbox(key="regression_function").value == "quadratic"
    assert test.query_params["card"] in (card.id, [card.id])
    assert "regression_train" not in test.session_state, "opening a card is not running the page"
    home = test.switch_page("pages/home.py").run()
    assert any("1 of 1 predictions right" in m.value for m in home.markdown), "the home page shows no progress"


def test_stop_ends_a_cards_runs_and_leaves_it_unjudged(app, monkeypatch):
    """The pair's first run waits after its first report until the test has pressed Stop; it then
    reports the step it was on (2 of 10) and stops there, and the second never starts."""
    release = threading.Event()

    def steps(built, seed=0):
        yield TrainingStep(1, 10, {"train_loss": 1.0})
        release.wait(WAIT)
        yield TrainingStep(2, 10, {"train_loss": 0.5})

    monkeypatch.setattr(regression_cards, "steps", steps)
    test = _open(app, "regression", "en", {"card": "overfit"})
    test.radio(key="card_regression_overfit_prediction").set_value("rise").run()
    test.button(key="act_card_regression_overfit").click().run()
    runs = test.session_state[STORE]["regression.overfit"]
    wait_until(lambda: runs.jobs[0].last is not None)
    test.run()
    assert test.radio(key="card_regression_overfit_prediction").proto.disabled, "the prediction changed mid-run"
    test.button(key="act_card_regression_overfit_stop").click().run()
    release.set()
    test = _ended(test)
    assert [job.state for job in runs.jobs] == [runner.STOPPED, runner.STOPPED]
    bars = [bar.proto.text for bar in test.get("progress")]
    assert "Run 1 · " + translate("common.card_run_stopped", "en", step=2, total=10) in bars, bars
    assert "Run 2 · " + translate("common.run_stopped_early", "en") in bars, bars
    assert not test.success and not test.error and runs.measures is None
    assert not test.button(key="act_card_regression_overfit").proto.disabled


@pytest.mark.parametrize("slug", sorted(MODULES))
def test_the_challenge_hint_names_the_settings_to_change_never_their_values(slug):
    challenge = MODULES[slug].CHALLENGE
    experiment = experiment_of(slug, challenge.experiment)
    defaults = experiment.defaults()
    changed = [name for name, value in challenge.solution.items() if not links.same(value, defaults[name])]
    assert changed, f"{slug}: the solution is the defaults"
    for lang in ("en", "zh"):
        hint = challenge_hint(experiment, challenge, lang)
        labels = [translate(experiment.label_key(name), lang) for name in changed]
        assert all(label in hint for label in labels), hint
        rest = hint
        for label in labels:
            rest = rest.replace(label, "")
        # with the labels taken out, only the sentence and its separators are left: no value
        assert rest == translate("common.challenge_hint", lang,
                                 settings=translate("common.list_separator", lang).join([""] * len(set(labels))))


def test_the_challenge_runs_with_my_settings_and_hints_after_a_miss(app):
    test = _open(app, "regression", "en", {})
    test.button(key="act_challenge_regression").click().run()
    record = test.session_state["regression_train"]
    assert record.settings["degree"] == 5, "the challenge ran other settings than the learner's"
    test = _ended(test)
    challenge = MODULES["regression"].CHALLENGE
    missed = [i.value for i in test.info if i.value.startswith("Not yet")]
    assert missed and missed[0].endswith(challenge_hint(experiment_of("regression"), challenge, "en")), missed
    assert missed[0].endswith("Try changing: Polynomial degree, Training steps."), missed


def test_the_challenge_says_when_its_experiment_is_not_on_the_page(app):
    test = _open(app, "lstm", "en", {})              # the forecast demo; the challenge is about the rows
    test.button(key="act_challenge_lstm").click().run()
    assert any(translate("common.challenge_not_shown", "en") in w.value for w in test.warning)
    assert "lstm_rows_train" not in test.session_state
