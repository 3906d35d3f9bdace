"""The lessons' two databases for the tests: SQLite in a temporary folder, and a real PostgreSQL.

PostgreSQL: `.ci/run` starts one (`scripts/test_postgres.sh`) and exports its URL and folder in
`PTLAB_TEST_POSTGRES_URL` and `PTLAB_TEST_POSTGRES_DIR`; without them, the first test that needs it
starts its own in a temporary folder (root, or sudo, and Debian's `postgresql` package). Each test
gets a fresh database on that server. A test that restarts PostgreSQL starts a server of its own
(`own_postgres`): restarting the shared one would take the database away from a test running beside
it in the other worker. On CI (`CI` set) a missing PostgreSQL is a failure; elsewhere those tests
skip with the install hint.
"""

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.browser import free_port

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "test_postgres.sh"
URL_ENV, DIR_ENV = "PTLAB_TEST_POSTGRES_URL", "PTLAB_TEST_POSTGRES_DIR"
BACKENDS = ("sqlite", "postgresql")
_server: dict[str, str] = {}


def _unavailable(why: str) -> None:
    message = f"PostgreSQL for the lesson tests: {why} (apt-get install -y postgresql; .ci/run starts it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)                # a developer machine without PostgreSQL; CI installs it


def _start() -> tuple[str, str]:
    """A new server in a temporary folder on a free port: (URL of its `postgres` database, folder)."""
    if not shutil.which("runuser") or not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        _unavailable("not installed")
    folder = tempfile.mkdtemp(prefix="ptlab-pg-")
    started = subprocess.run([str(SCRIPT), "start", folder, str(free_port())], capture_output=True, text=True)
    if started.returncode:
        _unavailable(started.stderr.strip())
    return started.stdout.strip(), folder


def _stop(folder: str) -> None:
    subprocess.run([str(SCRIPT), "stop", folder], capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


def postgres_server() -> tuple[str, str]:
    """(URL of the shared server's `postgres` database, its folder), starting one once per process
    if `.ci/run` did not. Never restarted (see `own_postgres`)."""
    if not _server:
        if os.environ.get(URL_ENV) and os.environ.get(DIR_ENV):
            _server.update(url=os.environ[URL_ENV], dir=os.environ[DIR_ENV])
        else:
            url, folder = _start()
            _server.update(url=url, dir=folder)
            import atexit

            atexit.register(_stop, folder)
    return _server["url"], _server["dir"]


@contextmanager
def own_postgres() -> Iterator[tuple[str, str]]:
    """A server for one test that restarts it: (URL of a fresh database on it, its folder); stopped
    and removed after."""
    url, folder = _start()
    try:
        yield fresh_postgres_database(url), folder
    finally:
        _stop(folder)


def restart_postgres(folder: str) -> None:
    """Stop and start the server in `folder` (what was committed stays)."""
    subprocess.run([str(SCRIPT), "restart", folder], check=True, capture_output=True)


def fresh_postgres_database(server: str | None = None) -> str:
    """The URL of a new, empty database on the shared test server, or on the server whose
    `postgres` database is at `server`."""
    import psycopg

    url = server or postgres_server()[0]
    name = f"ptlab_{secrets.token_hex(6)}"
    deadline = time.monotonic() + 60          # a server just started may still be coming up
    while True:
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=10) as connection:
                connection.execute(f"CREATE DATABASE {name}")         # a name made here, never input
            return url.rsplit("/", 1)[0] + "/" + name
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.fixture(params=BACKENDS)
def database(request, tmp_path) -> Iterator[dict[str, str]]:
    """The environment that points the app at a fresh database of each kind."""
    if request.param == "sqlite":
        yield {"PTLAB_DATA_DIR": str(tmp_path / "data"), "PTLAB_DATABASE_URL": ""}
    else:
        yield {"PTLAB_DATABASE_URL": fresh_postgres_database(), "PTLAB_DATA_DIR": str(tmp_path / "unused")}
