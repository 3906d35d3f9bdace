"""Where lessons and what their learners did are kept: SQLite by default, PostgreSQL when asked.

- **SQLite** (the standard library) is the embedded default: one file, `lessons.sqlite3`, in the
  data folder (`PTLAB_DATA_DIR`, default `data/` beside the app), in WAL mode, so `streamlit run`
  needs nothing more and replicas on one machine share the file.
- **PostgreSQL** (psycopg 3) when `PTLAB_DATABASE_URL` holds a connection URL
  (`postgresql://user@host:5432/db`): replicas on several machines behind the HAProxy set-up share it.

One schema for both, built by the numbered migrations in `MIGRATIONS`, applied in order at start,
each once (`schema_version` remembers them; a lock keeps two replicas starting together from
applying one twice). Every statement is parameterised: values never become SQL text.

What is stored, and nothing more (no names, no addresses, no session data):

- a lesson: its class code, the SHA-256 of its teacher's token, its name, its plan, whether verdicts
  are held, which steps' verdicts the teacher revealed, when it was made and closed;
- per learner (keyed by a hash of the class code and the learner's random id): the step they are on;
  per card, their prediction (the first one, made before they saw a verdict) and the answer the runs
  gave; the challenges they met.

Each operation opens its own connection and transaction. A database that restarts (or a replica's
file that is briefly locked) is retried for up to `RETRY_SECONDS`; what was committed before stays.
Retention: a lesson and its records are deleted `RETENTION_DAYS` after it closes; a lesson nobody
closes closes itself `OPEN_DAYS` after it was made (`purge`: when a store opens, when a lesson is
made, and at most every `PURGE_SECONDS` while lessons are read).
"""

import hmac
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ui.lesson_plan import Step, dump_plan, learner_key, load_plan, new_code, new_token, token_hash

URL_ENV = "PTLAB_DATABASE_URL"
DATA_ENV = "PTLAB_DATA_DIR"
DEFAULT_DATA = Path(__file__).resolve().parents[1] / "data"
FILE_NAME = "lessons.sqlite3"
RETENTION_DAYS = 30
OPEN_DAYS = 30
DAY = 86_400.0
RETRY_SECONDS = 30.0
PURGE_SECONDS = 3600.0          # the retention sweep runs at most this often in a process (and at start)
ACTIVE_SECONDS = 300.0          # a learner seen this recently counts as in class now

MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (1, (
        """CREATE TABLE lessons (
            code TEXT PRIMARY KEY,
            teacher_hash TEXT NOT NULL,
            name TEXT NOT NULL,
            plan TEXT NOT NULL,
            hold INTEGER NOT NULL DEFAULT 0,
            created_at DOUBLE PRECISION NOT NULL,
            closed_at DOUBLE PRECISION)""",
        """CREATE TABLE reveals (
            code TEXT NOT NULL REFERENCES lessons (code) ON DELETE CASCADE,
            step INTEGER NOT NULL,
            PRIMARY KEY (code, step))""",
        """CREATE TABLE learners (
            code TEXT NOT NULL REFERENCES lessons (code) ON DELETE CASCADE,
            learner TEXT NOT NULL,
            step INTEGER NOT NULL,
            joined_at DOUBLE PRECISION NOT NULL,
            seen_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (code, learner))""",
        """CREATE TABLE answers (
            code TEXT NOT NULL,
            learner TEXT NOT NULL,
            step INTEGER NOT NULL,
            card TEXT NOT NULL,
            prediction TEXT NOT NULL,
            outcome TEXT,
            matched INTEGER,
            PRIMARY KEY (code, learner, step, card),
            FOREIGN KEY (code, learner) REFERENCES learners (code, learner) ON DELETE CASCADE)""",
        """CREATE TABLE challenges (
            code TEXT NOT NULL,
            learner TEXT NOT NULL,
            step INTEGER NOT NULL,
            PRIMARY KEY (code, learner, step),
            FOREIGN KEY (code, learner) REFERENCES learners (code, learner) ON DELETE CASCADE)""",
    )),
    (2, (
        "CREATE INDEX lessons_created ON lessons (created_at)",
        "CREATE INDEX lessons_closed ON lessons (closed_at)",
    )),
)


@dataclass(frozen=True)
class Lesson:
    code: str
    name: str
    steps: list[Step]
    hold: bool
    revealed: frozenset[int]
    created_at: float
    closed_at: float | None

    @property
    def closed(self) -> bool:
        return self.closed_at is not None

    def held(self, step: int) -> bool:
        """Whether the learners of step `step` wait for the teacher to see the runs' verdicts."""
        return self.hold and step not in self.revealed


@dataclass(frozen=True)
class Progress:
    """One learner's own records: their step, their answers (step, card) -> (prediction, outcome or
    None), the steps whose challenge they met."""

    step: int
    answers: dict[tuple[int, str], tuple[str, str | None]]
    challenges: frozenset[int]


@dataclass(frozen=True)
class Answer:
    """One learner's answer to one card, for the teacher: `learner` is a number in order of joining."""

    learner: int
    step: int
    card: str
    prediction: str
    outcome: str | None
    matched: bool | None


@dataclass(frozen=True)
class Summary:
    """A lesson's class at a glance: learners per step (all, and active now), every answer, and per
    step the number of learners who met its challenge."""

    learners: int
    on_step: dict[int, int]
    active_on_step: dict[int, int]
    answers: list[Answer]
    challenges: dict[int, int]
    challengers: list[tuple[int, int]]          # (learner number, step) of every challenge met


class Store:
    """The lessons' database. `url`: a PostgreSQL URL, or None for SQLite in `folder`; by default
    from the environment. `clock`: seconds since the epoch (tests move it)."""

    def __init__(self, url: str | None = None, folder: Path | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.url = url if url is not None else os.environ.get(URL_ENV) or None
        self.clock = clock
        if self.url:
            import psycopg

            self.backend = "postgresql"
            self._errors: tuple[type[BaseException], ...] = (psycopg.OperationalError,)
        else:
            self.backend = "sqlite"
            self.path = Path(folder or os.environ.get(DATA_ENV) or DEFAULT_DATA) / FILE_NAME
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._errors = (sqlite3.OperationalError,)
        self.migrate()
        self.purge()
        self._purged_at = self.clock()

    # -------------------------------------------------------------- connections and statements
    def _connect(self) -> Any:
        if self.backend == "postgresql":
            import psycopg

            return psycopg.connect(self.url, connect_timeout=10)
        connection = sqlite3.connect(self.path, timeout=RETRY_SECONDS, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA foreign_keys=ON")
        return connection

    @contextmanager
    def _transaction(self) -> Iterator["_Cursor"]:
        connection = self._connect()
        try:
            if self.backend == "sqlite":
                connection.execute("BEGIN IMMEDIATE")
            cursor = _Cursor(connection.cursor(), self.backend)
            yield cursor
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.close()

    def _do(self, work: Callable[["_Cursor"], Any]) -> Any:
        """Run `work` in one transaction, again while the database is unreachable or locked, for up
        to RETRY_SECONDS (then the error is raised: the page says the class could not be saved)."""
        deadline, pause = time.monotonic() + RETRY_SECONDS, 0.1
        while True:
            try:
                with self._transaction() as cursor:
                    return work(cursor)
            except self._errors:
                if time.monotonic() > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 2.0)

    def migrate(self) -> int:
        """Apply the migrations not yet applied, in order; the schema's version after."""

        def work(cursor: _Cursor) -> int:
            if self.backend == "postgresql":
                cursor.execute("SELECT pg_advisory_xact_lock(7261)")      # one replica migrates at a time
            cursor.execute("CREATE TABLE IF NOT EXISTS schema_version "
                           "(version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)")
            applied = {row[0] for row in cursor.all("SELECT version FROM schema_version")}
            for version, statements in MIGRATIONS:
                if version in applied:
                    continue
                for statement in statements:
                    cursor.execute(statement)
                cursor.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                               (version, self.clock()))
            return max(applied | {version for version, _ in MIGRATIONS})

        return self._do(work)

    def version(self) -> int:
        return self._do(lambda cursor: cursor.one("SELECT MAX(version) FROM schema_version")[0])

    # -------------------------------------------------------------- lessons
    def create(self, name: str, steps: list[Step], hold: bool) -> tuple[str, str]:
        """A new lesson (name and steps already checked); its (class code, teacher token)."""
        self.purge()
        token = new_token()

        def work(cursor: _Cursor) -> str:
            while True:
                code = new_code()
                if cursor.one("SELECT 1 FROM lessons WHERE code = ?", (code,)) is None:
                    break
            cursor.execute("INSERT INTO lessons (code, teacher_hash, name, plan, hold, created_at) "
                           "VALUES (?, ?, ?, ?, ?, ?)",
                           (code, token_hash(token), name, dump_plan(steps), int(hold), self.clock()))
            return code

        return self._do(work), token

    def created_since(self, moment: float) -> int:
        """How many lessons were made after `moment` (the hosted rate limit counts them)."""
        return self._do(lambda cursor: cursor.one("SELECT COUNT(*) FROM lessons WHERE created_at > ?",
                                                  (moment,))[0])

    def due(self) -> None:
        """Sweep for retention if the last sweep of this process is PURGE_SECONDS old."""
        if self.clock() - self._purged_at >= PURGE_SECONDS:
            self._purged_at = self.clock()
            self.purge()

    def lesson(self, code: str) -> Lesson | None:
        self.due()

        def work(cursor: _Cursor) -> Lesson | None:
            row = cursor.one("SELECT code, name, plan, hold, created_at, closed_at FROM lessons WHERE code = ?",
                             (code,))
            if row is None:
                return None
            revealed = frozenset(step for (step,) in cursor.all("SELECT step FROM reveals WHERE code = ?", (code,)))
            return Lesson(row[0], row[1], load_plan(row[2]), bool(row[3]), revealed, row[4], row[5])

        return self._do(work)

    def teacher(self, code: str, token: str) -> bool:
        """Whether `token` is the teacher's token of lesson `code`; the hashes are compared in
        constant time (the time taken says nothing about how much of a wrong token was right)."""
        row = self._do(lambda cursor: cursor.one("SELECT teacher_hash FROM lessons WHERE code = ?", (code,)))
        stored = row[0] if row is not None else token_hash("")
        return hmac.compare_digest(token_hash(token).encode(), stored.encode()) and row is not None

    def set_hold(self, code: str, hold: bool) -> None:
        self._do(lambda cursor: cursor.execute("UPDATE lessons SET hold = ? WHERE code = ?", (int(hold), code)))

    def reveal(self, code: str, step: int) -> None:
        self._do(lambda cursor: cursor.execute(
            "INSERT INTO reveals (code, step) VALUES (?, ?) ON CONFLICT (code, step) DO NOTHING", (code, step)))

    def close(self, code: str) -> None:
        self._do(lambda cursor: cursor.execute(
            "UPDATE lessons SET closed_at = ? WHERE code = ? AND closed_at IS NULL", (self.clock(), code)))

    def delete(self, code: str) -> None:
        self._do(lambda cursor: cursor.execute("DELETE FROM lessons WHERE code = ?", (code,)))

    def purge(self) -> int:
        """Close lessons left open OPEN_DAYS, delete those closed RETENTION_DAYS ago; how many went."""
        now = self.clock()

        def work(cursor: _Cursor) -> int:
            cursor.execute("UPDATE lessons SET closed_at = created_at + ? WHERE closed_at IS NULL AND created_at < ?",
                           (OPEN_DAYS * DAY, now - OPEN_DAYS * DAY))
            return cursor.execute("DELETE FROM lessons WHERE closed_at < ?", (now - RETENTION_DAYS * DAY,))

        return self._do(work)

    # -------------------------------------------------------------- a learner's records
    def join(self, code: str, learner: str) -> Progress | None:
        """The learner's records in lesson `code` (made at step 0 on their first visit), marked seen
        now; None if the lesson does not exist or has closed."""
        key, now = learner_key(code, learner), self.clock()

        def work(cursor: _Cursor) -> Progress | None:
            if cursor.one("SELECT 1 FROM lessons WHERE code = ? AND closed_at IS NULL", (code,)) is None:
                return None
            cursor.execute("INSERT INTO learners (code, learner, step, joined_at, seen_at) VALUES (?, ?, 0, ?, ?) "
                           "ON CONFLICT (code, learner) DO UPDATE SET seen_at = excluded.seen_at",
                           (code, key, now, now))
            return _progress(cursor, code, key)

        return self._do(work)

    def progress(self, code: str, learner: str) -> Progress | None:
        return self._do(lambda cursor: _progress(cursor, code, learner_key(code, learner)))

    def seen(self, code: str, learner: str) -> bool:
        """The learner has the lesson open now (the teacher's view counts them active)."""
        return self._learner_write(code, learner, None, lambda key, now: ())

    def move(self, code: str, learner: str, step: int) -> bool:
        """The learner is now on step `step` (an open lesson only); whether it was recorded."""
        return self._learner_write(code, learner, "UPDATE learners SET step = ?, seen_at = ? "
                                   "WHERE code = ? AND learner = ?", lambda key, now: (step, now, code, key))

    def predict(self, code: str, learner: str, step: int, card: str, prediction: str) -> bool:
        """The learner's prediction for a card, kept until the runs have given it a verdict (a
        later prediction, made after seeing one, does not replace it)."""
        return self._learner_write(
            code, learner, "INSERT INTO answers (code, learner, step, card, prediction) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (code, learner, step, card) DO UPDATE SET prediction = excluded.prediction "
            "WHERE answers.outcome IS NULL", lambda key, now: (code, key, step, card, prediction))

    def judge(self, code: str, learner: str, step: int, card: str, outcome: str, matched: bool) -> bool:
        """What the runs gave for the learner's prediction (the first verdict stays)."""
        return self._learner_write(
            code, learner, "UPDATE answers SET outcome = ?, matched = ? "
            "WHERE code = ? AND learner = ? AND step = ? AND card = ? AND outcome IS NULL",
            lambda key, now: (outcome, int(matched), code, key, step, card))

    def challenge(self, code: str, learner: str, step: int) -> bool:
        return self._learner_write(
            code, learner, "INSERT INTO challenges (code, learner, step) VALUES (?, ?, ?) "
            "ON CONFLICT (code, learner, step) DO NOTHING", lambda key, now: (code, key, step))

    def _learner_write(self, code: str, learner: str, statement: str | None,
                       values: Callable[[str, float], tuple]) -> bool:
        key, now = learner_key(code, learner), self.clock()

        def work(cursor: _Cursor) -> bool:
            known = cursor.one("SELECT 1 FROM learners JOIN lessons ON lessons.code = learners.code "
                               "WHERE learners.code = ? AND learners.learner = ? AND lessons.closed_at IS NULL",
                               (code, key))
            if known is None:
                return False
            if statement is not None:
                cursor.execute(statement, values(key, now))
            cursor.execute("UPDATE learners SET seen_at = ? WHERE code = ? AND learner = ?", (now, code, key))
            return True

        return self._do(work)

    # -------------------------------------------------------------- the teacher's view
    def summary(self, code: str) -> Summary:
        now = self.clock()

        def work(cursor: _Cursor) -> Summary:
            learners = cursor.all("SELECT learner, step, seen_at FROM learners WHERE code = ? "
                                  "ORDER BY joined_at, learner", (code,))
            number = {key: place for place, (key, _, _) in enumerate(learners, start=1)}
            on_step: dict[int, int] = {}
            active: dict[int, int] = {}
            for _, step, seen_at in learners:
                on_step[step] = on_step.get(step, 0) + 1
                if seen_at > now - ACTIVE_SECONDS:
                    active[step] = active.get(step, 0) + 1
            answers = [Answer(number[key], step, card, prediction, outcome, None if matched is None else bool(matched))
                       for key, step, card, prediction, outcome, matched in cursor.all(
                           "SELECT learner, step, card, prediction, outcome, matched FROM answers WHERE code = ?",
                           (code,))]
            answers.sort(key=lambda answer: (answer.step, answer.card, answer.learner))
            challengers = sorted((number[key], step) for key, step in cursor.all(
                "SELECT learner, step FROM challenges WHERE code = ?", (code,)))
            challenges: dict[int, int] = {}
            for _, step in challengers:
                challenges[step] = challenges.get(step, 0) + 1
            return Summary(len(learners), on_step, active, answers, challenges, challengers)

        return self._do(work)


def _progress(cursor: "_Cursor", code: str, key: str) -> Progress | None:
    row = cursor.one("SELECT step FROM learners WHERE code = ? AND learner = ?", (code, key))
    if row is None:
        return None
    answers = {(step, card): (prediction, outcome) for step, card, prediction, outcome in cursor.all(
        "SELECT step, card, prediction, outcome FROM answers WHERE code = ? AND learner = ?", (code, key))}
    met = frozenset(step for (step,) in cursor.all("SELECT step FROM challenges WHERE code = ? AND learner = ?",
                                                   (code, key)))
    return Progress(row[0], answers, met)


class _Cursor:
    """One dialect of SQL for both databases: statements use `?` for each value, and PostgreSQL's
    driver gets `%s` (no statement here holds a literal `?` or `%`)."""

    def __init__(self, cursor: Any, backend: str) -> None:
        self.cursor, self.backend = cursor, backend

    def execute(self, statement: str, values: tuple = ()) -> int:
        if self.backend == "postgresql":
            statement = statement.replace("?", "%s")
        self.cursor.execute(statement, values)
        return self.cursor.rowcount

    def one(self, statement: str, values: tuple = ()) -> tuple | None:
        self.execute(statement, values)
        return self.cursor.fetchone()

    def all(self, statement: str, values: tuple = ()) -> list[tuple]:
        self.execute(statement, values)
        return self.cursor.fetchall()


_STORE: Store | None = None
_STORE_LOCK = threading.Lock()


def store() -> Store:
    """This process's store, opened (and migrated) on first use."""
    global _STORE
    with _STORE_LOCK:
        if _STORE is None:
            _STORE = Store()
        return _STORE
