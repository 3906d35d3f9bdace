"""Shared fixtures: clean Streamlit caches before every test, an AppTest factory, runs trained once
per test process (`trained_once`), and the one timeout every wait for a state uses (`WAIT`)."""

import functools
import os
import runpy
from pathlib import Path

import pytest
import streamlit as st
from streamlit.runtime.scriptrunner import script_runner
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
ENTRY = ROOT / "streamlit_app.py"
WAIT = 600                 # seconds: every wait for a state (a run ends, a page redraws, a server starts)
APP_TIMEOUT = WAIT         # per AppTest script run: allows for a cold `import torch` on a busy CI box


def pytest_configure(config):
    """Under pytest-xdist (the README's test command runs two workers on a 2-core box) each worker,
    and the servers it starts, trains with one thread: two processes never fight over a core."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ.setdefault("PTLAB_THREADS", "1")
    # Hosted-mode pages would start recording every default and card run in the background of this
    # process (ui.prerecord): tests/test_prerecord.py tests that; elsewhere it is off.
    os.environ.setdefault("PTLAB_PRERECORD", "0")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """With `--dist loadgroup`, tests go to the two workers a file at a time (a page at a time for
    page-parametrised files): tests that share a process share their trained runs (`trained_once`,
    the claims' cache), and a browser file's server serves all of that file's tests. Two browser
    files may run at once, one in each worker: every wait is for a state (no test measures speed),
    so a busier machine only makes them take longer."""
    for item in items:
        if item.get_closest_marker("claims"):
            item.add_marker(pytest.mark.slow)        # the quick tier (-m "not browser and not slow") skips them
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group(item.path.stem))
        else:            # a page's tests together (the claims of one page share their runs), pages apart
            slug = getattr(getattr(item, "callspec", None), "params", {}).get("slug")
            item.add_marker(pytest.mark.xdist_group(item.path.stem + (f"-{slug}" if slug else "")))


@pytest.fixture(scope="session", autouse=True)
def one_thread_policy_for_the_session():
    """Engines never set the thread count; like the server, the test session decides it once
    (`PTLAB_THREADS`, else every core: the runner's policy with one worker and no core reserved)."""
    import importlib
    import pkgutil

    import engine
    from engine.device import configure_threads

    configure_threads(1)
    # Every engine module (and what it imports) is loaded here, in the main thread: a first import
    # inside a run's worker thread can compile or parse source (torch.jit.script parses with ast) while
    # an AppTest parses a page, and Python 3.11's AST constructor is not thread-safe (CPython gh-106905).
    for info in pkgutil.iter_modules(engine.__path__):
        importlib.import_module(f"engine.{info.name}")
    yield


@pytest.fixture(autouse=True)
def clear_streamlit_caches():
    """st.cache_* entries survive between AppTest runs in one process; start each test clean."""
    st.cache_data.clear()
    st.cache_resource.clear()
    yield


@pytest.fixture(autouse=True)
def run_like_a_warm_server(monkeypatch):
    """AppTest resets Streamlit's "pages/ folder means v1 multipage app" flag before every run, so
    each run would take the path a real server takes only for its very first request (which
    ui/router.py handles, and the browser tests cover). Run the entry file directly instead, as
    a real server does from then on."""
    monkeypatch.setattr(script_runner, "_mpa_v1", lambda main_script_path: runpy.run_path(main_script_path))


@pytest.fixture(autouse=True)
def keep_the_thread_policy(monkeypatch):
    """The entry file sets PTLAB_RESERVE_CORES for a served app; inside pytest that would leak from
    the first AppTest into every later test, so each test starts from the same environment."""
    monkeypatch.setenv("PTLAB_RESERVE_CORES", "0")
    monkeypatch.setenv("PTLAB_PACE_SCALE", "0")       # short runs are not slowed down for watching here


@pytest.fixture
def app():
    """Factory: an AppTest of the real entry file, opened on `page` in `lang`."""

    def open_page(page: str | None = None, lang: str = "en") -> AppTest:
        test = AppTest.from_file(str(ENTRY), default_timeout=APP_TIMEOUT)
        if lang != "en":
            test.query_params["lang"] = lang
        test.run()
        if page:
            test.switch_page(page).run()
        return test

    return open_page


@pytest.fixture(autouse=True)
def no_run_outlives_its_test():
    """Runs are jobs of the server-wide runner; stop whatever a test left running or paused."""
    yield
    from ui import runner

    for job in runner.runner().jobs():
        runner.runner().stop(job)
    assert runner.wait_for_runs(timeout=WAIT), f"a run did not stop within {WAIT} s of its test"
    runner.runner().forget_recordings()      # a later test's run is never a replay of this one's


def train(app_test: AppTest, key: str, timeout: float = WAIT) -> AppTest:
    """Press the Run button of experiment `key` (`act_<key>`), wait for the run to end, redraw."""
    from ui import runner

    app_test.button(key=f"act_{key}").click().run()
    assert runner.wait_for_runs(timeout=timeout), f"{key}: the run did not end within {timeout} s"
    return app_test.run()


@pytest.fixture(autouse=True)
def every_translation_key_exists(monkeypatch):
    """Keys built at run time (`option_labels` prefixes, f-string keys) must exist: any key a test's
    pages asked for and the locale files lack fails that test (the page would show the raw key)."""
    from ui import i18n

    missing: list[str] = []
    original = i18n.translate

    def checked(key: str, language: str, **params: object) -> str:
        if key not in i18n.catalog():
            missing.append(key)
        return original(key, language, **params)

    monkeypatch.setattr(i18n, "translate", checked)
    yield
    assert not missing, f"missing translation keys: {sorted(set(missing))}"


def wait_until(condition, timeout: float = WAIT) -> None:
    """Poll `condition` (a run's state, read from its record) until true; fail after `timeout` s."""
    import time

    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out waiting for the run"
        time.sleep(0.02)


@pytest.fixture
def picked_device(monkeypatch) -> list:
    """`engine.device.pick_device` replaced by a spy that answers the CPU; the list records each call,
    so a test can check that a run asked for its device instead of assuming one."""
    import torch

    from engine import device

    calls: list = []

    def spy() -> torch.device:
        calls.append(True)
        return torch.device("cpu")

    monkeypatch.setattr(device, "pick_device", spy)
    return calls


# ------------------------------------------------------------------ train once, look many times

_TRAINED: dict = {}      # replay key (experiment, config, data) -> the run's reports, the last with its model
_KEPT_REPORTS = 12       # reports kept of a run (the first, the last and evenly between): pages draw the latest


def _trained_once(key, start):
    """The run `start()` makes, trained once per test process: a run whose experiment, settings and
    data equal one that already finished here gives that run's reports at once (runs are
    deterministic with the session's one thread), the last with a model of its own."""
    from ui import audit
    from ui.jobs import own_copy, without_model

    if key in _TRAINED:
        *reports, last = _TRAINED[key]
        yield from reports
        yield own_copy(last, audit.shared_objects())
        return
    reports = []
    steps = start()
    try:
        for step in steps:
            reports.append(without_model(step))
            yield step
            last = step
    finally:
        steps.close()                         # a stopped run's engine cleans up at once, as the runner expects
    if reports:
        every = max(1, len(reports) // _KEPT_REPORTS)
        _TRAINED[key] = [*reports[:-1][::every], own_copy(last, audit.shared_objects())]


class _RunnerTrainingOnce:
    """`ui.runner` as `ui.experiment` sees it, except that jobs with a replay key train once per process."""

    def __init__(self, module) -> None:
        self._module = module

    def __getattr__(self, name: str):
        return getattr(self._module, name)

    def Job(self, start, **fields):  # stands in for the class
        key = fields.get("replay_key")
        if key is not None and not isinstance(start, functools.partial):
            start = functools.partial(_trained_once, key, start)
        return self._module.Job(start, **fields)


@pytest.fixture(autouse=True)
def trained_once(request, monkeypatch):
    """Most page tests need a page's trained model, not the training: a run equal to one already
    finished in this test process (an earlier test, the other language) ends at once with that run's
    reports. A test marked `live_runs` (the run controls, the queue) always trains."""
    if request.node.get_closest_marker("live_runs"):
        return
    from ui import controls, runner

    monkeypatch.setattr(controls, "jobs", _RunnerTrainingOnce(runner))
