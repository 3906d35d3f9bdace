"""Lessons in the app (AppTest, on SQLite and on PostgreSQL): the editor makes a lesson and opens its
teacher view; a learner follows the class link through the steps, with the settings the teacher
fixed; predictions, verdicts and challenges reach the database; a held verdict stays hidden until
the teacher reveals it; a reload continues at the same step with the predictions kept; bad codes,
tokens, names and ids get a clear message and change nothing."""

import csv
import io

import pytest

from tests.conftest import WAIT
from tests.databases import database  # noqa: F401  (the fixture)
from ui import lesson_plan, lesson_state, lesson_store, lessons, runner
from ui.i18n import translate
from ui.lesson_plan import Step, new_learner

PLAN = [Step("regression", "overfit", {}, "locked"), Step("regression", None, {"degree": 3}, "only", ("steps",)),
        Step("optimizers")]


@pytest.fixture
def store(database, monkeypatch):  # noqa: F811
    """The app's store, on a fresh database of each kind."""
    for name, value in database.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(lesson_store, "_STORE", None)
    monkeypatch.setattr(lesson_state, "FRESH_SECONDS", 0.0)      # every script run reads the lesson's row again
    return lesson_store.store()


def editor(app):
    """The home page with "Make a lesson" switched on."""
    test = app()
    return test.toggle(key="lesson_editor").set_value(True).run()


def learner_app(app, code: str, learner: str, lang: str = "en"):
    """The class link opened in a browser that holds `learner` (the cookie, handed over in tests)."""
    test = app(lang=lang)
    test.query_params["lesson"] = code
    test.session_state[lessons.BROWSER_ID] = learner
    return test.run()


def shown(test) -> list[str]:
    return [element.value for element in [*test.header, *test.markdown, *test.caption, *test.info, *test.error,
                                          *test.success, *test.warning]]


def ended(test):
    assert runner.wait_for_runs(timeout=WAIT), "a run did not end"
    for _ in range(3):          # the card's fragment sees its runs finished, then the page redraws
        test.run()
    return test


def test_the_editor_makes_a_lesson_and_opens_its_teacher_view(app, store):
    test = editor(app)
    test.text_input(key="lesson_name").input("Overfitting · 过拟合 · <b>'; DROP TABLE lessons;--").run()
    test.selectbox(key="lesson_page").select("regression").run()
    test.selectbox(key="lesson_card_regression").select("overfit").run()
    test.radio(key="lesson_mode").set_value("locked").run()
    test.button(key="lesson_add_button").click().run()
    test.selectbox(key="lesson_page").select("optimizers").run()
    test.radio(key="lesson_mode").set_value("only").run()
    test.button(key="lesson_add_button").click().run()            # "only" with nothing chosen: refused
    assert translate("lesson.error_only_none", "en") in shown(test)
    test.multiselect(key="lesson_shown_optimizers_None").set_value(["network_steps"]).run()
    test.button(key="lesson_add_button").click().run()
    test.toggle(key="lesson_hold").set_value(True).run()
    test.button(key="lesson_create").click().run()
    assert not test.exception
    code, token = test.query_params["lesson"], test.query_params["teacher"]
    lesson = store.lesson(code)
    assert lesson.name == "Overfitting · 过拟合 · <b>'; DROP TABLE lessons;--" and lesson.hold
    assert lesson.steps == [Step("regression", "overfit", {}, "locked"),
                            Step("optimizers", None, {}, "only", ("network_steps",))]
    assert store.teacher(code, token)
    assert any("Lesson: Overfitting" in text and "\\<b\\>" in text for text in shown(test))    # shown as text
    assert any(lesson_plan.spaced(code) in text for text in shown(test))
    assert len(test.get("image")) == 1          # the QR code (its alt text is checked in the browser)


@pytest.mark.parametrize("name, error", [("", "lesson.error_name_empty"), ("bell\x07", "lesson.error_name_control"),
                                         ("tab\tand\u202eoverride", "lesson.error_name_control")],
                         ids=["empty", "bell", "tab-and-override"])
def test_a_bad_name_is_refused_and_the_draft_stays(app, store, name, error):
    test = editor(app)
    test.button(key="lesson_add_button").click().run()
    test.session_state["lesson_name"] = name          # as a crafted request would send it, past max_chars
    test.button(key="lesson_create").click().run()
    assert translate(error, "en", limit=lesson_plan.NAME_LIMIT, length=len(name)) in shown(test)
    assert store.created_since(0) == 0 and len(test.session_state[lessons.DRAFT]) == 1
    assert "teacher" not in test.query_params


def test_a_ten_kilobyte_name_never_reaches_the_database_whole(app, store):
    test = editor(app)
    test.button(key="lesson_add_button").click().run()
    test.session_state["lesson_name"] = "名" * 10_000           # a crafted request: the widget keeps NAME_LIMIT
    test.button(key="lesson_create").click().run()
    names = [store.lesson(code).name for code in [test.query_params.get("lesson")] if code]
    assert all(len(name) <= lesson_plan.NAME_LIMIT for name in names)
    assert store.created_since(0) == len(names)


def test_a_link_of_another_page_is_refused_and_a_pages_link_sets_the_step(app, store):
    test = editor(app)
    test.selectbox(key="lesson_page").select("regression").run()
    test.text_input(key="lesson_link").input("http://localhost:8501/optimizers?optimizers_steps=50").run()
    test.button(key="lesson_add_button").click().run()
    assert translate("lesson.error_link_page", "en", page="63 · Regression") in shown(test)
    test.text_input(key="lesson_link").input(
        "http://localhost:8501/regression?regression_degree=4&regression_noise=9e99&regression_x=%27").run()
    test.button(key="lesson_add_button").click().run()
    # degree read as the page reads it; a noise beyond the slider's range clamps to its top, as a link does
    assert test.session_state[lessons.DRAFT][0].settings == {"degree": 4, "noise": 3.0}


def test_a_learner_follows_the_lesson_with_held_verdicts_and_a_reload_continues(app, store):
    code, _ = store.create("Lesson", PLAN, hold=True)
    learner = new_learner()
    test = learner_app(app, code, learner)
    assert not test.exception and test.query_params["card"] == "overfit"
    sliders = {slider.key: slider for slider in test.slider}
    assert sliders["regression_degree"].value == 7 and sliders["regression_degree"].disabled   # the card's run, locked
    test.radio(key="card_regression_overfit_prediction").set_value("same").run()
    test.button(key="act_card_regression_overfit").click().run()
    ended(test)
    held = translate("lesson.verdict_held", "en", guess=translate("regression.card_overfit_answer_same", "en"))
    assert held in shown(test)
    assert not any("the run says" in text or "Your prediction was right" in text for text in shown(test))
    progress = store.progress(code, learner)
    assert progress.answers == {(0, "overfit"): ("same", "rise")}     # the runs' answer, recorded though hidden
    store.reveal(code, 0)
    test.run()
    test.run()
    assert any("the run says" in text for text in shown(test))
    # Next: only "steps" is drawn, the degree stays at the teacher's 3.
    test.button(key="lesson_next").click().run()
    test.run()
    keys = {slider.key for slider in test.slider}
    assert "regression_steps" in keys and "regression_degree" not in keys
    assert store.progress(code, learner).step == 1
    # A reload: a new session in the same browser continues at step 2, the prediction kept.
    again = learner_app(app, code, learner, lang="zh")
    assert any(translate("lesson.bar", "zh", name="Lesson", step=2, steps=3, title="").split("：")[0] in text
               for text in shown(again))
    assert again.session_state["card_regression_overfit_prediction"] == "same"
    summary = store.summary(code)
    assert summary.learners == 1 and summary.on_step == {1: 1}
    rows = list(csv.DictReader(io.StringIO(lessons.results_csv(store.lesson(code), summary))))
    assert rows == [{"step": "1", "page": "regression", "card": "overfit", "learner": "1", "prediction": "same",
                     "outcome": "rise", "matched": "0"}]


def test_bad_codes_tokens_and_ids_get_a_message_and_see_nothing(app, store):
    code, token = store.create("Private", PLAN, hold=False)
    first = new_learner()
    store.join(code, first)
    store.predict(code, first, 0, "overfit", "rise")
    for typed, message in (("'; DROP TABLE lessons;--", "lesson.error_code"),
                           (lesson_plan.new_code(), "lesson.error_no_lesson")):
        test = app()
        test.query_params["lesson"] = typed
        test.run()
        assert translate(message, "en") in shown(test) and "lesson" not in test.query_params
    test = app()
    test.query_params["lesson"], test.query_params["teacher"] = code, token[:-2] + "xx"
    test.run()
    assert translate("lesson.error_teacher", "en") in shown(test)
    assert not any("Lesson: Private" in text for text in shown(test)) and lessons.TEACHING not in test.session_state
    # A malformed id in the cookie: a new id, a note, and none of the first learner's records.
    test = learner_app(app, code, "x' OR '1'='1")
    assert translate("lesson.learner_id_renewed", "en") in shown(test)
    assert test.session_state[lessons.ATTENDING].learner != first
    assert "card_regression_overfit_prediction" not in test.session_state or \
        test.session_state["card_regression_overfit_prediction"] is None
    assert store.summary(code).learners == 2 and store.progress(code, first).answers == {(0, "overfit"): ("rise", None)}


def test_hosted_lesson_making_is_rate_limited_per_visitor(app, store, monkeypatch):
    monkeypatch.setenv("PTLAB_HOSTED", "1")
    test = editor(app)
    test.button(key="lesson_add_button").click().run()
    for _ in range(lessons.HOSTED_PER_SESSION):
        test.text_input(key="lesson_name").input("again").run()
        test.button(key="lesson_create").click().run()
        assert "teacher" in test.query_params, shown(test)[-3:]
        test.button(key="lesson_leave").click().run()       # back to the home page, the editor as it was
        assert test.toggle(key="lesson_editor").value and test.text_input(key="lesson_name").value == "again"
        assert len(test.session_state[lessons.DRAFT]) == 1
    test.text_input(key="lesson_name").input("again").run()
    test.button(key="lesson_create").click().run()
    assert translate("lesson.error_rate", "en", minutes=60) in shown(test)
    assert store.created_since(0) == lessons.HOSTED_PER_SESSION and "teacher" not in test.query_params
