"""A page at a glance, in real Chromium.

- Laptop, 1400x900, every page, both languages: without scrolling, the page's main settings and
  its Run button are on the first screen; after pressing Run, the Run button, the run's status
  (progress) and the first chart or picture of the run all lie inside the viewport, while the run
  goes on and when it has ended. One run per page: the language is switched on the trained page.
- Phone, 390x844, three pages: a learner changes a setting with the keyboard, runs the page from
  the page itself (no sidebar), and sees the chart, which fits the width like everything else on
  the page; the page menu (behind the top-left button on a phone) closes after choosing a page, so
  it never covers the next page's Run button.
"""

from urllib.parse import urlencode

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.browser import SCREENSHOTS, WAIT_MS, streamlit_server, wait_for_app
from tests.test_browser import browser, no_exception  # noqa: F401  (the fixture)

pytestmark = pytest.mark.browser
LAPTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
# page -> (the first-screen experiment's key, settings for a short run through the link). Page 64's
# first screen is its optimizer race, which redraws as its settings move (no Run button): its
# settings and its contour chart are checked without pressing anything.
FIRST_SCREEN = {
    "multitask": ("multitask_train", {"multitask_steps": "150"}),
    "lstm": ("lstm_forecast_train", {"lstm_forecast_steps": "200"}),
    "regression": ("regression_train", {}),
    "optimizers": (None, {}),
    "adversarial": ("adversarial_train", {"adversarial_steps": "100"}),
    "unet": ("unet_train", {"unet_steps": "40"}),
    "autoencoder": ("autoencoder_train", {"autoencoder_steps": "150"}),
    "half_precision": ("half_precision_train", {"half_precision_steps": "40"}),
    "distributed": ("distributed_train", {"distributed_steps": "20"}),
    "style_transfer": ("style_transfer_run", {"style_transfer_size": "128", "style_transfer_steps": "10"}),
}
RESULT = '.js-plotly-plot, [data-testid="stImage"]'


@pytest.fixture(scope="module")
def server():
    with streamlit_server() as url:
        yield url


def outside(page, locator, name: str, size: dict) -> list[str]:
    """Why `locator` is not wholly inside the viewport (empty when it is)."""
    box = None
    for _ in range(10):              # a live redraw may be replacing the element this very moment
        box = locator.bounding_box()
        if box is not None:
            break
        page.wait_for_timeout(200)
    if box is None:
        return [f"{name}: not drawn"]
    problems = []
    if box["y"] < -1 or box["y"] + box["height"] > size["height"] + 1:
        problems.append(f"{name}: y {box['y']:.0f} to {box['y'] + box['height']:.0f} (screen {size['height']})")
    if box["x"] < -1 or box["x"] + box["width"] > size["width"] + 1:
        problems.append(f"{name}: x {box['x']:.0f} to {box['x'] + box['width']:.0f} (screen {size['width']})")
    return problems


def lab(page, key: str | None):
    """The experiment's two columns: (settings column, run column); key None: the page's first ones."""
    anchor = page.locator(f".st-key-act_{key}" if key else '[data-testid="stHorizontalBlock"] .js-plotly-plot')
    run_column = page.locator('[data-testid="stColumn"]').filter(has=anchor).first
    row = page.locator('[data-testid="stHorizontalBlock"]').filter(has=run_column).last
    return row.locator(':scope > [data-testid="stColumn"]').first, run_column


def first_screen_problems(page, key: str | None) -> list[str]:
    settings, run_column = lab(page, key)
    if key is None:                  # nothing to press: the settings and the chart they drive
        problems = outside(page, run_column.locator(RESULT).first, "first chart", LAPTOP)
    else:
        problems = outside(page, page.locator(f".st-key-act_{key} button").first, "Run button", LAPTOP)
    labels = settings.locator('[data-testid="stWidgetLabel"] >> visible=true')   # a collapsed label is hidden
    for k in range(min(2, labels.count())):
        problems += outside(page, labels.nth(k), f"setting {k + 1}", LAPTOP)
    return problems


def scroll_to(page, locator, tries: int = 10) -> None:
    """Scroll `locator` into view, again if a live redraw replaced the element meanwhile."""
    for attempt in range(tries):
        try:
            locator.scroll_into_view_if_needed(timeout=5_000)
            return
        except PlaywrightError:
            if attempt == tries - 1:
                raise
            page.wait_for_timeout(300)


def scroll_top(page) -> float:
    return page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollTop")


LANGUAGES = {"en": "English", "zh": "简体中文"}


def switch_language(page, lang: str) -> None:
    page.locator(".st-key-language_switch").get_by_text(LANGUAGES[lang]).first.click()
    page.wait_for_timeout(300)
    wait_for_app(page, runs=False)


def after_the_run(page, key: str, status, run_column) -> list[str]:
    problems = first_screen_problems(page, key)
    problems += outside(page, status, "status", LAPTOP)
    return problems + outside(page, run_column.locator(RESULT).first, "first result", LAPTOP)


@pytest.mark.parametrize("slug", list(FIRST_SCREEN))
def test_settings_run_progress_and_first_chart_on_one_laptop_screen(browser, server, slug):  # noqa: F811
    """Both languages, one run: the first screen in one language, then in the other, where the run
    is pressed and watched; after it, back in the first language (the run survives the switch)."""
    key, link = FIRST_SCREEN[slug]
    first, second = ("zh", "en") if list(FIRST_SCREEN).index(slug) % 2 else ("en", "zh")
    page = browser.new_page(viewport=LAPTOP)
    query = urlencode({**link, **({"lang": "zh"} if first == "zh" else {})})
    page.goto(f"{server}/{slug}" + (f"?{query}" if query else ""))
    wait_for_app(page, runs=False)
    problems = [f"before ({first}): {p}" for p in first_screen_problems(page, key)]
    switch_language(page, second)
    problems += [f"before ({second}): {p}" for p in first_screen_problems(page, key)]
    if key is None:
        page.close()
        assert not problems, "\n".join(problems)
        return
    page.locator(f".st-key-act_{key} button").first.click()
    _, run_column = lab(page, key)
    run_column.locator(RESULT).first.wait_for(timeout=WAIT_MS)
    status = page.locator(f'[class*="st-key-runstate_{key}_"]').first
    status.wait_for(timeout=WAIT_MS)
    # a chart whose Plotly code is still loading is a short grey placeholder (a busy box can take
    # seconds): measure the layout the learner then sees, with the chart drawn
    run_column.locator('[data-testid="stSkeleton"]').first.wait_for(state="detached", timeout=WAIT_MS)
    during = [f"during ({second}): {p}" for p in after_the_run(page, key, status, run_column)]
    if during:
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"layout-failed-{slug}-{second}-during.png")
    wait_for_app(page, WAIT_MS)
    no_exception(page)
    page.wait_for_timeout(500)
    problems += during + [f"after ({second}): {p}" for p in after_the_run(page, key, status, run_column)]
    if scroll_top(page) > 0:
        problems.append(f"the page scrolled by itself ({scroll_top(page):.0f} px)")
    switch_language(page, first)
    wait_for_app(page, WAIT_MS)
    _, run_column = lab(page, key)
    problems += [f"after ({first}): {p}" for p in after_the_run(page, key, status, run_column)]
    if problems:
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"layout-failed-{slug}.png")
    page.close()
    assert not problems, "\n".join(problems)


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
    page.goto(f"{server}/{slug}?{urlencode(FIRST_SCREEN[slug][1])}")
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
    assert outside(page, result, "first result", {"width": PHONE["width"], "height": 10**6}) == []
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
