"""The server's thread policy, measured the way a learner meets it: in Chromium against
`streamlit run`, a page's default run from the click on Run to "finished", with the page redrawing
its live charts beside the run. Each page is timed with the server at 1 intra-op thread and at every
core (`PTLAB_THREADS`), alternating, in one process.

    python benchmarks/thread_policy.py --repeats 2
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import sync_playwright

from engine.device import cpu_flags, cpu_name, usable_cores
from tests.browser import CHROMIUM_FLAGS, chromium_path, streamlit_server, wait_for_app

PAGES = {"multitask": "multitask_train", "lstm": "lstm_forecast_train", "unet": "unet_train",
         "style_transfer": "style_transfer_run", "autoencoder": "autoencoder_train"}


def timed_run(browser, url: str, slug: str, key: str) -> float:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(600_000)
    page.goto(f"{url}/{slug}")
    wait_for_app(page)
    start = time.perf_counter()
    page.locator(f".st-key-act_{key} button").first.click()
    page.locator(f".st-key-runstate_{key}_finished").first.wait_for()
    seconds = time.perf_counter() - start
    page.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--pages", default=",".join(PAGES))
    args = parser.parse_args()
    cores = usable_cores()
    bf16 = bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})
    print(f"CPU: {cpu_name()}, {cores} usable cores, native bf16: {'yes' if bf16 else 'no'}")
    times: dict[tuple[str, int], list[float]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        for _ in range(args.repeats):
            for threads in (1, cores):
                with streamlit_server(env={"PTLAB_THREADS": str(threads)}) as url:
                    for slug in args.pages.split(","):
                        times.setdefault((slug, threads), []).append(timed_run(browser, url, slug, PAGES[slug]))
        browser.close()
    print(f"{'page':<16} {'1 thread s':>11} {f'{cores} threads s':>12} {'ratio':>7}")
    for slug in args.pages.split(","):
        one, all_ = statistics.median(times[(slug, 1)]), statistics.median(times[(slug, cores)])
        print(f"{slug:<16} {one:11.1f} {all_:12.1f} {one / all_:7.2f}")


if __name__ == "__main__":
    main()
