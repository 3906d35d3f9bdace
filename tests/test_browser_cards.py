"""Experiment cards in real Chromium, on two pages (a two-run comparison in Chinese, a one-run card in
English): open the card's link, pick a prediction, press "Run both" / "Run", and the card's own
progress shows at once inside the 1400×900 view, without scrolling (the run happens where the
learner is looking, not up in the page's experiment, which stays untouched); then the verdict
appears in the card with the runs' own numbers and the answer they gave. Every page's first card
goes through the same steps in tests/test_cards_page.py (AppTest)."""

from urllib.parse import urlencode

import pytest

from tests.browser import WAIT_MS, streamlit_server, wait_for_app
from tests.test_browser import browser, no_exception  # noqa: F401  (the fixture)
from tests.test_claims import MODULES
from ui.i18n import translate
from ui.settings import experiment_of

pytestmark = [pytest.mark.browser, pytest.mark.claims]
# page -> language: regression's first card compares two runs, multitask's has one
PAGES = {"regression": "zh", "multitask": "en"}
VIEW = {"width": 1400, "height": 900}


@pytest.fixture(scope="module")
def server():
    with streamlit_server() as url:
        yield url


def inside_the_view(box: dict | None) -> bool:
    return box is not None and box["x"] >= 0 and box["y"] >= 0 and \
        box["x"] + box["width"] <= VIEW["width"] and box["y"] + box["height"] <= VIEW["height"]


@pytest.mark.parametrize(("slug", "lang"), PAGES.items())
def test_a_card_runs_in_view_and_judges_its_runs(browser, server, slug, lang):  # noqa: F811
    card = MODULES[slug].CARDS[0]
    pair = len(card.runs) == 2
    page = browser.new_page(viewport=VIEW)
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{server}/{slug}?{urlencode({'card': card.id, 'lang': lang})}")
    wait_for_app(page, WAIT_MS)
    prediction = page.locator(f".st-key-card_{slug}_{card.id}_prediction")
    prediction.wait_for()                                          # the card's link opened the card
    answer = translate(f"{slug}.card_{card.id}_answer_{card.answer}", lang)
    prediction.get_by_text(answer, exact=True).first.click()
    wait_for_app(page, WAIT_MS)
    # enabled once the prediction is in
    run = page.locator(f".st-key-act_card_{slug}_{card.id} button:not([disabled])").first
    assert translate("common.card_run_both" if pair else "common.card_run", lang) in run.inner_text()
    run.click()
    bars = page.locator(f'[class*="st-key-runstate_card_{slug}_{card.id}_"] [data-testid="stProgress"]')
    bars.first.wait_for()
    assert inside_the_view(bars.first.bounding_box()), "the card's progress is out of view after the click"
    wait_for_app(page, WAIT_MS)                                    # the card's runs have ended
    assert bars.count() == len(card.runs)
    verdict = page.locator('[data-testid="stExpanderDetails"] [data-testid="stAlert"]').filter(
        has_text=translate(f"{slug}.card_{card.id}_answer_{card.answer}", lang))
    verdict.first.wait_for(timeout=WAIT_MS)
    details = verdict.first.locator("xpath=ancestor::*[@data-testid='stExpanderDetails'][1]").inner_text()
    assert any(ch.isdigit() for ch in details.split(answer)[-1]), "the verdict quotes no number"
    key = experiment_of(slug, card.experiment).key
    assert page.locator(f'[class*="st-key-runstate_{key}_"]').count() == 0, "the card ran the page's experiment"
    assert f"card={card.id}" in page.url
    no_exception(page)
    page.close()
