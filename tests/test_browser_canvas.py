"""Draw your own digit (issue 18), in real Chromium: on each page that reads a digit, a short run from a
link, then "Draw it", mouse strokes on the canvas, and the page reads the drawing (prediction, attack
or reconstruction); then the canvas's alternative without dragging (issue 31, WCAG 2.5.7), from the
keyboard alone: a bundled test digit picked by class and number, read the same way. Screenshots of
the drawing area at desktop and phone sizes go to screenshots/."""

import re
from urllib.parse import urlencode

import pytest

from tests.browser import SCREENSHOTS, WAIT_MS, streamlit_server, wait_for_app
from tests.test_browser import browser, no_exception  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

# page slug, the link of a short run, the run's button, the digit's key prefix, the language
PAGES = [
    ("multitask", {"multitask_steps": "100", "multitask_baselines": "0", "multitask_input": "upload"},
     "act_multitask_train", "multitask_upload", "en"),
    ("adversarial", {"adversarial_steps": "50", "adversarial_input": "upload"}, "act_adversarial_train",
     "adversarial_upload", "zh"),
    ("autoencoder", {"autoencoder_steps": "50"}, "act_autoencoder_train", "autoencoder_upload", "en"),
]
# a '7' in canvas pixels (280x280): the top bar left to right, then the diagonal down to the left
SEVEN = [[(70, 60), (210, 60)], [(210, 60), (120, 240)]]


@pytest.fixture(scope="module")
def server():
    with streamlit_server() as url:
        yield url


def settle(page) -> None:
    page.wait_for_timeout(400)
    wait_for_app(page, WAIT_MS)
    no_exception(page)


def draw(page, canvas, strokes) -> None:
    """Mouse strokes in canvas pixels; each stroke ends with the button's release (the component
    sends the drawing back then)."""
    box = canvas.bounding_box()
    for stroke in strokes:
        (x, y), rest = stroke[0], stroke[1:]
        page.mouse.move(box["x"] + x, box["y"] + y)
        page.mouse.down()
        for x, y in rest:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=15)
        page.mouse.up()
        settle(page)


def shows_reading(page, slug: str, tables: int) -> str:
    """What each page shows for a digit it was given (none of it shows before one is given)."""
    if slug == "multitask":          # the prediction table (after the `tables` the page had before)
        table = page.locator('[data-testid="stDataFrame"]').nth(tables)
        table.wait_for(timeout=WAIT_MS)          # drawn on a canvas: its text is not in the page; the digit is
        return table.inner_text() + page.locator('[data-testid="stImage"] img').last.get_attribute("src")
    if slug == "adversarial":        # the standard model's reading, which the attack takes as the true class
        caption = page.locator('[data-testid="stCaptionContainer"]', has_text="普通模型自己的判断").first
    else:                            # the reconstruction's error against the test digits
        caption = page.locator('[data-testid="stMarkdownContainer"], [data-testid="stCaptionContainer"]',
                               has_text=re.compile(r"Reconstruction error \d")).first
    caption.wait_for(timeout=WAIT_MS)
    return caption.inner_text()


def screenshot_drawing_area(page, slug: str, key: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    for width, height in ((1400, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(600)
        page.locator(f".st-key-act_{key}_source").scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        page.screenshot(path=SCREENSHOTS / f"canvas-{slug}-{width}.png")


@pytest.mark.parametrize(("slug", "link", "button", "key", "lang"), PAGES, ids=[p[0] for p in PAGES])
def test_a_drawn_digit_is_read_like_an_upload(browser, server, slug, link, button, key, lang):  # noqa: F811
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{server}/{slug}?{urlencode({**link, 'lang': lang})}")
    wait_for_app(page, WAIT_MS)
    page.locator(f".st-key-{button} button").first.click()
    try:
        settle(page)                                 # the short run is over
    finally:
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"canvas-{slug}-after-run.png", full_page=True)
    choice = page.locator(f".st-key-act_{key}_source")
    choice.wait_for()
    choice.locator('[role="radiogroup"] label').nth(1).click()    # "Draw it"
    settle(page)
    area = page.locator(f".st-key-act_{key}_canvas")
    area.locator("canvas").first.wait_for()
    assert page.locator(f".st-key-act_{key} input[type=file]").count() == 0    # the canvas replaces the uploader
    tables = page.locator('[data-testid="stDataFrame"]').count()
    draw(page, area.locator("canvas").last, SEVEN)
    drawn = shows_reading(page, slug, tables)
    print(slug, "reads the drawing:", drawn)
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    no_exception(page)
    screenshot_drawing_area(page, slug, key)
    page.set_viewport_size({"width": 1400, "height": 900})
    pick_without_dragging(page, key)
    picked = shows_reading(page, slug, tables)
    print(slug, "reads test digit 3, example 5:", picked)
    assert picked != drawn and page.locator('[data-testid="stAlertContentError"]').count() == 0
    no_exception(page)
    page.close()


def pick_without_dragging(page, key: str) -> None:
    """WCAG 2.5.7's alternative to the canvas, from the keyboard alone: the source's radio moved on
    with an arrow key to "Pick a test digit", the class typed into its box, the example's number typed."""
    page.locator(f".st-key-act_{key}_source input[type=radio]:checked").focus()
    page.keyboard.press("ArrowRight")                            # "Draw it" -> "Pick a test digit"
    settle(page)
    assert page.locator(f".st-key-act_{key}_canvas canvas").count() == 0
    page.locator(f".st-key-act_{key}_pick_class input").focus()
    page.keyboard.type("3")
    page.keyboard.press("Enter")
    settle(page)
    page.locator(f".st-key-act_{key}_pick_number input").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("5")
    page.keyboard.press("Enter")
    settle(page)
