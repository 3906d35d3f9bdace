"""Runs beside the script, in real Chromium against `streamlit run`: Pause, Step, Resume and Stop on
two pages; a second learner queued with their position shown; a closed tab freeing the worker; the
queue's order, wait estimates and a learner who cancels. (A run going on through a language switch
and a lab slider, and a stopped run's models in their labs, are checked on every page through
AppTest: tests/test_run_controls.py.)"""

import re
import time

import pytest

from tests.browser import RETRY_MS, WAIT_MS, streamlit_server, wait_for_app
from tests.test_browser import browser, no_exception, open_page, server  # noqa: F401 - fixtures
from ui.jobs import step_amount

pytestmark = pytest.mark.browser

# page slug, experiment key, a link that makes the run long enough to pause, stop and step in. Two
# pages in Chromium (a paced run, and a page whose run holds big images); every training page goes
# through the same controls in tests/test_run_controls.py (AppTest).
EXPERIMENTS = [
    ("regression", "regression_train", {"regression_model": "mlp", "regression_width": 128, "regression_layers": 4,
                                        "regression_points": 2000, "regression_steps": 5000}),
    ("autoencoder", "autoencoder_train", {"autoencoder_steps": 4000}),
]


def link(server_url: str, slug: str, settings: dict) -> str:
    query = "&".join(f"{key}={value}" for key, value in settings.items())
    return f"{server_url}/{slug}?{query}" if query else f"{server_url}/{slug}"


def state(page, key: str, wanted: str, timeout: float = WAIT_MS) -> None:
    page.locator(f".st-key-runstate_{key}_{wanted}").first.wait_for(timeout=timeout)


def click(page, key: str) -> None:
    page.locator(f".st-key-{key} button").first.click()


def reported_step(page, key: str) -> int:
    """The step the status line shows ("... step 37 of 1500")."""
    words = page.locator(f'[class*="st-key-runstate_{key}_"]').first.inner_text()
    return int(re.findall(r"(\d+)\D+\d+", words)[0])


def press(page, key: str, button: str, landed, tries: int = 3) -> None:
    """Click a run control and wait until `landed()` says it took effect. CI once waited 240 s for a
    Pause that never came on page 63 (a 45 s run here), and once a Step's click reached the server
    late, after a second one. A click can be dropped or late on a loaded box; a second click is what
    a learner would do, and every control is safe to press twice: Pause and Resume do what their
    label said when drawn (nothing once done), Step on a run going on pauses it after its next
    report, and Stop on a stopping run changes nothing."""
    for _ in range(tries):
        click(page, f"act_{key}{button}")
        try:
            page.wait_for_function(landed, timeout=RETRY_MS)
            return
        except Exception:          # noqa: BLE001 - playwright's TimeoutError: look again, then click again
            ended = page.locator(f'[class*="st-key-runstate_{key}_finished"]').count()
            assert not ended, f"the run ended before {button or 'Run'} took effect: make the test's run longer"
    page.wait_for_function(landed, timeout=WAIT_MS)


def in_state(key: str, wanted: str, after: int | None = None) -> str:
    """JavaScript: the run shows state `wanted` (and, with `after`, a step beyond it)."""
    if after is None:
        return f"() => !!document.querySelector('.st-key-runstate_{key}_{wanted}')"
    return f"""() => {{
        const s = document.querySelector('.st-key-runstate_{key}_{wanted}');
        const m = s && s.innerText.match(/(\\d+)\\D+\\d+/);
        return !!m && Number(m[1]) > {after};
    }}"""


def running_with_a_report(page, key: str) -> None:
    state(page, key, "running")
    page.locator(f".st-key-runstate_{key}_running [data-testid='stProgress']").first.wait_for(timeout=WAIT_MS)


@pytest.mark.parametrize(("slug", "key", "settings"), EXPERIMENTS, ids=[e[0] for e in EXPERIMENTS])
def test_pause_step_resume_stop_on_every_training_page(browser, server, slug, key, settings):  # noqa: F811
    page = open_page(browser, link(server, slug, settings))
    page.set_default_timeout(WAIT_MS)
    click(page, f"act_{key}")
    page.locator(f'[class*="st-key-runstate_{key}_"]').first.wait_for(timeout=WAIT_MS)   # the run's status
    running_with_a_report(page, key)
    press(page, key, "_pause", in_state(key, "paused"))
    paused_at = reported_step(page, key)
    words = page.locator(f'[class*="st-key-runstate_{key}_"]').first.inner_text()
    amount = step_amount(int(re.findall(r"\d+\D+(\d+)", words)[0]))        # "... step 37 of 1500"
    assert f"+{amount}" in page.locator(f".st-key-act_{key}_step button").first.inner_text()
    press(page, key, "_step", in_state(key, "paused", after=paused_at))
    stepped_to = reported_step(page, key)
    assert stepped_to >= paused_at + amount                    # exactly, unless a late click stepped twice
    press(page, key, "_pause", f"() => !document.querySelector('.st-key-runstate_{key}_paused')")  # Resume
    page.wait_for_timeout(1_500)
    press(page, key, "_stop", in_state(key, "stopped"))
    wait_for_app(page)
    no_exception(page)
    stopped_at = reported_step(page, key)
    assert paused_at < stepped_to <= stopped_at
    page.close()


def test_a_second_learner_waits_in_line_and_a_closed_tab_frees_the_worker(browser):  # noqa: F811
    with streamlit_server(env={"PTLAB_WORKERS": "1"}) as url:
        first = open_page(browser, link(url, "autoencoder", {"autoencoder_steps": 4000}))
        second = open_page(browser, link(url, "multitask", {"multitask_steps": 100}))
        for page in (first, second):
            page.set_default_timeout(WAIT_MS)
        click(first, "act_autoencoder_train")
        running_with_a_report(first, "autoencoder_train")
        click(second, "act_multitask_train")
        state(second, "multitask_train", "queued")
        assert "1" in second.locator(".st-key-runstate_multitask_train_queued").first.inner_text()
        first.close()                                                  # the first learner closes the tab
        state(second, "multitask_train", "finished")                   # their worker went to the second
        no_exception(second)
        second.close()


def queue_position(page, key: str) -> int:
    words = page.locator(f".st-key-runstate_{key}_queued").first.inner_text()
    return int(re.findall(r"\d+", words)[0])


def test_the_queue_keeps_its_order_shows_waits_and_lets_a_learner_cancel(browser):  # noqa: F811
    with streamlit_server(env={"PTLAB_WORKERS": "1"}) as url:
        long = open_page(browser, link(url, "autoencoder", {"autoencoder_steps": 4000}))
        second = open_page(browser, link(url, "multitask", {"multitask_steps": 100}))
        third = open_page(browser, link(url, "regression", {"regression_steps": 300}))
        fourth = open_page(browser, link(url, "autoencoder", {"autoencoder_steps": 1500}))   # seconds longer
        keys = {"second": "multitask_train", "third": "regression_train", "fourth": "autoencoder_train"}
        for page in (long, second, third, fourth):
            page.set_default_timeout(WAIT_MS)
        click(long, "act_autoencoder_train")
        running_with_a_report(long, "autoencoder_train")
        for page, name in ((second, "second"), (third, "third"), (fourth, "fourth")):
            click(page, f"act_{keys[name]}")
            state(page, keys[name], "queued")
        assert [queue_position(p, keys[n]) for p, n in ((second, "second"), (third, "third"),
                                                          (fourth, "fourth"))] == [1, 2, 3]
        # once the running job has done a share of its steps, the waiting learners see how long
        second.wait_for_function("""() => {
            const box = document.querySelector('.st-key-runstate_multitask_train_queued');
            return box && /about \\d+ (s|min)/.test(box.innerText);
        }""", timeout=WAIT_MS)
        click(third, "act_regression_train_stop")                    # the third learner gives up waiting
        state(third, "regression_train", "stopped")
        fourth.wait_for_function("""() => {
            const box = document.querySelector('.st-key-runstate_autoencoder_train_queued');
            return box && /number 2 /.test(box.innerText);
        }""", timeout=WAIT_MS)
        click(long, "act_autoencoder_train_stop")                    # the worker frees up: the oldest goes first
        state(long, "autoencoder_train", "stopped")
        finished_first = None
        for _ in range(2400):
            done = {name: page.locator(f".st-key-runstate_{keys[name]}_finished").count() > 0
                    for page, name in ((second, "second"), (fourth, "fourth"))}
            if done["second"] or done["fourth"]:
                finished_first = [name for name, over in done.items() if over]
                break
            time.sleep(0.1)
        assert finished_first == ["second"]
        state(fourth, "autoencoder_train", "finished")
        state(third, "regression_train", "stopped")                  # a cancelled run stays cancelled
        for page in (long, second, third, fourth):
            no_exception(page)
            page.close()
