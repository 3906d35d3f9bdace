"""The hosted demo end to end in Chromium: the server's peak memory over a visit to every page with
each default demo run (target: under 1.5 GB), and the home page's time to first paint against a
minimal Streamlit app served and measured in the same run (target: within 1.5x).

    python benchmarks/app_memory_and_paint.py [--repeats 7] [--local]

The app runs as hosted (PTLAB_HOSTED=1) unless --local. Exits 1 if the memory target is missed;
the paint ratio is only reported (timings on a shared machine are noisy).
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import sync_playwright

from tests.browser import CHROMIUM_FLAGS, chromium_path, peak_memory_mb, streamlit_server, wait_for_app
from tests.test_browser_pages import DEMOS, draw_picture, run_demo

MINIMAL_APP = 'import streamlit as st\n\nst.title("PyTorch Concepts Lab")\nst.write("A minimal app.")\n'
MEMORY_TARGET_MB = 1500
DEMO_TIMEOUT_MS = 600_000


def first_paint(browser, url: str) -> tuple[float, float]:
    """Fresh browser context (no cache, new session): ms to the first contentful paint, and ms until
    the page's title (h1) is on screen with the script finished."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(url)
    page.locator("h1").first.wait_for(timeout=120_000)
    title_ms = page.evaluate("performance.now()")
    wait_for_app(page)
    paint = page.evaluate("""() => new Promise(resolve => {
        new PerformanceObserver(list => {
            const entry = list.getEntries().find(e => e.name === 'first-contentful-paint');
            if (entry) resolve(entry.startTime);
        }).observe({type: 'paint', buffered: true});
        setTimeout(() => resolve(NaN), 5000);
    })""")
    context.close()
    return paint, title_ms


def cold_paints(browser, env: dict, minimal: Path, starts: int) -> dict[str, list[tuple[float, float]]]:
    """A server that has just started (as a sleeping Community Cloud app wakes): its first visitor's
    paint timings, for the app and the minimal app, `starts` fresh servers each, alternating."""
    cold: dict[str, list[tuple[float, float]]] = {"app": [], "minimal": []}
    for _ in range(starts):
        with streamlit_server(env=env) as app:
            cold["app"].append(first_paint(browser, app))
        with streamlit_server(entry=minimal) as reference:
            cold["minimal"].append(first_paint(browser, reference))
    return cold


def run_default_demo(browser, url: str, demo, picture: Path) -> float:
    """One page with its default settings (the link keeps only upload modes, no sizes), its demo
    run the way the browser tests run it. Seconds."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(DEMO_TIMEOUT_MS)
    modes = {key: value for key, value in demo.link.items() if value.isalpha()}
    start = time.perf_counter()
    page.goto(f"{url}/{demo.slug}?{urlencode(modes)}")
    wait_for_app(page)
    run_demo(page, demo, picture, DEMO_TIMEOUT_MS)
    seconds = time.perf_counter() - start
    context.close()
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--local", action="store_true", help="run without PTLAB_HOSTED")
    parser.add_argument("--cold-starts", type=int, default=3, help="fresh servers per app for the cold first paint")
    args = parser.parse_args()
    env = {} if args.local else {"PTLAB_HOSTED": "1"}
    with tempfile.TemporaryDirectory() as folder:
        minimal = Path(folder) / "minimal_app.py"
        minimal.write_text(MINIMAL_APP)
        with streamlit_server(env=env) as app, streamlit_server(entry=minimal) as reference, \
                sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
            cold_runs = cold_paints(browser, env, minimal, args.cold_starts)
            runs: dict[str, list[tuple[float, float]]] = {"app": [], "minimal": []}
            for _ in range(args.repeats):                     # interleaved, so both see the same noise
                runs["app"].append(first_paint(browser, app))
                runs["minimal"].append(first_paint(browser, reference))
            after_home = peak_memory_mb(app.pid)
            picture = Path(folder) / "drawn.png"
            draw_picture(picture)
            seconds = {demo.slug: run_default_demo(browser, app, demo, picture) for demo in DEMOS}
            peak = peak_memory_mb(app.pid)
            browser.close()

    def median(name: str, index: int) -> float:
        return statistics.median(run[index] for run in runs[name])

    print(f"mode: {'local' if args.local else 'hosted (PTLAB_HOSTED=1)'}; {args.repeats} interleaved visits each")
    for label, index in (("first contentful paint", 0), ("title on screen", 1)):
        app_ms = statistics.median(run[index] for run in cold_runs["app"])
        minimal_ms = statistics.median(run[index] for run in cold_runs["minimal"])
        print(f"cold (first visitor of a fresh server, median of {args.cold_starts}) home page {label}: "
              f"{app_ms:.0f} ms vs minimal app {minimal_ms:.0f} ms -> ratio {app_ms / minimal_ms:.2f} "
              "(target <= 1.5)")
    for label, index in (("first contentful paint", 0), ("title on screen", 1)):
        ratio = median("app", index) / median("minimal", index)
        print(f"home page {label}: {median('app', index):.0f} ms vs minimal app {median('minimal', index):.0f} ms "
              f"(median) -> ratio {ratio:.2f} (target <= 1.5)")
    print("default demos, seconds each: " + ", ".join(f"{slug} {value:.1f}" for slug, value in seconds.items()))
    print(f"server peak memory (VmHWM): {after_home:.0f} MB after the home page, {peak:.0f} MB after every page's "
          f"default demo (target < {MEMORY_TARGET_MB} MB)")
    return 0 if peak < MEMORY_TARGET_MB else 1


if __name__ == "__main__":
    sys.exit(main())
