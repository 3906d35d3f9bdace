"""Screenshots of pages as a learner sees them: each page in each language at a laptop size
(1400x900) and a phone size (390x844), the first screen before and after pressing the page's
first run button (the screen as it is, no scrolling), and the whole page after the run.

    python scripts/screenshots.py                      # every page, both languages, both sizes
    python scripts/screenshots.py regression unet --lang zh --size phone

Writes PNG files to screenshots/ (git-ignored): <page>-<lang>-<size>-<before|after|whole>.png.
"""

import argparse
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import sync_playwright

from tests.browser import CHROMIUM_FLAGS, SCREENSHOTS, chromium_path, streamlit_server, wait_for_app

SIZES = {"laptop": (1400, 900), "phone": (390, 844)}
# page -> (the run button's key, settings for a short run through the link)
PAGES = {
    "home": (None, {}),
    "multitask": ("act_multitask_train", {}),
    "lstm": ("act_lstm_forecast_train", {}),
    "regression": ("act_regression_train", {}),
    "optimizers": ("act_optimizers_network", {}),
    "adversarial": ("act_adversarial_train", {}),
    "unet": ("act_unet_train", {}),
    "autoencoder": ("act_autoencoder_train", {}),
    "half_precision": ("act_half_precision_train", {}),
    "distributed": ("act_distributed_train", {}),
    "style_transfer": ("act_style_transfer_run", {}),
}


def shoot(page, url: str, slug: str, lang: str, size: str, run: bool, whole: bool, wait_s: float) -> None:
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    key, link = PAGES[slug]
    query = {**link, **({"lang": "zh"} if lang == "zh" else {})}
    page.goto(f"{url}/{'' if slug == 'home' else slug}" + (f"?{urlencode(query)}" if query else ""))
    wait_for_app(page, runs=False)
    page.wait_for_timeout(1500)
    wait_for_app(page, runs=False)          # a fresh server's first request reruns once (ui/router.py)
    name = f"{slug}-{lang}-{size}"
    page.screenshot(path=SCREENSHOTS / f"{name}-before.png")
    if not run or key is None:
        return
    button = page.locator(f".st-key-{key} button").first
    button.click()
    page.wait_for_timeout(int(wait_s * 1000))       # mid-run: the progress and the first chart
    page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollTo(0, 0)")
    page.screenshot(path=SCREENSHOTS / f"{name}-during.png")
    wait_for_app(page, timeout_ms=600_000)
    page.wait_for_timeout(1000)
    page.screenshot(path=SCREENSHOTS / f"{name}-after.png")
    if whole:
        tall = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
        page.set_viewport_size({"width": width, "height": min(int(tall) + 80, 12_000)})
        page.wait_for_timeout(800)
        page.screenshot(path=SCREENSHOTS / f"{name}-whole.png", full_page=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pages", nargs="*", default=list(PAGES))
    parser.add_argument("--lang", choices=["en", "zh"], action="append")
    parser.add_argument("--size", choices=list(SIZES), action="append")
    parser.add_argument("--no-run", action="store_true", help="only the first screen before a run")
    parser.add_argument("--whole", action="store_true", help="also the whole page after the run")
    parser.add_argument("--wait", type=float, default=2.5, help="seconds after pressing run for the 'during' shot")
    args = parser.parse_args()
    SCREENSHOTS.mkdir(exist_ok=True)
    with streamlit_server() as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        page = browser.new_page()
        for slug in args.pages:
            for lang in args.lang or ["en", "zh"]:
                for size in args.size or list(SIZES):
                    started = time.monotonic()
                    shoot(page, url, slug, lang, size, not args.no_run, args.whole, args.wait)
                    print(f"{slug} {lang} {size}: {time.monotonic() - started:.0f} s", flush=True)
        browser.close()


if __name__ == "__main__":
    main()
