"""A page on a phone, in real Chromium, 390x844, three pages: a learner changes a setting with the
keyboard, runs the page from the page itself (no sidebar), and sees the chart, which fits the width
like everything else on the page; the page menu (behind the top-left button on a phone) closes after
choosing a page, so it never covers the next page's Run button. (The laptop's first screen, every
page in both languages, is part of the walk in tests/test_browser_pages.py.)
"""

from urllib.parse import urlencode

import pytest

from tests.browser import PHONE, RESULT, SCREENSHOTS, WAIT_MS, lab, outside, scroll_to, streamlit_server, wait_for_app
from tests.test_browser import browser, no_exception  # noqa: F401  (the fixture)
from tests.test_browser_pages import DEMOS

pytestmark = pytest.mark.browser
LINKS = {demo.slug: demo.link for demo in DEMOS}        # each page's short settings, through its link


@pytest.fixture(scope="module")
def server():
    with streamlit_server() as url:
        yield url


PHONE_PAGES = {   # page -> (experiment key, the slider changed with the keyboard)
    "regression": ("regression_train", "regression_noise"),
    "unet": ("unet_train", "unet_steps"),
    "autoencoder": ("autoencoder_train", "autoencoder_steps"),
}


def wider_than_screen(page) -> list[str]:
    """Elements of the main block that stick out of a phone's width (nothing may scroll sideways)."""
    return page.evaluate("""(width) => {
      const out = [];
      for (const el of document.querySelectorAll('[data-testid="stMain"] img, [data-testid="stMain"] .js-plotly-plot,'
                                                 + ' [data-testid="stMain"] [data-testid="stElementContainer"]')) {
        const box = el.getBoundingClientRect();
        if (box.width > 0 && (box.right > width + 1 || box.left < -1)) out.push(
          (el.className || el.tagName).toString().slice(0, 60) + ' '
          + Math.round(box.left) + '..' + Math.round(box.right));
      }
      return out.slice(0, 8);
    }""", PHONE["width"])


@pytest.mark.parametrize("slug", list(PHONE_PAGES))
def test_a_phone_changes_a_setting_runs_and_sees_the_chart(browser, server, slug):  # noqa: F811
    key, slider = PHONE_PAGES[slug]
    page = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    page.goto(f"{server}/{slug}?{urlencode(LINKS[slug])}")
    wait_for_app(page, runs=False)
    assert page.locator('[data-testid="stSidebar"] [data-testid="stWidgetLabel"]').count() == 0, \
        "a setting lives in the sidebar"
    thumb = page.locator(f".st-key-{slider} input[type=range]").first
    thumb.scroll_into_view_if_needed()
    before = thumb.input_value()
    thumb.focus()
    thumb.press("ArrowRight")
    page.wait_for_timeout(300)
    wait_for_app(page, runs=False)
    assert page.locator(f".st-key-{slider} input[type=range]").first.input_value() != before
    button = page.locator(f".st-key-act_{key} button").first
    scroll_to(page, button)
    button.click()
    wait_for_app(page, WAIT_MS)
    no_exception(page)
    _, run_column = lab(page, key)
    result = run_column.locator(RESULT).first
    scroll_to(page, result)
    page.wait_for_timeout(500)
    box = result.bounding_box()
    assert box is not None and box["height"] > 100
    # Across the phone's width (its height is the scroll's: a redraw above may move the page meanwhile).
    assert outside(page, result, "first result", {"width": PHONE["width"], "height": None}) == []
    assert wider_than_screen(page) == []
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"phone-test-{slug}.png")
    page.close()


def test_the_phone_page_menu_closes_and_leaves_the_run_button_free(browser, server):  # noqa: F811
    page = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    page.goto(f"{server}/regression")
    wait_for_app(page, runs=False)
    page.wait_for_function("() => window.ptlabMenuCloser === true")     # the page has loaded in full
    opener = '[data-testid="stExpandSidebarButton"], [data-testid="stSidebarCollapsedControl"] button'
    page.locator(opener).first.click()
    menu = page.locator('[data-testid="stSidebarNav"]')
    menu.wait_for()
    menu.get_by_text("UNet", exact=False).first.click()
    wait_for_app(page, runs=False)
    page.wait_for_function("""() => { const d = document.querySelector('[data-testid="stSidebar"]');
                                      return !d || d.getBoundingClientRect().right <= 1; }""", timeout=WAIT_MS)
    button = page.locator(".st-key-act_unet_train button").first
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    hit = page.evaluate("([x, y]) => { const el = document.elementFromPoint(x, y); return !!el && "
                        "!!el.closest('.st-key-act_unet_train'); }",
                        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
    assert hit, "something covers the Run button after choosing a page from the phone menu"
    page.close()
