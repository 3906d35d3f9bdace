"""Experiment cards in real Chromium, on two pages (a one-run card in English, a two-run comparison in
Chinese): open the card's link, pick a prediction, "Set up and run" (each run of a comparison), and
the verdict appears with the run's own numbers and the answer the runs gave. Every page's first card
goes through the same steps in tests/test_cards_page.py (AppTest)."""

from urllib.parse import urlencode

import pytest

from tests.browser import WAIT_MS, streamlit_server, wait_for_app
from tests.test_browser import browser, no_exception  # noqa: F401  (the fixture)
from tests.test_claims import MODULES
from ui.i18n import translate
from ui.links import encode

pytestmark = [pytest.mark.browser, pytest.mark.claims]
# page -> language: multitask's first card has one run, regression's a comparison of two
PAGES = {"multitask": "en", "regression": "zh"}


@pytest.fixture(scope="module")
def server():
    with streamlit_server() as url:
        yield url


def card_link(server_url: str, slug: str, lang: str) -> str:
    card = MODULES[slug].CARDS[0]
    pairs = [("card", card.id), ("lang", lang)]
    pairs += [(key, part) for key, value in card.runs[0].items() for part in encode(value)]
    return f"{server_url}/{slug}?{urlencode(pairs)}"


@pytest.mark.parametrize(("slug", "lang"), PAGES.items())
def test_a_card_link_predict_run_and_the_verdict(browser, server, slug, lang):  # noqa: F811
    card = MODULES[slug].CARDS[0]
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(WAIT_MS)
    page.goto(card_link(server, slug, lang))
    wait_for_app(page, WAIT_MS)
    prediction = page.locator(f".st-key-card_{slug}_{card.id}_prediction")
    prediction.wait_for()                                          # the card's link opened the card
    answer = translate(f"{slug}.card_{card.id}_answer_{card.answer}", lang)
    prediction.get_by_text(answer, exact=True).first.click()
    wait_for_app(page, WAIT_MS)
    for index in range(len(card.runs)):
        suffix = f"_{index}" if len(card.runs) == 2 else ""
        # enabled once the prediction is in; a click re-finds the button if a redraw replaced it
        page.locator(f".st-key-act_card_{slug}_{card.id}{suffix} button:not([disabled])").first.click()
        if index == 0 and len(card.runs) == 2:          # the card keeps run 1's numbers before run 2 starts
            done = translate("common.card_one_of_two", lang, done=1, other=2)
            page.locator('[data-testid="stExpanderDetails"]').get_by_text(done).first.wait_for(timeout=WAIT_MS)
        page.wait_for_timeout(500)
        wait_for_app(page, WAIT_MS)
    verdict = page.locator('[data-testid="stExpanderDetails"] [data-testid="stAlert"]').filter(
        has_text=translate(f"{slug}.card_{card.id}_answer_{card.answer}", lang))
    verdict.first.wait_for(timeout=WAIT_MS)
    details = verdict.first.locator("xpath=ancestor::*[@data-testid='stExpanderDetails'][1]").inner_text()
    assert any(ch.isdigit() for ch in details.split(answer)[-1]), "the verdict quotes no number"
    assert f"card={card.id}" in page.url
    no_exception(page)
    page.close()
