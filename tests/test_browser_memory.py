"""A hosted server's memory policy in real Chromium: a learner who presses Train with the settings
another learner already ran gets a replay (the note says so, the numbers and the model's prediction
are the same, and it never queued); a learner away for longer than the idle time has their model
put away, and their next touch of a lab brings it back, trained again, with no error on the page."""

import re

import pytest

from tests.browser import WAIT_MS, streamlit_server, wait_for_app
from tests.test_browser import browser, no_exception  # noqa: F401 - the fixture

pytestmark = pytest.mark.browser


def learner(browser, url: str):  # noqa: F811
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.goto(url)
    wait_for_app(page)
    return page


def train_to_the_end(page) -> str:
    page.locator(".st-key-act_regression_train button").click()
    page.locator(".st-key-runstate_regression_train_finished").wait_for(timeout=WAIT_MS)
    prediction = page.get_by_text(re.compile(r"The trained model predicts"))
    prediction.wait_for(timeout=WAIT_MS)
    return prediction.inner_text()


def test_an_equal_run_is_replayed_and_a_model_put_away_comes_back_at_the_next_lab_touch(browser):  # noqa: F811
    env = {"PTLAB_HOSTED": "1", "PTLAB_PACE_SCALE": "1", "PTLAB_IDLE_MINUTES": "0.1"}   # away after 6 s
    with streamlit_server(env=env) as server:
        first = learner(browser, f"{server}/regression")
        said = train_to_the_end(first)
        assert not first.get_by_text(re.compile("deterministic")).count()          # the first one trained

        second = learner(browser, f"{server}/regression")
        assert train_to_the_end(second) == said                                     # same model, same answer
        second.get_by_text(re.compile(r"Runs here are deterministic")).wait_for()
        no_exception(second)

        first.wait_for_timeout(8_000)                 # the first learner is away for longer than the idle time
        second.reload()                               # someone else's run: the server puts the idle models away
        wait_for_app(second)
        first.locator(".st-key-regression_predict_x input").fill("7")
        first.locator(".st-key-regression_predict_x input").press("Enter")
        first.get_by_text(re.compile(r"Your model is back")).wait_for(timeout=WAIT_MS)
        first.get_by_text(re.compile(r"predicts .* at x = 7")).wait_for(timeout=WAIT_MS)
        no_exception(first)
        first.screenshot(path="screenshots/model-brought-back-en.png", full_page=True)
