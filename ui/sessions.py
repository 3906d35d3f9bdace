"""A learner's session on the server: its own id, whether its browser is still there, and the
server's memory policy applied on every run (`enter_page`): runs on other pages stopped, runs of
closed sessions stopped, models of absent learners put away, a session kept under its cap."""

import os
import secrets
import threading

import streamlit as st

from ui import audit, session_memory
from ui import runner as jobs
from ui.records import PAGE_KEY

REPLAYS_ENV = "PTLAB_REPLAYS"              # 1 / 0: play runs equal to a recorded one (default: hosted mode)
IDLE_ENV = "PTLAB_IDLE_MINUTES"           # put a session's models away after this long unseen (hosted: 10)
SESSION_ENV = "PTLAB_SESSION_MB"          # over this, models on the learner's other pages are put away (hosted: 24)
SESSION_ID = "_ptlab_session"  # session key: this session's own random id, the owner of its runs

_GONE: set[str] = set()        # the ids of sessions whose browser has gone (a closed tab)

_GONE_LOCK = threading.Lock()



def _left(owner: str) -> None:
    """Streamlit releases a session's session-scoped resources when its browser disconnects."""
    with _GONE_LOCK:
        _GONE.add(owner)



@st.cache_resource(scope="session", on_release=_left, show_spinner=False)
def _present(owner: str) -> str:
    """Held for as long as the session is connected (made again after a dropped connection)."""
    with _GONE_LOCK:
        _GONE.discard(owner)
    return owner



def session_id() -> str:
    """This session's id (random, kept in its Session State), marked present while it is connected."""
    owner = st.session_state.get(SESSION_ID)
    if owner is None:
        owner = st.session_state[SESSION_ID] = secrets.token_hex(8)
    _present(owner)
    return owner



def _session_gone(owner: str) -> bool:
    with _GONE_LOCK:
        return owner in _GONE



def _setting(env: str, hosted_default: float) -> float:
    from ui.hosted import hosted

    raw = os.environ.get(env, "").strip()
    return float(raw) if raw else (hosted_default if hosted() else 0.0)



def _cpu_only() -> bool:
    from engine.device import pick_device  # a runner exists: torch is loaded

    return pick_device().type == "cpu"



def configure(runner: jobs.Runner) -> jobs.Runner:
    """The server's memory policy, on the runner: replays of equal runs and the idle time after
    which a session's models are put away. Both rest on a run giving the same numbers every time,
    which holds bit for bit on the CPU (the server's thread count is fixed for its life), not for
    every GPU kernel: on by default in hosted mode on a server without a GPU; the environment
    variables turn them on or off anywhere."""
    runner.gone = _session_gone
    runner.shared = audit.shared_objects           # never copied into a learner's own model
    runner.size_of = session_memory.nbytes         # a recording's bytes, for the store's bound
    exact = _cpu_only()
    runner.replays = _setting(REPLAYS_ENV, 1 if exact else 0) > 0
    runner.idle_seconds = 60 * _setting(IDLE_ENV, 10 if exact else 0)
    return runner



_PRERECORDING: list[threading.Thread] = []


def start_prerecording() -> None:
    """Hosted mode, on a server without a GPU: record the pages' default runs and the cards' runs
    in the background (`ui.prerecord`), once per server process, from its first session on."""
    from ui.mode import hosted  # not ui.hosted: the home page never loads torch

    if _PRERECORDING or not hosted():
        return

    def record() -> None:
        # imports the engines (torch): on this thread, never on the page's own
        from ui import prerecord

        prerecord.start(configure(jobs.runner()))

    _PRERECORDING.append(threading.Thread(target=record, name="ptlab-prerecord-start", daemon=True))
    _PRERECORDING[0].start()


def enter_page(page: str) -> None:
    """The entry file calls this on every run with the page about to show: the learner's jobs
    on other pages are stopped (their results stay), and jobs of closed sessions too. Models of
    sessions not seen for a while are put away; so are this learner's models on other pages when
    their session keeps more than its cap (hosted mode)."""
    st.session_state[PAGE_KEY] = page
    runner = jobs.existing()
    if runner is None:                      # nobody has started a run yet (and torch may not be loaded)
        return
    configure(runner)
    owner = session_id()
    if owner:
        runner.touch(owner)
        runner.cancel_owner(owner, keep_page=page)
    runner.cancel_where(_session_gone)
    runner.sweep()
    cap = _setting(SESSION_ENV, 24) * 1e6
    if owner and cap > 0:
        keep_under_cap(runner, owner, page, cap)



def keep_under_cap(runner: jobs.Runner, owner: str, page: str, cap: float) -> int:
    """Put away the owner's finished models on other pages, oldest first, until what their session
    keeps is under `cap` bytes (or none is left to put away); returns how many were put away."""
    others = [job for job in runner.finished_jobs(owner) if job.page != page]
    dropped = 0
    while others and session_bytes() > cap:
        dropped += runner.put_away(others.pop(0))
    return dropped



def session_bytes(state: dict | None = None) -> int:
    """Bytes a session's state (this session's by default) keeps beyond what the server shares."""
    state = st.session_state.to_dict() if state is None else state
    return session_memory.nbytes(state, skip=session_memory.shared_storages(audit.shared_objects()))



def seen() -> None:
    """This learner is here now (their models are not put away while they are)."""
    runner, owner = jobs.existing(), session_id()
    if runner is not None and owner:
        runner.touch(owner)

