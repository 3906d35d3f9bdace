"""Keyboard only (issue 31, WCAG 2.1.1 and 2.4.7): on three pages, with Tab, Shift+Tab, Enter, Space
and the arrow keys alone, a learner changes a setting, runs the page's experiment, pauses and stops
it, opens the chart's text alternative and reads it, and answers a card and runs it to its verdict.
Every control reached shows a visible focus ring."""

from urllib.parse import urlencode

import pytest

from tests.browser import WAIT_MS, wait_for_app
from tests.test_browser import browser, no_exception  # noqa: F401  (the fixture)
from tests.test_browser_pages import server  # noqa: F401  (the fixture)
from ui.i18n import translate

pytestmark = pytest.mark.browser

TABS = 250          # the most Tab presses from anywhere on a page to any control of it
# page, its main experiment, a setting (a slider or a radio group), the language
PAGES = [("multitask", "multitask_train", "multitask_steps", "en"),
         ("adversarial", "adversarial_train", "adversarial_steps", "zh"),
         ("half_precision", "half_precision_train", "half_precision_factor", "en")]
FOCUSED = """(selector) => {
  const e = document.activeElement;
  if (!e || !e.closest(selector)) return null;
  const style = getComputedStyle(e);
  const ring = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
  return {ring, label: (e.getAttribute('aria-label') || e.innerText || e.value || '').slice(0, 40)};
}"""


def tab_to(page, selector: str) -> None:
    """Press Tab until the focused element is inside `selector`; it must show a focus ring."""
    for _ in range(TABS):
        found = page.evaluate(FOCUSED, selector)
        if found is not None:
            assert found["ring"], f"no visible focus on {selector} ({found['label']})"
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{TABS} Tab presses never reached {selector}")


def state(page, key: str, name: str) -> None:
    page.locator(f'[class*="st-key-runstate_{key}_{name}"]').first.wait_for(timeout=WAIT_MS)


@pytest.mark.parametrize(("slug", "key", "setting", "lang"), PAGES, ids=[p[0] for p in PAGES])
def test_a_page_works_from_the_keyboard_alone(browser, server, slug, key, setting, lang):  # noqa: F811
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{server}/{slug}?{urlencode({'lang': lang})}")
    wait_for_app(page)
    # a setting (a slider's thumb or a radio group), one step on with an arrow key
    control = f".st-key-{setting} input[type=range], .st-key-{setting} input[type=radio]:checked"
    before = page.locator(control).input_value()
    tab_to(page, control)
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(300)
    wait_for_app(page)
    assert page.locator(control).input_value() != before
    # run, pause, stop
    tab_to(page, f".st-key-act_{key} button")
    page.keyboard.press("Enter")
    state(page, key, "running")
    pause = f".st-key-act_{key}_pause button:not([disabled])"
    page.locator(pause).wait_for()
    tab_to(page, pause)
    page.keyboard.press("Enter")
    state(page, key, "paused")
    tab_to(page, f".st-key-act_{key}_stop button:not([disabled])")
    page.keyboard.press("Enter")
    state(page, key, "stopped")
    wait_for_app(page)
    # the result's summary: the first chart's text alternative, opened with Enter
    box = page.locator('[data-testid="stExpander"]', has_text=translate("common.chart_as_text", lang)).first
    box.locator("summary").evaluate("e => e.classList.add('ptlab-target')")
    tab_to(page, "summary.ptlab-target")
    page.keyboard.press("Enter")
    said = box.locator('[data-testid="stExpanderDetails"]')
    said.wait_for()
    assert any(ch.isdigit() for ch in said.inner_text()), "the chart's text alternative quotes no number"
    # a card: open it, choose an answer with the arrow keys, run it, read its verdict
    prediction = page.locator(f'[class*="st-key-card_{slug}_"][class*="_prediction"]').first
    card = prediction.evaluate("e => [...e.classList].find(c => c.startsWith('st-key-card_'))")
    card_id = card.removeprefix(f"st-key-card_{slug}_").removesuffix("_prediction")
    summary = prediction.locator("xpath=ancestor::*[@data-testid='stExpander'][1]//summary")
    summary.evaluate("e => e.classList.add('ptlab-card')")
    tab_to(page, "summary.ptlab-card")
    page.keyboard.press("Enter")
    tab_to(page, f".st-key-card_{slug}_{card_id}_prediction input[type=radio]")
    page.keyboard.press("ArrowDown")                              # the second answer
    page.wait_for_timeout(300)
    wait_for_app(page)
    tab_to(page, f".st-key-act_card_{slug}_{card_id} button:not([disabled])")
    page.keyboard.press("Enter")
    page.locator(f'[class*="st-key-runstate_card_{slug}_{card_id}_done"]').wait_for(timeout=WAIT_MS)
    wait_for_app(page)
    verdict = prediction.locator("xpath=ancestor::*[@data-testid='stExpanderDetails'][1]//*[@data-testid='stAlert']")
    verdict.first.wait_for(timeout=WAIT_MS)
    no_exception(page)
    page.close()
