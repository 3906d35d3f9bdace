"""Every page in real Chromium, in both languages, at 1400x900, with one run: opened from a link
that carries small settings, its first screen (the main settings and the Run button, without
scrolling) checked in one language and then the other; its demo run with its own button, where the
Run button, the run's status and its first chart stay in view while it runs and when it has ended
(and before it, step 0: a chart or picture of the data on the first screen);
an image uploaded through the real file input on the image pages; no exception box; its charts and
images drawn; then the first language again through the switch (the finished run survives it), with
every word on the Chinese page Chinese and a whole-page screenshot saved in each language.

On CI (`CI` set) a missing browser is a failure (see the `browser` fixture in test_browser.py).
"""

import re
from contextlib import suppress
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser import (
    LAPTOP,
    RESULT,
    RETRY_MS,
    SCREENSHOTS,
    WAIT_MS,
    after_the_run,
    english_words_in_chinese_page,
    first_screen_problems,
    lab,
    scroll_top,
    step_zero_problems,
    streamlit_server,
    switch_language,
    wait_for_app,
)
from tests.test_browser import browser, no_exception  # noqa: F401  (the fixture)
from ui.i18n import translate

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Demo:
    slug: str
    link: dict[str, str]                        # small settings, through the page's shareable link
    buttons: tuple[str, ...]                    # keys of the buttons that run the demo, pressed in order
    charts: int                                 # Plotly charts drawn afterwards, at least
    images: int = 0                             # st.image pictures drawn afterwards, at least
    upload: str | None = None                   # key of the image uploader, used after the buttons
    after_upload: tuple[str, ...] = field(default=())   # buttons to press after the upload
    done: str | None = None                     # key of an element that appears only when the demo is over
    first_screen: str | None = None             # the experiment on the first screen (None: drawn without a button)
    marked: str | None = None                   # a locale key whose text (any values) a chart shows after the run


DEMOS = [
    Demo("multitask", {"multitask_steps": "100", "multitask_baselines": "0", "multitask_input": "upload"},
         ("act_multitask_train",), charts=3, upload="act_multitask_upload", first_screen="multitask_train"),
    Demo("lstm", {"lstm_forecast_steps": "100"}, ("act_lstm_forecast_train",), charts=2,
         first_screen="lstm_forecast_train"),
    Demo("regression", {"regression_steps": "100"}, ("act_regression_train",), charts=2,
         first_screen="regression_train"),
    Demo("optimizers", {"optimizers_network_steps": "40"}, ("act_optimizers_network",), charts=3),
    Demo("adversarial", {"adversarial_steps": "50", "adversarial_input": "upload"}, ("act_adversarial_train",),
         charts=1, images=1, upload="act_adversarial_upload", first_screen="adversarial_train"),
    Demo("unet", {"unet_steps": "20"}, ("act_unet_train",), charts=1, images=2, upload="act_unet_shapes",
         first_screen="unet_train"),
    Demo("autoencoder", {"autoencoder_steps": "50"}, ("act_autoencoder_train",), charts=2, images=1,
         upload="act_autoencoder_upload", first_screen="autoencoder_train"),
    Demo("half_precision", {"half_precision_steps": "20"}, ("act_half_precision_train",), charts=4,
         first_screen="half_precision_train", marked="common.diverged"),    # pure fp16's NaN, on its chart
    Demo("distributed", {"distributed_steps": "10"}, ("act_distributed_train",), charts=2,
         first_screen="distributed_train"),
    Demo("style_transfer", {"style_transfer_size": "128", "style_transfer_steps": "5",
                            "style_transfer_content_source": "upload"}, (), charts=1, images=2,
         upload="act_style_transfer_content_upload", after_upload=("act_style_transfer_run",),
         done="act_style_transfer_download", first_screen="style_transfer_run"),
]


@pytest.fixture(scope="module")
def server():
    """One server for the whole walk, as a real deployment would be."""
    with streamlit_server() as url:
        yield url


def draw_picture(path) -> None:
    """The image the demos upload: a thick ring, a zero to the digit pages and a blob to the others."""
    image = Image.new("RGB", (240, 200), "white")
    ImageDraw.Draw(image).ellipse((60, 30, 180, 170), outline="black", width=18)
    image.save(path)


@pytest.fixture(scope="module")
def drawing(tmp_path_factory):
    path = tmp_path_factory.mktemp("uploads") / "drawn.png"
    draw_picture(path)
    return path


def press(page, key: str, timeout_ms: float = WAIT_MS) -> None:
    page.locator(f".st-key-{key} button").first.click()
    page.wait_for_timeout(300)
    wait_for_app(page, timeout_ms)
    no_exception(page)


def upload(page, key: str, picture, timeout_ms: float = WAIT_MS) -> None:
    """`picture` through the real file input of uploader `key`: taken, with no error on the page."""
    page.locator(f".st-key-{key} input[type=file]").set_input_files(str(picture))
    page.wait_for_timeout(300)
    wait_for_app(page, timeout_ms)
    no_exception(page)
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0, "the upload was refused"


def run_demo(page, demo: Demo, picture, timeout_ms: float = WAIT_MS) -> tuple[int, int]:
    """On an open page: press the demo's buttons, upload `picture` where it takes one, wait until
    the demo is over; returns the Plotly charts and st.image pictures drawn. Also used by
    benchmarks/app_memory_and_paint.py."""
    for key in demo.buttons:
        press(page, key, timeout_ms)
    if demo.upload:
        upload(page, demo.upload, picture, timeout_ms)
        for key in demo.after_upload:
            press(page, key, timeout_ms)
    if demo.done:
        page.locator(f".st-key-{demo.done}").wait_for()
    page.locator(".js-plotly-plot").nth(demo.charts - 1).wait_for()     # a slow rerun may start late: wait
    if demo.images:
        page.locator('[data-testid="stImage"] img').nth(demo.images - 1).wait_for()
    wait_for_app(page, timeout_ms)
    no_exception(page)
    return page.locator(".js-plotly-plot").count(), page.locator('[data-testid="stImage"] img').count()


def save_whole_page(page, name: str) -> None:
    """Streamlit scrolls inside its main block, so `full_page` alone shows one screen: make the
    window as tall as the content first (at most 12,000 px)."""
    height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": min(int(height) + 80, 12_000)})
    page.wait_for_timeout(500)                                   # let Plotly re-lay out at the new size
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / name, full_page=True)


def run_in_view(page, key: str, lang: str) -> list[str]:
    """Press experiment `key`'s Run button and watch: while it runs and when it has ended, the Run
    button, the run's status and its first chart or picture stay on the first screen."""
    page.locator(f".st-key-act_{key} button").first.click()
    _, run_column = lab(page, key)
    run_column.locator(RESULT).first.wait_for(timeout=WAIT_MS)
    status = page.locator(f'[class*="st-key-runstate_{key}_"]').first
    status.wait_for(timeout=WAIT_MS)
    # a chart whose Plotly code is still loading is a short grey placeholder (a busy box can take
    # seconds): measure the layout the learner then sees, with the chart drawn
    run_column.locator('[data-testid="stSkeleton"]').first.wait_for(state="detached", timeout=WAIT_MS)
    problems = [f"during ({lang}): {p}" for p in after_the_run(page, key, status, run_column)]
    wait_for_app(page, WAIT_MS)
    no_exception(page)
    page.wait_for_timeout(500)
    problems += [f"after ({lang}): {p}" for p in after_the_run(page, key, status, run_column)]
    if scroll_top(page) > 0:
        problems.append(f"the page scrolled by itself ({scroll_top(page):.0f} px)")
    return problems


def chinese_throughout(page) -> None:
    from engine.device import describe  # the device's own name is data (page 68 shows it)

    english = english_words_in_chinese_page(page, data=describe().name)   # every word a learner reads is Chinese
    assert not english, sorted(english)


def chart_text(key: str, lang: str) -> re.Pattern:
    """The text of locale entry `key` in `lang`, any value in each of its {fields}."""
    fields = re.findall(r"{(\w+)", translate(key, "en")) + re.findall(r"{(\w+)", translate(key, "zh"))
    marker = "\x00"
    filled = translate(key, lang, **dict.fromkeys(fields, marker))
    # SVG may space with nbsp, and a label wrapped onto two lines loses the space at the break
    parts = (re.escape(part).replace("\\ ", "\\s*") for part in filled.split(marker))
    return re.compile(".+?".join(parts))


def assert_marked(page, demo: Demo, lang: str) -> None:
    if demo.marked is not None:
        pattern = chart_text(demo.marked, lang)
        assert page.locator(".js-plotly-plot", has_text=pattern).count() >= 1, (demo.slug, lang, pattern.pattern)


@pytest.mark.parametrize("demo", DEMOS, ids=lambda demo: demo.slug)
def test_every_page_in_chromium_first_screen_demo_and_both_languages(browser, server, drawing, demo):  # noqa: F811
    """One run per page: the first screen in one language, then in the other (half the pages start
    in Chinese), where the demo runs; then back in the first language, the finished run still drawn."""
    key = demo.first_screen
    first, second = ("zh", "en") if DEMOS.index(demo) % 2 else ("en", "zh")
    page = browser.new_page(viewport=LAPTOP)
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{server}/{demo.slug}?{urlencode({**demo.link, **({'lang': 'zh'} if first == 'zh' else {})})}")
    wait_for_app(page)
    no_exception(page)
    for setting, value in demo.link.items():       # the link's settings were taken (upload modes show later)
        if not value.isalpha():
            assert f"{setting}={value}" in page.url, (setting, page.url)
    problems = [f"before ({first}): {p}" for p in first_screen_problems(page, key)]
    problems += [f"before ({first}): {p}" for p in step_zero_problems(page, key)]     # the data, before any run
    switch_language(page, second)
    problems += [f"before ({second}): {p}" for p in first_screen_problems(page, key)]

    rest = demo
    if key is not None:
        uploaded = f"act_{key}" in demo.after_upload        # page 70 runs on the uploaded photo
        if uploaded:
            upload(page, demo.upload, drawing)
        problems += run_in_view(page, key, second)
        rest = replace(demo, buttons=tuple(b for b in demo.buttons if b != f"act_{key}"),
                       upload=None if uploaded else demo.upload,
                       after_upload=tuple(b for b in demo.after_upload if b != f"act_{key}"))
    charts, pictures = run_demo(page, rest, drawing)
    assert charts >= demo.charts and pictures >= demo.images, (charts, pictures)
    assert_marked(page, demo, second)
    if second == "zh":
        chinese_throughout(page)
    save_whole_page(page, f"page-{demo.slug}-{second}.png")

    page.set_viewport_size(LAPTOP)
    switch_language(page, first)
    wait_for_app(page, WAIT_MS)
    no_exception(page)
    assert page.locator(".js-plotly-plot").count() >= demo.charts        # the finished demo is still drawn
    assert page.locator('[data-testid="stImage"] img').count() >= demo.images
    assert_marked(page, demo, first)
    if key is not None:
        _, run_column = lab(page, key)
        status = page.locator(f'[class*="st-key-runstate_{key}_"]').first
        problems += [f"after ({first}): {p}" for p in after_the_run(page, key, status, run_column)]
    if first == "zh":
        chinese_throughout(page)
    if problems:
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"layout-failed-{demo.slug}.png")
    save_whole_page(page, f"page-{demo.slug}-{first}.png")
    page.close()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lang", ["zh"])
def test_the_hostile_corpus_through_chromiums_file_input(browser, server, tmp_path, lang):  # noqa: F811
    """Every kind of broken or odd image, through the browser's own file input on page 70: one
    translated message for each refused file and none for each taken one, no exception box, and
    the setting the link carried stays."""
    from tests.test_hostile_pages import image_corpus

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{server}/style_transfer?lang={lang}&style_transfer_size=160&style_transfer_content_source=upload")
    wait_for_app(page)
    file_input = page.locator(".st-key-act_style_transfer_content_upload input[type=file]")
    errors = page.locator('[data-testid="stAlertContentError"]')
    outcomes = {}
    for name, (content, works) in image_corpus().items():
        path = tmp_path / name
        path.write_bytes(content)
        chip = page.locator('.st-key-act_style_transfer_content_upload [data-testid="stFileChipName"]',
                            has_text=name)
        for attempt in range(3):   # a file set while the uploader is being redrawn can be dropped: set it again
            file_input.set_input_files(str(path))
            try:
                chip.wait_for(timeout=WAIT_MS if attempt == 2 else RETRY_MS)   # this file is in the uploader now
                break
            except PlaywrightTimeout:
                if attempt == 2:
                    raise
                wait_for_app(page, WAIT_MS)
        page.wait_for_timeout(300)                           # let the upload's rerun begin, as `press` does
        wait_for_app(page, WAIT_MS)
        if not works:         # on a busy box the idle state can come before the rerun: wait for its message
            with suppress(PlaywrightTimeout):
                errors.first.wait_for(timeout=RETRY_MS)
            wait_for_app(page, WAIT_MS)
        no_exception(page)
        outcomes[name] = errors.count()
        if not works:                                        # the message is a sentence, not a raw key
            assert not errors.first.inner_text().startswith("errors."), name
        assert page.locator(".st-key-style_transfer_size input").first.get_attribute("value") == "160", name
        assert "style_transfer_size=160" in page.url, name
    expected = {name: 0 if works else 1 for name, (_, works) in image_corpus().items()}
    assert outcomes == expected
    page.close()
