"""The lessons' database, on SQLite and on a real PostgreSQL: schema and migrations, what a learner's
records hold and who can read them, the teacher's token, concurrent writers, a restart, retention."""

import hmac
import threading
from pathlib import Path

import pytest

from tests.databases import BACKENDS, database, own_postgres, restart_postgres  # noqa: F401  (the fixture)
from ui import lesson_plan, lesson_store
from ui.lesson_plan import Step, learner_key, new_learner
from ui.lesson_store import DAY, MIGRATIONS, OPEN_DAYS, RETENTION_DAYS, Store

STEPS = [Step("regression"), Step("regression", "overfit", {"degree": 7}, "locked"),
         Step("optimizers", None, {}, "only", ("lr",))]
HOSTILE = ["Robert'); DROP TABLE lessons;--", "%s %(x)s ? $1 \\x00", "深度学习 第一课 🚀", "' OR '1'='1",
           "<script>alert(1)</script>"]


class Clock:
    def __init__(self, now: float = 1.8e9) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def open_store(environment: dict[str, str], clock=None) -> Store:
    url = environment["PTLAB_DATABASE_URL"] or None
    return Store(url=url or "", folder=Path(environment["PTLAB_DATA_DIR"]), **({"clock": clock} if clock else {}))


def one_learner(store: Store, name: str, step: int) -> tuple[str, str, str]:
    """A new lesson with one learner who predicted "worse" on step `step`'s card: (code, token, learner)."""
    code, token = store.create(name, STEPS, hold=True)
    learner = new_learner()
    store.join(code, learner)
    store.predict(code, learner, step, "overfit", "worse")
    return code, token, learner


def test_migrations_apply_once_in_order_and_again_find_nothing_to_do(database):  # noqa: F811
    store = open_store(database)
    latest = max(version for version, _ in MIGRATIONS)
    assert store.version() == latest
    assert store.migrate() == latest                   # a second start (another replica) applies nothing
    again = open_store(database)
    assert again.version() == latest
    assert store.backend == ("postgresql" if database["PTLAB_DATABASE_URL"] else "sqlite")


def test_a_lesson_round_trips_and_only_its_token_opens_it(database):  # noqa: F811
    store = open_store(database)
    code, token = store.create("Überfitting 过拟合", STEPS, hold=True)
    assert lesson_plan.read_code(code) == code and len(code) * 5 >= 64
    lesson = store.lesson(code)
    assert lesson.name == "Überfitting 过拟合" and lesson.steps == STEPS and lesson.hold and not lesson.closed
    assert store.teacher(code, token)
    assert not store.teacher(code, token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert not store.teacher(lesson_plan.new_code(), token)           # no such lesson
    other, other_token = store.create("another", STEPS[:1], hold=False)
    assert not store.teacher(code, other_token) and not store.teacher(other, token)
    assert store.lesson(lesson_plan.new_code()) is None


def test_the_teachers_token_is_compared_in_constant_time(database, monkeypatch):  # noqa: F811
    store = open_store(database)
    code, token = store.create("constant time", STEPS, hold=False)
    compared = []
    real = hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(lesson_store.hmac, "compare_digest", spy)
    assert store.teacher(code, token) and not store.teacher(code, "x" * 32)
    assert len(compared) == 2                       # every check goes through hmac.compare_digest


def test_hostile_names_are_stored_and_read_back_as_text(database):  # noqa: F811
    store = open_store(database)
    for name in HOSTILE:
        code, _ = store.create(name, STEPS, hold=False)
        assert store.lesson(code).name == name
    assert store.created_since(0) == len(HOSTILE)               # nothing dropped, nothing extra


def test_a_learner_reads_only_their_own_records_and_predictions_stay_first(database):  # noqa: F811
    store = open_store(database)
    code, _ = store.create("records", STEPS, hold=False)
    ann, bo = new_learner(), new_learner()
    assert store.join(code, ann).step == 0 and store.join(code, bo).step == 0
    assert store.move(code, ann, 1)
    assert store.predict(code, ann, 1, "overfit", "worse")
    assert store.predict(code, ann, 1, "overfit", "better")       # changed before the verdict: kept
    assert store.judge(code, ann, 1, "overfit", "worse", matched=False)
    assert store.predict(code, ann, 1, "overfit", "worse")        # after the verdict: the first stays
    store.judge(code, ann, 1, "overfit", "better", matched=True)   # a second verdict: the first stays
    assert store.challenge(code, ann, 2)
    mine = store.progress(code, ann)
    assert mine.step == 1 and mine.answers == {(1, "overfit"): ("better", "worse")} and mine.challenges == {2}
    theirs = store.progress(code, bo)
    assert theirs.step == 0 and theirs.answers == {} and theirs.challenges == frozenset()
    # An id that never joined, and another lesson's learner, read and write nothing.
    stranger = new_learner()
    assert store.progress(code, stranger) is None
    assert not store.predict(code, stranger, 1, "overfit", "worse")
    other, _ = store.create("other", STEPS, hold=False)
    assert store.progress(other, ann) is None and not store.move(other, ann, 2)
    summary = store.summary(code)
    assert summary.learners == 2 and summary.on_step == {0: 1, 1: 1} and summary.challenges == {2: 1}
    assert [(a.learner, a.card, a.prediction, a.outcome, a.matched) for a in summary.answers] == \
        [(1, "overfit", "better", "worse", False)]


def test_the_database_holds_no_learner_id_and_no_token(database):  # noqa: F811
    store = open_store(database)
    code, token, learner = one_learner(store, "secrets", 0)
    dumped = " ".join(str(value) for table in ("lessons", "learners", "answers")
                      for row in store._do(lambda cursor, t=table: cursor.all(f"SELECT * FROM {t}")) for value in row)
    assert learner not in dumped and token not in dumped
    assert learner_key(code, learner) in dumped


def test_a_closed_lesson_takes_no_more_records_and_close_and_delete_removes_everything(database):  # noqa: F811
    store = open_store(database)
    code, _ = store.create("closing", STEPS, hold=False)
    learner = new_learner()
    store.join(code, learner)
    store.close(code)
    assert store.lesson(code).closed and store.join(code, learner) is None
    assert not store.predict(code, learner, 0, "overfit", "worse") and not store.move(code, learner, 1)
    store.delete(code)
    assert store.lesson(code) is None and store.summary(code).learners == 0


def test_thirty_learners_writing_at_once_lose_no_record(database):  # noqa: F811
    store = open_store(database)
    code, _ = store.create("thirty", STEPS, hold=False)
    learners = [new_learner() for _ in range(30)]
    failures: list[BaseException] = []
    barrier = threading.Barrier(len(learners))

    def learner_does(learner: str) -> None:
        try:
            barrier.wait()
            store.join(code, learner)
            for step in range(3):
                store.move(code, learner, step)
                store.predict(code, learner, step, "overfit", "worse")
                store.judge(code, learner, step, "overfit", "worse", matched=True)
            store.challenge(code, learner, 2)
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=learner_does, args=(learner,)) for learner in learners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    summary = store.summary(code)
    assert summary.learners == 30 and summary.on_step == {2: 30} and summary.challenges == {2: 30}
    assert len(summary.answers) == 90 and all(answer.matched for answer in summary.answers)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_restart_loses_nothing_committed(backend, tmp_path):
    if backend == "postgresql":
        with own_postgres() as (url, folder):       # a server of its own: the shared one never restarts
            store = Store(url=url)
            code, token, learner = one_learner(store, "restart", 1)
            restart_postgres(folder)
            reopened_after_restart(store, code, token, learner)    # the same replica: its next connection is new
        return
    store = Store(url="", folder=tmp_path)
    code, token, learner = one_learner(store, "restart", 1)
    reopened_after_restart(Store(url="", folder=tmp_path), code, token, learner)   # a new process on the same file


def reopened_after_restart(reopened: Store, code: str, token: str, learner: str) -> None:
    assert reopened.teacher(code, token)
    assert reopened.progress(code, learner).answers == {(1, "overfit"): ("worse", None)}
    assert reopened.predict(code, learner, 2, "overfit", "better")       # and it takes writes again


def test_retention_deletes_a_lesson_thirty_days_after_it_closes(database):  # noqa: F811
    clock = Clock()
    store = open_store(database, clock)
    kept, _ = store.create("kept", STEPS, hold=False)
    closed, _ = store.create("closed", STEPS, hold=False)
    forgotten, _ = store.create("left open", STEPS, hold=False)
    learner = new_learner()
    store.join(closed, learner)
    store.predict(closed, learner, 0, "overfit", "worse")
    store.close(closed)
    clock.now += (RETENTION_DAYS - 1) * DAY
    store.purge()
    assert store.lesson(closed) is not None                  # 29 days after closing: still there
    clock.now += 2 * DAY
    assert store.purge() == 1
    assert store.lesson(closed) is None and store.summary(closed).learners == 0
    assert store.summary(closed).answers == []
    # Left open OPEN_DAYS (here 31 days): it closed itself then, and goes RETENTION_DAYS after that.
    left = store.lesson(forgotten)
    assert left.closed and left.closed_at == left.created_at + OPEN_DAYS * DAY
    clock.now = left.created_at + (OPEN_DAYS + RETENTION_DAYS - 1) * DAY
    store.purge()
    assert store.lesson(forgotten) is not None
    clock.now += 2 * DAY
    store.purge()
    assert store.lesson(forgotten) is None and store.lesson(kept) is None


@pytest.mark.parametrize("typed, expected", [("7K3M-Q9XA-2BCD-E", "7k3mq9xa2bcde"),
                                             ("7k3m q9xa 2bcd e", "7k3mq9xa2bcde"),
                                             ("OIL0000000000", "0110000000000"), ("7k3m", None), ("' OR 1=1 --", None),
                                             ("x" * 10_000, None), (None, None), ("7k3mq9xa2bcdu", None)],
                         ids=["dashed", "spaced", "look-alikes", "short", "sql", "10k", "none", "u"])
def test_class_codes_are_read_forgivingly_and_nothing_else_passes(typed, expected):
    assert lesson_plan.read_code(typed) == expected


@pytest.mark.parametrize("name, error", [("", "lesson.error_name_empty"), ("   ", "lesson.error_name_empty"),
                                         ("x" * 10_000, "lesson.error_name_long"),
                                         ("tab\there", "lesson.error_name_control"),
                                         ("nul\x00", "lesson.error_name_control"),
                                         ("bidi\u202eevil", "lesson.error_name_control")],
                         ids=["empty", "blank", "10k", "tab", "nul", "bidi"])
def test_a_bad_lesson_name_is_refused_with_its_reason(name, error):
    with pytest.raises(lesson_plan.PlanError) as refused:
        lesson_plan.read_name(name)
    assert refused.value.key == error


def test_names_in_any_script_pass():
    for name in ("Overfitting", "过拟合与正则化", "Переобучение", "التعلم العميق", "  spaced  "):
        assert lesson_plan.read_name(name) == name.strip()
    assert lesson_plan.read_learner(new_learner()) and not lesson_plan.read_learner("'; DROP TABLE x;--")
    assert not lesson_plan.read_token("a" * 31) and lesson_plan.read_token(lesson_plan.new_token())
