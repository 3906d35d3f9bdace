"""WCAG 2.2 AA in Chromium (issue 31): axe-core's WCAG 2.0-2.2 A and AA rules on the home page and
every concept page, in both languages, before a run and after the page's browser walk (its main
experiment at the walk's short settings, and the upload labs where the page has them); and the
document's `lang` follows the learner's language.

axe sees the page as a browser renders it: contrast of text, names of controls, alt text of images,
heading order, the document's language. It cannot judge what a chart says; tests/test_chart_style.py
checks every figure's text alternative.
"""

from urllib.parse import urlencode

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser import WAIT_MS, switch_language, wait_for_app
from tests.test_browser import browser, no_exception  # noqa: F401  (the fixture)
from tests.test_browser_pages import DEMOS, drawing, run_demo, server  # noqa: F401  (the fixtures)

pytestmark = pytest.mark.browser

RULES = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}}
BLOCKING = {"serious", "critical"}
HTML_LANG = {"en": "en", "zh": "zh-CN"}
_axe = Axe()


def violations(page) -> tuple[list[str], list[str]]:
    """axe's violations on the page as it stands: (serious or critical, moderate or minor), each
    "rule (impact) at selector: what to fix"."""
    blocking, other = [], []
    for rule in _axe.run(page, options=RULES).response["violations"]:
        for node in rule["nodes"]:
            line = f"{rule['id']} ({rule['impact']}) at {node['target']}: {node.get('failureSummary', '')[:200]}"
            (blocking if rule["impact"] in BLOCKING else other).append(line)
    return blocking, other


def check(page, where: str, lang: str) -> list[str]:
    """The page's language attribute and its axe scan: the problems found, labelled with `where`."""
    problems = []
    try:        # the page's first script run may not have reached the app's assets yet: wait for them
        page.wait_for_function(f"() => document.documentElement.dataset.ptlabLang === '{HTML_LANG[lang]}' "
                               f"&& document.documentElement.lang === '{HTML_LANG[lang]}'", timeout=WAIT_MS)
    except PlaywrightTimeout:
        declared = page.evaluate("document.documentElement.lang")
        problems.append(f"{where}: <html lang={declared!r}>, expected {HTML_LANG[lang]!r}")
    wait_for_app(page)
    blocking, other = violations(page)
    problems += [f"{where}: {line}" for line in blocking]
    levels = page.evaluate("() => [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')]"
                           ".filter(h => h.checkVisibility())"
                           ".map(h => [Number(h.tagName[1]), h.innerText.slice(0, 40)])")
    for (before, _), (level, heading) in zip([(0, ""), *levels], levels, strict=False):
        if level > before + 1:             # axe's heading-order (a best practice, moderate): a level skipped
            problems.append(f"{where}: heading h{level} {heading!r} follows h{before}")
    for line in other:                     # reported, not failed (the issue asks 0 serious and 0 critical)
        print(f"{where}: {line}")
    return problems


@pytest.mark.parametrize("demo", [None, *DEMOS], ids=lambda d: d.slug if d else "home")
def test_every_page_meets_wcag_aa_in_both_languages_before_and_after_a_run(browser, server, drawing, demo):  # noqa: F811
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    slug = demo.slug if demo else ""
    problems = []
    try:
        page.goto(f"{server}/{slug}")
        wait_for_app(page)
        problems += check(page, f"{slug or 'home'} en, before a run", "en")
        page.goto(f"{server}/{slug}?lang=zh")
        wait_for_app(page)
        problems += check(page, f"{slug or 'home'} zh, before a run", "zh")
        if demo is not None:
            page.goto(f"{server}/{slug}?{urlencode({**demo.link, 'lang': 'zh'})}")
            wait_for_app(page)
            run_demo(page, demo, drawing)
            problems += check(page, f"{slug} zh, after its run", "zh")
            switch_language(page, "en")                  # the same session: its run and labs stay
            no_exception(page)
            problems += check(page, f"{slug} en, after its run", "en")
    finally:
        page.close()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("motion", ["reduce", "no-preference"])
def test_the_browsers_reduced_motion_reaches_the_session(browser, server, motion):  # noqa: F811
    """The page's script presses the hidden probe only when the browser prefers reduced motion; the
    session then knows (tests/test_motion.py: its paced runs and replays are shown at once), and the
    probe is drawn no more."""
    context = browser.new_context(reduced_motion=motion, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{server}/regression")
        wait_for_app(page)
        page.wait_for_function("() => document.documentElement.dataset.ptlabLang === 'en'", timeout=WAIT_MS)
        probe = page.locator(".st-key-motion_probe")
        if motion == "reduce":
            probe.wait_for(state="detached", timeout=WAIT_MS)
        else:
            page.reload()                     # a second script run: the probe is still there, unpressed
            wait_for_app(page)
            # the stylesheet that hides the probe is in place (the same element marks the document)
            page.wait_for_function("() => document.documentElement.dataset.ptlabLang === 'en'", timeout=WAIT_MS)
            assert probe.count() == 1 and not probe.is_visible()
    finally:
        context.close()
