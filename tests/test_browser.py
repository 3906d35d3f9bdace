"""Real Chromium against `streamlit run`: the home page paints, a shared page link works on a fresh
server, the regression demo trains, and the language switch holds across pages.

On CI (`CI` set) a missing browser is a failure; elsewhere these tests skip with the install hint.
"""

import os

import pytest
from playwright.sync_api import sync_playwright

from tests.browser import CHROMIUM_FLAGS, SCREENSHOTS, WAIT_MS, chromium_path, streamlit_server, wait_for_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    if executable is None:
        message = "Chromium not found: apt-get install -y chromium (see .ci/run)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)            # a developer machine without Chromium; CI installs it
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


@pytest.fixture
def server():
    """A fresh server per test: the first request each test makes is the server's first request."""
    with streamlit_server() as url:
        yield url


def open_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    wait_for_app(page)
    return page


def settle(page) -> None:
    """After an interaction: let the rerun start, then wait until it has finished."""
    page.wait_for_timeout(300)
    wait_for_app(page)


def no_exception(page) -> None:
    shown = page.locator('[data-testid="stException"]')
    assert shown.count() == 0, shown.first.inner_text()


def test_home_page_paints_and_links_to_regression(browser, server):
    page = open_page(browser, server)
    assert page.locator("h1").first.inner_text() == "PyTorch Concepts Lab"
    assert page.get_by_text("63 · Regression").count() >= 1
    page.get_by_text("This machine").wait_for()
    no_exception(page)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "home-en.png", full_page=True)
    page.locator('a[data-testid="stPageLink-NavLink"][href="regression"]').click()
    settle(page)
    assert "Regression" in page.locator("h1").first.inner_text()
    page.close()


def test_home_page_in_chinese_shows_no_english(browser, server):
    from engine.device import describe
    from tests.browser import english_words_in_chinese_page

    page = open_page(browser, f"{server}/?lang=zh")
    page.get_by_text("运行环境").wait_for()               # the device line, which arrives last
    assert not english_words_in_chinese_page(page, data=describe().name)
    page.screenshot(path=SCREENSHOTS / "home-zh.png", full_page=True)
    page.close()


def test_shared_chinese_link_to_a_page_on_a_fresh_server(browser, server):
    page = open_page(browser, f"{server}/regression?lang=zh")
    assert page.locator("h1").first.inner_text() == "63 · 回归"
    page.locator(".st-key-language_switch").get_by_text("简体中文").wait_for()    # the entry file's title bar
    page.locator('[data-testid="stHeader"]').get_by_text("基础").wait_for()      # sections in the top bar
    page.get_by_role("button", name="开始训练").click()
    settle(page)
    no_exception(page)
    page.locator('[data-testid="stMetric"]').nth(3).wait_for()  # the run beside the script reports when it can
    assert page.locator('[data-testid="stMetric"]').count() == 4
    page.locator(".js-plotly-plot").nth(1).wait_for()          # Plotly draws after the script (slow when busy)
    assert page.locator(".js-plotly-plot").count() == 2
    page.screenshot(path=SCREENSHOTS / "regression-zh.png", full_page=True)
    page.close()


def test_language_switch_holds_across_pages(browser, server):
    page = open_page(browser, f"{server}/regression")
    page.locator(".st-key-language_switch").get_by_text("简体中文").click()
    settle(page)
    assert page.locator("h1").first.inner_text() == "63 · 回归" and page.url.endswith("?lang=zh")
    page.get_by_test_id("stTopNavLink").filter(has_text="首页").click()
    settle(page)
    assert page.locator("h1").first.inner_text() == "PyTorch 概念实验室" and "lang=zh" in page.url
    page.close()


def test_style_transfer_with_a_real_upload(browser, server, tmp_path):
    from PIL import Image

    photo = tmp_path / "portrait.png"
    Image.new("RGB", (300, 200), (40, 120, 200)).save(photo)
    page = open_page(browser, f"{server}/style_transfer?lang=zh&style_transfer_size=128&style_transfer_steps=5")
    page.locator(".st-key-style_transfer_content_source").get_by_text("上传").first.click()   # content: upload
    settle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(photo))
    settle(page)
    page.get_by_role("button", name="开始风格化").click()
    page.get_by_text("下载结果（PNG）").wait_for(timeout=WAIT_MS)
    settle(page)
    no_exception(page)
    assert page.get_by_role("heading", name="结果", exact=True).count() == 1
    page.screenshot(path=SCREENSHOTS / "style-transfer-zh.png", full_page=True)
    page.close()


def _worker_processes() -> list[int]:
    """Pids of running DDP workers (`python -m engine.distributed_worker ...`), read from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    if b"engine.distributed_worker" in cmdline.read().split(b"\0"):
                        found.append(int(entry))
            except OSError:
                continue
    return found


def test_leaving_the_distributed_page_mid_run_stops_every_worker(browser, server):
    page = open_page(browser, f"{server}/distributed")
    page.get_by_role("button", name="Train", exact=True).click()
    for _ in range(240):                              # until both ranks are running (each imports torch)
        if len(_worker_processes()) == 2:
            break
        page.wait_for_timeout(250)
    assert len(_worker_processes()) == 2
    page.get_by_test_id("stTopNavLink").filter(has_text="Home").click()     # leave mid-run, by the top bar
    settle(page)
    for _ in range(80):
        if not _worker_processes():
            break
        page.wait_for_timeout(250)
    assert _worker_processes() == []
    no_exception(page)
    page.close()


def test_the_community_cloud_entry_serves_the_hosted_app(browser):
    """`streamlit run cloud/streamlit_app.py`, as Community Cloud starts it: the home page, a page
    link, and the hosted caps with their note."""
    from tests.browser import ROOT

    with streamlit_server(entry=ROOT / "cloud" / "streamlit_app.py") as url:
        page = open_page(browser, f"{url}/?lang=zh")
        assert page.locator("h1").first.inner_text() == "PyTorch 概念实验室"
        page.locator('a[data-testid="stPageLink-NavLink"][href="distributed"]').click()
        settle(page)
        assert page.locator("h1").first.inner_text() == "69 · 分布式训练"
        world = page.locator(".st-key-distributed_world input").first
        assert world.get_attribute("max") == "2"
        page.get_by_text("在线演示版").first.wait_for()
        no_exception(page)
        page.close()


def test_a_tampered_link_is_cleaned_and_back_forward_follow_the_address(browser, server):
    def value(page, key: str) -> str:
        return page.locator(f".st-key-{key} input").first.get_attribute("value")

    page = open_page(browser, f"{server}/regression?lang=zh&regression_noise=9&regression_points=333"
                              "&regression_optimizer=bogus&zzz=1")
    settle(page)
    no_exception(page)
    assert page.locator("h1").first.inner_text() == "63 · 回归"
    assert (value(page, "regression_noise"), value(page, "regression_points")) == ("3", "330")
    query = page.url.split("?", 1)[1].split("&")
    assert sorted(query) == ["lang=zh", "regression_noise=3", "regression_points=330", "zzz=1"]
    page.locator(".st-key-regression_noise input").first.focus()
    page.keyboard.press("ArrowLeft")                                   # the user moves a slider: 2.9
    settle(page)
    assert value(page, "regression_noise") == "2.9" and "regression_noise=2.9" in page.url
    page.go_back()
    settle(page)
    assert value(page, "regression_noise") == "3" and "regression_noise=3" in page.url
    page.go_forward()
    settle(page)
    assert value(page, "regression_noise") == "2.9"
    no_exception(page)
    page.close()
