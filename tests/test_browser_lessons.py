"""A lesson in real Chromium, as a class uses it: a teacher makes a lesson of three steps (the first a
locked card) in the home page's editor, with verdicts held; 12 learners (half in Chinese, each in their
own browser context) open the class link, predict and run the card; nobody sees a verdict until the
teacher reveals it; the teacher's view counts the 12, their predictions per answer and the verdicts,
equal to what the learners did, and so does its CSV; a learner who moves on and reloads continues at
the same step with their prediction kept.

Twice: one server on SQLite, restarted after the class (a new process on the same file keeps every
record); and two replicas behind HAProxy sharing a PostgreSQL that restarts in the middle of the
lesson (every record written before stays, and the lesson goes on)."""

import csv
import io
from collections import Counter
from contextlib import suppress
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError

from engine.cards import regression as regression_cards
from tests.browser import RETRY_MS, SCREENSHOTS, WAIT_MS, streamlit_server, visible_text, wait_for_app
from tests.databases import own_postgres, restart_postgres
from tests.test_browser import browser, no_exception  # noqa: F401  (the fixture)
from tests.test_browser_a11y import check
from tests.test_browser_replicas import replicas_behind_proxy
from ui.catalog import CONCEPTS
from ui.i18n import translate

pytestmark = pytest.mark.browser
LEARNERS = 12
CARD = next(card for card in regression_cards.CARDS if card.id == "overfit")
SECOND = next(card for card in regression_cards.CARDS if card.id == "outliers")
VIEW = {"width": 1400, "height": 900}
TITLES = {concept.slug: concept for concept in CONCEPTS}


def said(page) -> str:
    """The page's visible text as one line of words (bold and plain parts joined)."""
    return " ".join(visible_text(page).split())


def settle(page) -> None:
    page.wait_for_timeout(300)
    wait_for_app(page, WAIT_MS, runs=False)


def choose(page, key: str, option: str) -> None:
    """Pick `option` in the select box whose widget key is `key`, as a mouse would."""
    box = page.locator(f".st-key-{key} [role='combobox']")
    for _ in range(10):
        if box.input_value() == option:
            return
        box.click()
        box.press("ArrowDown")                         # opens the list
        choice = page.get_by_role("option", name=option, exact=True)
        with suppress(PlaywrightError):       # a virtual list redraws under the pointer: click where it is
            choice.scroll_into_view_if_needed(timeout=5_000)
            found = choice.bounding_box(timeout=5_000)
            page.mouse.click(found["x"] + found["width"] / 2, found["y"] + found["height"] / 2)
        settle(page)
    raise AssertionError(f"could not choose {option!r} in {key}")


def add_step(page, slug: str, card: str | None, mode: str) -> None:
    """The editor's "Add a step", filled in as a teacher would (in English)."""
    choose(page, "lesson_page", f"{TITLES[slug].number} · {translate(f'catalog.{slug}', 'en')}")
    choose(page, f"lesson_card_{slug}", translate(f"{slug}.card_{card}_title" if card else "lesson.whole_page", "en"))
    page.locator(".st-key-lesson_mode").get_by_text(translate(f"lesson.mode_label_{mode}", "en"), exact=True).click()
    settle(page)
    page.locator(".st-key-lesson_add_button button").click()
    settle(page)


def make_lesson(browser, base: str, problems: list[str] | None = None):  # noqa: F811
    """The teacher's page, on the teacher view of a new lesson; (page, class link). With `problems`,
    the editor and the teacher's view are scanned by axe (WCAG 2.2 AA) and what it finds is added."""
    page = browser.new_context(viewport=VIEW).new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(base)
    wait_for_app(page, WAIT_MS)
    page.locator(".st-key-lesson_editor label").click()
    settle(page)
    name = page.locator(".st-key-lesson_name input")
    name.fill("Overfitting, period 3 · 过拟合")
    name.press("Enter")
    settle(page)
    add_step(page, "regression", CARD.id, "locked")
    add_step(page, "regression", SECOND.id, "open")
    add_step(page, "optimizers", None, "open")
    page.locator(".st-key-lesson_hold label").click()
    settle(page)
    if problems is not None:
        problems += check(page, "the lesson editor", "en")
    page.locator(".st-key-lesson_create button").click()
    page.get_by_text(translate("lesson.live_title", "en"), exact=True).wait_for()
    wait_for_app(page, WAIT_MS, runs=False)
    no_exception(page)
    if problems is not None:
        problems += check(page, "the teacher's view", "en")
    link = page.locator('[data-testid="stCode"]').first.inner_text().strip()
    assert "lesson=" in link and "teacher" not in link
    qr = page.locator('[data-testid="stImage"] img').first
    assert "QR" in (qr.get_attribute("alt") or "")
    return page, link


def learners_join_and_predict(browser, link: str, base: str) -> list[tuple]:  # noqa: F811
    """Each learner opens the class link, picks an answer (spread over the answers) and runs the card."""
    learners = []
    for number in range(LEARNERS):
        lang = "zh" if number % 2 else "en"
        context = browser.new_context(viewport=VIEW)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(base + "/" + link.split("/", 3)[3] + ("&lang=zh" if lang == "zh" else ""))
        learners.append((page, lang, CARD.answers[number % len(CARD.answers)]))
    for page, lang, guess in learners:
        page.locator(".st-key-lesson_bar").wait_for()
        wait_for_app(page, WAIT_MS)
        assert page.locator(".st-key-regression_noise input").first.is_disabled(), "a locked setting can be changed"
        prediction = page.locator(f".st-key-card_regression_{CARD.id}_prediction")
        prediction.get_by_text(translate(f"regression.card_{CARD.id}_answer_{guess}", lang), exact=True).click()
        settle(page)
        page.locator(f".st-key-act_card_regression_{CARD.id} button:not([disabled])").first.click()
    return learners


def verdict_words(lang: str) -> tuple[str, str]:
    """Words only a shown verdict has: the start of "right", the middle of "wrong"."""
    right = translate("common.card_right", lang, answer="\0").split("\0")[0].replace("**", "")
    wrong = translate("common.card_wrong", lang, guess="\0", answer="\1").split("\0")[1].split("\1")[0]
    return right, wrong.replace("**", "")


def held_everywhere(learners: list[tuple]) -> None:
    for page, lang, guess in learners:
        held = translate("lesson.verdict_held", lang, guess="\0").split("\0")[0].replace("**", "")
        page.get_by_text(held.strip()).first.wait_for()
        text = said(page)
        label = translate(f"regression.card_{CARD.id}_answer_{guess}", lang)
        mine = "".join(translate("lesson.verdict_held", lang, guess=label).replace("**", "").split())
        assert mine in "".join(text.split()), "the held card does not repeat the learner's own prediction"
        assert not any(word.strip() in text for word in verdict_words(lang)), "a held verdict is shown"
        no_exception(page)


def teacher_sees(page, learners: list[tuple]) -> None:
    """The live view's counts and the CSV equal what the learners did."""
    predicted = Counter(guess for _, _, guess in learners)
    right = predicted[CARD.answer]
    summary = translate("lesson.table_summary", "en", predicted=LEARNERS, judged=LEARNERS, right=right)
    page.get_by_text(summary).first.wait_for()
    joined = translate("lesson.live_total", "en", learners=LEARNERS).replace("**", "")
    assert joined in said(page)
    table = page.locator(".st-key-lesson_live_0 table")
    rows = {row.locator("td").nth(0).inner_text(): (int(row.locator("td").nth(1).inner_text()),
                                                    int(row.locator("td").nth(2).inner_text()))
            for row in table.locator("tbody tr").all()}
    for answer in CARD.answers:
        label = translate(f"regression.card_{CARD.id}_answer_{answer}", "en")
        assert rows[label] == (predicted[answer], LEARNERS if answer == CARD.answer else 0), rows
    with page.expect_download() as download:
        page.locator(".st-key-lesson_csv button").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    cards = [row for row in rows if row["card"] == CARD.id]
    assert Counter(row["prediction"] for row in cards) == predicted
    assert Counter(row["outcome"] for row in cards) == {CARD.answer: LEARNERS}
    assert sum(row["matched"] == "1" for row in cards) == right
    assert len({row["learner"] for row in cards}) == LEARNERS


def reveal_and_see(page, learners: list[tuple]) -> None:
    page.locator(".st-key-lesson_reveal_0 button").click()
    for learner, lang, guess in learners:
        right, wrong = verdict_words(lang)
        learner.get_by_text((right if guess == CARD.answer else wrong).strip()).first.wait_for()
        no_exception(learner)


def reload_continues(learners: list[tuple]) -> None:
    page, lang, guess = learners[1]                   # a Chinese learner
    page.locator(".st-key-lesson_next button").click()
    settle(page)
    step_two = translate("lesson.bar", lang, name="\0", step=2, steps=3, title="\1").split("\0")[1].split("\1")[0]
    page.get_by_text(step_two.replace("**", "").strip()).first.wait_for()
    page.reload()
    page.locator(".st-key-lesson_bar").wait_for()
    wait_for_app(page, WAIT_MS)
    assert step_two.replace("**", "").strip() in said(page)
    radios = page.locator(f".st-key-card_regression_{CARD.id}_prediction")       # the card's question
    title = page.get_by_text(f"1 · {translate(f'regression.card_{CARD.id}_title', lang)}", exact=True)
    for _ in range(3):        # open step 1's card (a click during a rerun on a busy box can be lost)
        if radios.first.is_visible():
            break
        title.click()
        settle(page)
        with suppress(PlaywrightError):
            radios.first.wait_for(state="visible", timeout=RETRY_MS)
    chosen = page.locator(f".st-key-card_regression_{CARD.id}_prediction input[type='radio']:checked")
    with suppress(PlaywrightError):                  # the question may be drawn before its answer arrives
        chosen.first.wait_for(state="attached", timeout=RETRY_MS)
    if chosen.count() != 1:
        page.screenshot(path=str(SCREENSHOTS / "lesson_reload_failed.png"), full_page=True)
    assert chosen.count() == 1, (f"the prediction was not kept (the question shown: {radios.first.is_visible()}, "
                                 f"radios: {radios.locator('input').count()}; {page.url}; {said(page)[:3000]})")
    label = chosen.locator("xpath=ancestor::label[1]").inner_text()
    assert translate(f"regression.card_{CARD.id}_answer_{guess}", lang) in label


def close_all(learners: list[tuple]) -> None:
    for page, _, _ in learners:
        page.context.close()


def test_a_lesson_on_one_server_with_sqlite_survives_a_restart(browser, tmp_path):  # noqa: F811
    environment = {"PTLAB_HOSTED": "1", "PTLAB_DATA_DIR": str(tmp_path / "data"), "PTLAB_DATABASE_URL": ""}
    problems: list[str] = []
    with streamlit_server(env=environment) as server:
        teacher, link = make_lesson(browser, server, problems)
        learners = learners_join_and_predict(browser, link, server)
        held_everywhere(learners)
        problems += check(learners[1][0], "a learner's held card", "zh")
        teacher_sees(teacher, learners)
        reveal_and_see(teacher, learners)
        reload_continues(learners)
        teacher_link = teacher.url
        close_all(learners)
        teacher.context.close()
    with streamlit_server(env=environment) as server:        # a new process on the same file
        page = browser.new_context(viewport=VIEW).new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(server + "/?" + teacher_link.split("?", 1)[1])
        wait_for_app(page, WAIT_MS, runs=False)
        teacher_sees(page, learners)
        page.context.close()
    assert not problems, "\n".join(problems)


def test_a_lesson_over_two_replicas_sharing_postgresql_survives_its_restart(browser, tmp_path, monkeypatch):  # noqa: F811
    with own_postgres() as (url, folder):              # a server of its own: the shared one never restarts
        monkeypatch.setenv("PTLAB_DATABASE_URL", url)
        with replicas_behind_proxy(2, tmp_path / "replicas.log") as proxy:
            teacher, link = make_lesson(browser, proxy.url)
            learners = learners_join_and_predict(browser, link, proxy.url)
            held_everywhere(learners)
            restart_postgres(folder)                         # mid-lesson: what was written stays
            teacher_sees(teacher, learners)
            reveal_and_see(teacher, learners)
            reload_continues(learners)
            close_all(learners)
            teacher.context.close()
