"""Real-browser helpers: a `streamlit run` server on a free localhost port and Debian's Chromium via Playwright.

Waits the way Streamlit's own end-to-end tests do: the health endpoint answers, then the app root
reports a connected session whose script is not running.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import WAIT

ROOT = Path(__file__).resolve().parents[1]
WAIT_MS = WAIT * 1000     # every wait for a state in the browser (tests/conftest.py's WAIT)
RETRY_MS = 120_000        # a click that has not taken effect after this is pressed again (as a learner would)
SCREENSHOTS = ROOT / "screenshots"      # git-ignored
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IDLE_APP = ('[data-testid="stApp"][data-test-connection-state="CONNECTED"]'
            '[data-test-script-state="notRunning"]')


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerURL(str):
    """The server's base URL, which also knows the server's process id."""

    pid: int


def peak_memory_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM line")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def streamlit_server(env: dict[str, str] | None = None, timeout: float = WAIT,
                     entry: Path = ROOT / "streamlit_app.py") -> Iterator[ServerURL]:
    """Start `streamlit run <entry>` and yield its base URL (with `.pid`); the server is stopped after."""
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(entry),
               "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    # The server starts from the environment a deployment has: the unit tests' thread policy
    # (PTLAB_RESERVE_CORES=0, set for AppTest in conftest) must not leak into it, or training takes
    # both cores from the server and the browser on a 2-core box.
    inherited = {key: value for key, value in os.environ.items() if key != "PTLAB_RESERVE_CORES"}
    # A hosted server records every page's default and card runs after its first visit (ui.prerecord):
    # minutes of training the browser tests do not check (tests/test_prerecord.py does), so off unless asked.
    inherited.setdefault("PTLAB_PRERECORD", "0")
    process = subprocess.Popen(command, cwd=ROOT, env={**inherited, **(env or {})},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = ServerURL(f"http://127.0.0.1:{port}")
    url.pid = process.pid
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                    if reply.read() == b"ok":
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start:\n{process.stdout.read()}") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


ACTIVE_RUN = '[class*="st-key-runstate_"][class*="_queued"], [class*="st-key-runstate_"][class*="_running"]'


def wait_for_app(page, timeout_ms: float = WAIT_MS, runs: bool = True) -> None:
    """Block until the app is connected and its script has finished running and, with `runs`,
    until no experiment on the page is queued or training (runs are jobs beside the script)."""
    page.wait_for_selector(IDLE_APP, timeout=timeout_ms)
    if runs:
        page.wait_for_function(f"() => !document.querySelector('{ACTIVE_RUN}')", timeout=timeout_ms,
                               polling=250)
        page.wait_for_selector(IDLE_APP, timeout=timeout_ms)


# Streamlit's own chrome, which has no parameter for its words (listed in docs/using.md's known limits):
# the uploader's drop zone and button, the camera's button, Plotly's toolbar; and the language switch,
# which names each language in its own script.
CHROME = [".st-key-language_switch", '[data-testid="stFileUploaderDropzone"]',
          '[data-testid="stCameraInputButton"]',
          '[data-testid="stCameraInput"] button', ".modebar", '[data-testid="stFileChipName"]']
# Code and formulas are English on purpose (the code is the code that ran; formula names are maths).
CODE = ["pre", "code", ".katex", '[data-testid="stCode"]', ".st-key-source_code"]
VISIBLE_TEXT_JS = """([skip]) => {
  const roots = [document.querySelector('[data-testid="stMain"]'), document.querySelector('[data-testid="stSidebar"]')];
  const out = [];
  for (const root of roots.filter(Boolean)) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const parent = node.parentElement;
      if (!parent || parent.closest(skip)) continue;
      if (parent.closest('style, script, [aria-hidden="true"]')) continue;
      if (!parent.checkVisibility({visibilityProperty: true, opacityProperty: true})) continue;
      out.push(node.textContent);
    }
  }
  return out.join('\\n');
}"""


def visible_text(page) -> str:
    """The text a reader sees in the main block and the sidebar (SVG chart text included), without
    code, formulas and Streamlit's own chrome."""
    return page.evaluate(VISIBLE_TEXT_JS, [", ".join(CHROME + CODE)])


def english_words_in_chinese_page(page, data: str = "") -> set[str]:
    """Latin words (3+ letters) on a zh page that no Chinese text of ours uses: a term the Chinese
    texts use on purpose (Adam, MSE, PyTorch, ReLU, ...) is fine, an untranslated English word is not.
    `data`: names the page shows as data (a CPU model, a file name)."""
    import re

    from ui.i18n import catalog

    allowed = {word.lower() for entry in catalog().values() for word in re.findall(r"[A-Za-z]{3,}", entry["zh"])}
    allowed |= {word.lower() for word in re.findall(r"[A-Za-z]{3,}", data)}
    seen = {word for word in re.findall(r"[A-Za-z]{3,}", visible_text(page))}
    return {word for word in seen if word.lower() not in allowed}


# ------------------------------------------------------------------ a page at a glance (layout)
LAPTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
RESULT = '.js-plotly-plot, [data-testid="stImage"]'     # a run's chart or picture
LANGUAGES = {"en": "English", "zh": "简体中文"}


def outside(page, locator, name: str, size: dict) -> list[str]:
    """Why `locator` is not wholly inside the viewport `size` (empty when it is); a height of None
    checks the width only (where the page may still scroll under it)."""
    box = None
    for _ in range(10):              # a live redraw may be replacing the element this very moment
        box = locator.bounding_box()
        if box is not None:
            break
        page.wait_for_timeout(200)
    if box is None:
        return [f"{name}: not drawn"]
    problems = []
    if size["height"] is not None and (box["y"] < -1 or box["y"] + box["height"] > size["height"] + 1):
        problems.append(f"{name}: y {box['y']:.0f} to {box['y'] + box['height']:.0f} (screen {size['height']})")
    if box["x"] < -1 or box["x"] + box["width"] > size["width"] + 1:
        problems.append(f"{name}: x {box['x']:.0f} to {box['x'] + box['width']:.0f} (screen {size['width']})")
    return problems


def lab(page, key: str | None):
    """The experiment's two columns: (settings column, run column); key None: those of the page's
    first row of columns with a chart (in document order, before the rows nested in it and before a
    later experiment's step-0 charts)."""
    if key is None:
        chart = page.locator(".js-plotly-plot")
        columns = page.locator('[data-testid="stHorizontalBlock"]').filter(has=chart).first.locator(
            ':scope > [data-testid="stColumn"]')
        return columns.first, columns.filter(has=chart).first
    run_column = page.locator('[data-testid="stColumn"]').filter(has=page.locator(f".st-key-act_{key}")).first
    row = page.locator('[data-testid="stHorizontalBlock"]').filter(has=run_column).last
    return row.locator(':scope > [data-testid="stColumn"]').first, run_column


def first_screen_problems(page, key: str | None) -> list[str]:
    """At 1400x900 without scrolling: the first two settings of experiment `key` and its Run button
    (key None: the page's first chart, which its settings drive without a button)."""
    settings, run_column = lab(page, key)
    if key is None:
        problems = outside(page, run_column.locator(RESULT).first, "first chart", LAPTOP)
    else:
        problems = outside(page, page.locator(f".st-key-act_{key} button").first, "Run button", LAPTOP)
    labels = settings.locator('[data-testid="stWidgetLabel"] >> visible=true')   # a collapsed label is hidden
    for k in range(min(2, labels.count())):
        problems += outside(page, labels.nth(k), f"setting {k + 1}", LAPTOP)
    return problems


def step_zero_problems(page, key: str | None) -> list[str]:
    """Before any run, at 1400x900 without scrolling: a chart or picture of the data begins on the
    first screen (experiment `key`'s step 0, drawn by `experiment(preview=...)`; key None: the
    page's first chart, which its settings drive without a button)."""
    where = page.locator(f".st-key-preview_{key}") if key else lab(page, None)[1]
    picture = where.locator(RESULT).first
    picture.wait_for(timeout=WAIT_MS)
    box = picture.bounding_box()
    if box is None:
        return ["step 0: no chart or picture drawn"]
    if box["y"] > LAPTOP["height"] - 120:           # at least its top on the first screen
        return [f"step 0: the first chart or picture starts at y {box['y']:.0f}, below the first screen"]
    return []


def after_the_run(page, key: str, status, run_column) -> list[str]:
    """The first screen, plus the run's status line and its first chart or picture, all in view."""
    problems = first_screen_problems(page, key)
    problems += outside(page, status, "status", LAPTOP)
    return problems + outside(page, run_column.locator(RESULT).first, "first result", LAPTOP)


def scroll_to(page, locator, tries: int = 10) -> None:
    """Scroll `locator` into view, again if a live redraw replaced the element meanwhile."""
    from playwright.sync_api import Error as PlaywrightError

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


def switch_language(page, lang: str) -> None:
    page.locator(".st-key-language_switch").get_by_text(LANGUAGES[lang]).first.click()
    page.wait_for_timeout(300)
    wait_for_app(page, runs=False)
