"""The cards on the pages (AppTest): a card's link sets the page up; predict, "Set up and run", and
the verdict quotes the run's numbers; the page runs exactly the config the claims tests ran; a run at
other settings is not judged; the home page counts the learner's progress."""

import pytest

from engine.cards import numbers
from tests.conftest import WAIT, wait_until
from tests.test_claims import MODULES
from ui import runner
from ui.catalog import CONCEPTS
from ui.i18n import translate
from ui.settings import experiment_of

PAGES = {concept.slug: concept.page_path for concept in CONCEPTS}
pytestmark = pytest.mark.claims


def _finished(test, key: str):
    assert runner.wait_for_runs(timeout=WAIT), f"{key}: the run did not end"
    test.run()
    return test.session_state[key]


def _open(app, slug: str, lang: str, query: dict):
    test = app(lang=lang)
    for name, value in query.items():
        test.query_params[name] = value
    return test.switch_page(PAGES[slug]).run()


@pytest.mark.parametrize("slug", sorted(MODULES))
def test_a_card_sets_up_runs_and_judges_from_the_runs_numbers(app, slug):
    module = MODULES[slug]
    card = module.CARDS[0]
    declared = experiment_of(slug, card.experiment)
    experiment = declared.key
    lang = "zh" if sorted(MODULES).index(slug) % 2 else "en"
    test = _open(app, slug, lang, {"card": card.id})
    test.radio(key=f"card_{slug}_{card.id}_prediction").set_value(card.answer).run()
    measures = []
    for index, settings in enumerate(card.runs):
        suffix = f"_{index}" if len(card.runs) == 2 else ""
        test.button(key=f"act_card_{slug}_{card.id}{suffix}").click().run()
        record = _finished(test, experiment)
        assert record.complete
        assert (record.config, record.data_key) == declared.config(settings), "the page ran other settings"
        assert declared.complete(record.settings) == declared.complete(settings), "the page drew other values"
        measures.append(card.measure(record.step))
    verdict = translate(f"{slug}.card_{card.id}_result", lang, **numbers(measures))
    shown = [m.value for m in test.markdown]
    assert verdict in shown, "the verdict with the run's numbers is not on the page"
    outcome = card.judge(measures)
    messages = [e.value for e in (test.success if outcome == card.answer else test.error)]
    assert any(translate(f"{slug}.card_{card.id}_answer_{outcome}", lang) in m for m in messages)
    assert test.query_params["card"] in (card.id, [card.id])     # the address holds the card


def test_a_run_at_other_settings_is_not_judged_and_home_counts_progress(app):
    module = MODULES["regression"]
    card = next(card for card in module.CARDS if card.id == "scaling")
    test = _open(app, "regression", "en", {"card": card.id})
    test.radio(key="card_regression_scaling_prediction").set_value("diverge").run()
    test.button(key="act_card_regression_scaling").click().run()
    _finished(test, "regression_train")
    assert any("Your prediction was right" in m.value for m in test.success)
    test.select_slider(key="regression_learning_rate").set_value(0.0003).run()      # a setting the card fixes
    test.button(key="act_regression_train").click().run()
    wait_until(lambda: not test.session_state["regression_train"].active)
    test.run()
    assert any("Learning rate" in w.value for w in test.warning), [w.value for w in test.warning]
    home = test.switch_page("pages/home.py").run()
    assert any("1 of 1 predictions right" in m.value for m in home.markdown), "the home page shows no progress"
