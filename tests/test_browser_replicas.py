"""A class served by two replicas behind HAProxy (`deploy/replicas.sh 2 PORT`), in real Chromium: a
class of six learners comes through the proxy, each with its own step count in the link; the proxy spreads
them over both replicas (its cookie names each learner's replica, and that replica's own session
count agrees), every run completes, and after a rerun in the same session (the language switch)
each learner still sees their own setting and their own results. Nothing is left running after."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser import ROOT, WAIT_MS, free_port, peak_memory_mb, wait_for_app
from tests.test_browser import browser, no_exception  # noqa: F401  (the fixture)

pytestmark = pytest.mark.browser
REPLICAS = 2
STEPS = [40 + 10 * learner for learner in range(6)]       # each learner's own setting (the slider moves by 10)
COOKIE = "ptlab_replica"                                  # deploy/haproxy.cfg


@dataclass
class Proxy:
    url: str
    replica_ports: dict[str, int]                  # the proxy's name for each replica (its cookie value) -> port
    script: subprocess.Popen
    processes: list[int] = field(default_factory=list)    # the replicas and HAProxy, started by the script


def _children(pid: int) -> list[int]:
    """Every process below `pid`, read from /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    found, frontier = [], [pid]
    while frontier:
        below = [child for child, parent in parents.items() if parent in frontier]
        found += below
        frontier = below
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _is_replica(pid: int) -> bool:
    with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
        return b"streamlit" in cmdline.read().split(b"\0")


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _free_ports(count: int) -> int:
    """A port such that it and the `count` - 1 after it are free (the script uses PORT ... PORT+N)."""
    for _ in range(50):
        first = free_port()
        if not any(_listening(first + offset) for offset in range(count)):
            return first
    raise RuntimeError("no run of free ports")


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return reply.read().decode()


@contextmanager
def replicas_behind_proxy(count: int, log: Path) -> Iterator[Proxy]:
    """Run `deploy/replicas.sh count PORT` (its output to `log`, which no pipe can block) until the
    proxy answers; stop it after with SIGTERM, as a service manager would."""
    if shutil.which("haproxy") is None:
        message = "HAProxy not found: apt-get install -y haproxy (see .ci/run)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)          # a developer machine without HAProxy; CI installs it
    port = _free_ports(count + 1)
    # The deployment's environment, not the unit tests' thread policy (see tests/browser.py).
    env = {key: value for key, value in os.environ.items() if key != "PTLAB_RESERVE_CORES"}
    with open(log, "w") as output:
        script = subprocess.Popen(["bash", "deploy/replicas.sh", str(count), str(port)], cwd=ROOT,
                                  env={**env, "PYTHON": sys.executable}, stdout=output, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    proxy = Proxy(f"http://127.0.0.1:{port}", {f"r{i}": port + i for i in range(1, count + 1)}, script)
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                if _get(f"{proxy.url}/_stcore/health") == "ok":
                    break
            except OSError:
                if script.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"deploy/replicas.sh did not serve:\n{log.read_text()}") from None
                time.sleep(0.5)
        proxy.processes = _children(script.pid)
        yield proxy
    finally:
        script.send_signal(signal.SIGTERM)
        try:
            script.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(script.pid, signal.SIGKILL)        # its own process group (start_new_session)
            script.wait()


def sessions_on(port: int) -> dict[str, float]:
    """A replica's own count of sessions: Streamlit's metrics endpoint, asked directly (not through
    the proxy). `active`: sessions with a live websocket; `connects`: sessions ever started."""
    metrics = _get(f"http://127.0.0.1:{port}/_stcore/metrics?families=active_sessions&families=session_events")
    active = re.search(r"^active_sessions(?:\{[^}]*\})? (\S+)$", metrics, re.M)
    connects = re.search(r'^session_events(?:_total)?\{type="connect"\} (\S+)$', metrics, re.M)
    assert active and connects, metrics
    return {"active": float(active.group(1)), "connects": float(connects.group(1))}


# The largest step on the loss chart (the page's second chart), read from Plotly's own data.
LAST_STEP_DRAWN = """() => { const chart = document.querySelectorAll('.js-plotly-plot')[1];
    return chart?.data ? Math.max(...chart.data.flatMap(trace => Array.from(trace.x || []))) : null; }"""


def check_own_run(page, steps: int, finished: str, chart: bool = False) -> None:
    """The session shows its own step count in the slider and its own finished run in the status
    line (`finished`: the words with the step count) and, with `chart`, on the loss chart."""
    status = page.locator(".st-key-runstate_regression_train_finished")
    status.wait_for()
    wait_for_app(page, WAIT_MS)
    no_exception(page)
    assert page.locator(".st-key-regression_steps input").first.get_attribute("value") == str(steps)
    assert finished in status.inner_text()
    if chart:
        with suppress(PlaywrightTimeout):   # Plotly's code loads and draws after the script (slow on a busy box)
            page.wait_for_function(f"(steps) => ({LAST_STEP_DRAWN})() === steps", arg=steps, timeout=WAIT_MS)
        assert page.evaluate(LAST_STEP_DRAWN) == steps


def test_six_learners_over_two_replicas_keep_their_own_sessions(browser, capsys, tmp_path):  # noqa: F811
    laps, clock = {}, [time.monotonic()]

    def lap(name: str) -> None:
        laps[name], clock[0] = time.monotonic() - clock[0], time.monotonic()

    with replicas_behind_proxy(REPLICAS, tmp_path / "replicas.log") as proxy:
        lap("start")
        learners = []
        for steps in STEPS:             # one browser context each: its own cookies, its own session
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            page.goto(f"{proxy.url}/regression?regression_steps={steps}")
            learners.append((page, steps))
        for page, _ in learners:
            wait_for_app(page, WAIT_MS)
            no_exception(page)
        lap(f"open {len(STEPS)} pages")

        # The proxy's cookie names each learner's replica; each replica's own session count agrees,
        # so every learner's websocket reached the replica the cookie names.
        replica_of = [{c["name"]: c["value"] for c in page.context.cookies()}.get(COOKIE) for page, _ in learners]
        spread = Counter(replica_of)
        assert set(spread) == set(proxy.replica_ports), replica_of
        assert min(spread.values()) >= len(STEPS) // 3, spread          # round robin: 3 and 3
        counted = {name: sessions_on(port) for name, port in proxy.replica_ports.items()}
        assert {name: count["active"] for name, count in counted.items()} == dict(spread), counted

        for page, _ in learners:        # everyone presses Train within a few seconds
            page.locator(".st-key-act_regression_train button").first.click()
        for page, steps in learners:
            check_own_run(page, steps, f"all {steps} steps")
        lap("runs")

        # A rerun in the same session: the language switch redraws the page from the session's state.
        for page, _ in learners:
            page.locator(".st-key-language_switch").get_by_text("简体中文").click()
        for page, steps in learners:
            page.wait_for_function("() => document.querySelector('h1')?.innerText === '63 · 回归'")
            check_own_run(page, steps, f"全部 {steps} 步", chart=True)
        lap("rerun and charts")
        after = {name: sessions_on(port) for name, port in proxy.replica_ports.items()}
        assert after == counted, (counted, after)          # no learner got a new session or moved
        peaks = [f"{peak_memory_mb(pid):.0f}" for pid in proxy.processes if _is_replica(pid)]
        for page, _ in learners:
            page.context.close()
        processes, ports = proxy.processes, [int(proxy.url.rsplit(":", 1)[1]), *proxy.replica_ports.values()]

    lap("stop")
    assert proxy.script.returncode is not None
    assert len(processes) == REPLICAS + 1, processes              # the replicas and HAProxy
    assert [pid for pid in processes if _alive(pid)] == [], "processes left running"
    assert [port for port in ports if _listening(port)] == [], "ports still served"
    with capsys.disabled():
        print(f"\n[replicas] sessions per replica: {dict(sorted(spread.items()))}; "
              f"replicas' peak memory {' and '.join(peaks)} MB; "
              + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in laps.items()))
