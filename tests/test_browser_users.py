"""Many users on one server, in real Chromium: four sessions start training at once (two on the same
page) and the runner trains them in turn, each sees only its own settings and results, the objects
the server shares between users are never modified, and users who leave mid-run leave no work and
no worker process behind. The server's peak memory is printed."""

import json
import time

import pytest

from tests.browser import WAIT_MS, cpu_seconds, peak_memory_mb, streamlit_server, wait_for_app
from tests.test_browser import _worker_processes, browser, no_exception  # noqa: F401  (the fixture)

pytestmark = pytest.mark.browser


@pytest.fixture
def audited_server(tmp_path):
    log = tmp_path / "audit.jsonl"
    with streamlit_server(env={"PTLAB_AUDIT_FILE": str(log)}) as url:
        yield url, log


def open_session(browser, url: str):  # noqa: F811
    """A separate browser context: its own cookies and its own Streamlit session."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(url)
    wait_for_app(page)
    return page


def click(page, key: str) -> None:
    """Click without waiting: the next user starts while this one's run goes on."""
    page.locator(f".st-key-{key} button").first.click()


def last_step_drawn(page) -> float:
    """The largest x (training step) in the first chart's traces, read from Plotly's own data."""
    return page.evaluate("""() => Math.max(...document.querySelectorAll('.js-plotly-plot')[0].data
                                  .flatMap(trace => Array.from(trace.x || [])))""")


def setting(page, key: str) -> str:
    return page.locator(f".st-key-{key} input").first.get_attribute("value")


def test_four_users_at_once_then_two_who_leave_mid_run(browser, audited_server, capsys):  # noqa: F811
    server, audit_log = audited_server
    users = {
        "digits-150": open_session(browser, f"{server}/multitask?multitask_steps=150&multitask_baselines=0"),
        "digits-100-zh": open_session(browser, f"{server}/multitask?lang=zh&multitask_steps=100"
                                               "&multitask_baselines=0&multitask_width=64"),
        "style": open_session(browser, f"{server}/style_transfer?style_transfer_size=128&style_transfer_steps=5"),
        "autoencoder": open_session(browser, f"{server}/autoencoder?autoencoder_steps=100"),
    }
    buttons = {"digits-150": "act_multitask_train", "digits-100-zh": "act_multitask_train",
               "style": "act_style_transfer_run", "autoencoder": "act_autoencoder_train"}
    for name, page in users.items():                       # all four start within a second or two
        click(page, buttons[name])
    # The runner trains as many runs at once as it has workers (one on 2 cores); the others wait in
    # line, each page showing its place, and start by themselves.
    seen = {"running": 0, "queued": 0}
    for _ in range(100):
        for kind in seen:
            seen[kind] = max(seen[kind], sum(page.locator(f'[class*="st-key-runstate_"][class*="_{kind}"]').count()
                                             for page in users.values()))
        if seen["running"] >= 1 and seen["queued"] >= 1:
            break
        time.sleep(0.1)
    assert seen["running"] >= 1 and seen["queued"] >= 1, seen
    users["style"].locator(".st-key-act_style_transfer_download").wait_for()
    users["autoencoder"].locator(".st-key-act_autoencoder_upload").wait_for()      # shown once trained
    for name in ("digits-150", "digits-100-zh"):
        users[name].locator(".st-key-act_multitask_upload, .st-key-multitask_input").first.wait_for()
    for page in users.values():
        wait_for_app(page, WAIT_MS)
        no_exception(page)

    # each user sees their own run and their own settings, in their own language
    assert last_step_drawn(users["digits-150"]) == 150
    assert last_step_drawn(users["digits-100-zh"]) == 100
    assert setting(users["digits-150"], "multitask_steps") == "150"
    assert setting(users["digits-100-zh"], "multitask_steps") == "100"
    assert "multitask_width=64" in users["digits-100-zh"].url and "multitask_width" not in users["digits-150"].url
    assert users["digits-100-zh"].locator("h1").first.inner_text() == "61 · 多任务学习"
    assert users["digits-150"].locator("h1").first.inner_text() == "61 · Multi-task learning"
    assert last_step_drawn(users["autoencoder"]) == 100

    # the shared objects were fingerprinted after every run, and never changed
    verdicts = [json.loads(line) for line in audit_log.read_text().splitlines()]
    shared = set().union(*(verdict["objects"] for verdict in verdicts))
    assert {"dataset:subset", "vgg_features"} <= shared, shared
    assert all(verdict["changed"] == [] for verdict in verdicts), verdicts
    for page in users.values():
        page.context.close()

    # two more users start long runs (one of them real DDP workers) and close their tabs mid-run
    leaving = {"ddp": open_session(browser, f"{server}/distributed?distributed_steps=500"),
               "digits": open_session(browser, f"{server}/multitask?multitask_steps=1500")}
    click(leaving["ddp"], "act_distributed_train")
    for _ in range(240):
        if len(_worker_processes()) == 2:
            break
        time.sleep(0.25)
    assert len(_worker_processes()) == 2
    click(leaving["digits"], "act_multitask_train")                          # waits in line behind DDP
    leaving["digits"].locator('[class*="st-key-runstate_multitask_train_"]').first.wait_for()
    for page in leaving.values():
        page.context.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        before = cpu_seconds(server.pid)
        time.sleep(2)
        idle = cpu_seconds(server.pid) - before < 0.2                        # under 10 % of one core
        if idle and not _worker_processes():
            break
    assert _worker_processes() == []
    assert idle, "the server still works for users who left"

    peak = peak_memory_mb(server.pid)
    with capsys.disabled():
        print(f"\n[many users] server peak memory (VmHWM): {peak:.0f} MB")
    assert peak < 2700          # the Streamlit Community Cloud budget docs/hosting.md plans for
