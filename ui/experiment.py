"""The one live-experiment helper every training page uses.

`experiment(...)` draws the controls (Run, Pause / Resume, Step, Stop), the run's status (its
place in the queue, the step it reached, the device it runs on), the note when the settings
changed since, and the page's own drawing of the latest step. The run itself is a job of the
server-wide runner (`ui.runner`): it lives beside the page's script, so a rerun (a slider, the
language switch, a lab) never ends it; the drawing sits in a fragment that redraws on a timer
while the job is active. The learner's run is kept as a `RunRecord` in their session.
"""

import dataclasses
import functools
import math
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from engine.errors import InputError
from engine.training import TrainingStep
from ui import audit, links, session_memory
from ui import runner as jobs
from ui.i18n import text
from ui.widgets import show_input_error

REFRESH_SECONDS = 1.0          # how often an active run's drawing is refreshed
QUEUED_REFRESH_SECONDS = 3.0   # how often a waiting run's place is: a full class waits, and every
                               # refresh is a rerun the one server makes for that learner
FAR_REFRESH_SECONDS = 8.0      # ... and, further back than FAR_POSITION, every this many seconds
FAR_POSITION = 3
REPLAYS_ENV = "PTLAB_REPLAYS"              # 1 / 0: play runs equal to a recorded one (default: hosted mode)
IDLE_ENV = "PTLAB_IDLE_MINUTES"           # put a session's models away after this long unseen (hosted: 10)
SESSION_ENV = "PTLAB_SESSION_MB"          # over this, models on the learner's other pages are put away (hosted: 24)
PAGE_KEY = "ptlab_page"        # session key: the page the learner is on (set by the entry file)
AUTORUN = "_autorun_{key}"     # session key: start experiment `key` in this script run (ui.cards sets it)


@dataclass(frozen=True)
class TakeHome:
    """What the experiment's "Download as a script" exports: `name` is an `engine.export.PAGES` key,
    `settings` what `engine.export.script` fills in (the page's current config objects), `files` makes
    the files that travel with it (the learner's pictures), only when the button is pressed."""

    name: str
    settings: dict
    files: Callable[[], dict[str, bytes]] | None = None


def take_home_button(take_home: TakeHome, where=st, disabled: bool = False) -> None:
    """Download as a script: this experiment as set up now, one standalone PyTorch file (a `.zip`
    with the data it reads), built when pressed (on a thread of its own, not in the page's run).
    `disabled` when the settings cannot run (the page shows why), as Run is."""
    from engine import export

    name = export.file_name(take_home.name)

    def build() -> bytes:
        files = take_home.files() if take_home.files is not None else None
        return export.package(take_home.name, files=files, **take_home.settings)[1]

    zipped = name.endswith(".zip")
    needs, _ = export.requirements(take_home.name)
    where.download_button(text("common.export"), build, file_name=name, key=f"export_{take_home.name}",
                       mime="application/zip" if zipped else "text/x-python", on_click="ignore",
                       icon=":material/download:", type="tertiary", disabled=disabled,
                       help=text("common.export_help_zip" if zipped else "common.export_help",
                                 needs=", ".join(needs), folder=name.removesuffix(".zip"),
                                 command=export.command(take_home.name, **take_home.settings)))


@dataclass(eq=False)
class RunRecord:
    """One learner's run on one experiment: the settings it used and its job (which holds the
    latest step). The same record on every page; `model` is what the engine reports under
    `extras["model"]` (a module, or a dict of them), kept when the run is paused or stopped."""

    config: Any
    data_key: Any
    job: jobs.Job
    started: float = field(default_factory=time.time)
    settings: dict = field(default_factory=dict, repr=False)   # the linked widgets it was started with
    previous: "RunRecord | None" = field(default=None, repr=False)   # the run before, for faint curves
    put_away_from: jobs.Job | None = field(default=None, repr=False)  # the put-away run being brought back

    @property
    def step(self) -> TrainingStep | None:
        """The latest report; until a put-away model is back, the put-away run's last one (the same
        curves and numbers, which the run bringing it back ends on)."""
        if self.job.rebuilt and self.job.state != jobs.FINISHED and self.put_away_from is not None:
            return self.put_away_from.last
        return self.job.last

    @property
    def identity(self) -> tuple[int, float]:
        """This run, the same once its model was put away and brought back (a new job then)."""
        return id(self), self.started

    @property
    def views(self) -> dict:
        """Derived views, cached per report; they live on the job, so putting its model away drops them too."""
        return self.job.views

    @views.setter
    def views(self, value: dict) -> None:
        self.job.views = value

    @property
    def model(self) -> Any:
        return None if self.job.last is None else self.job.last.extras.get("model")

    @property
    def active(self) -> bool:
        return self.job.active

    @property
    def complete(self) -> bool:
        return self.job.state == jobs.FINISHED

    @property
    def device(self) -> str:
        reported = None if self.job.last is None else self.job.last.extras.get("device")
        return device_label(reported)

    def matches(self, config: Any, data_key: Any = None) -> bool:
        return self.config == config and self.data_key == data_key

    def usable(self, data_key: Any = None) -> bool:
        """A model trained so far that a lab may use now: not being trained, same data."""
        return self.model is not None and not self.active and self.data_key == data_key

    def cached(self, name: str, compute: Callable[..., Any], *args: Any) -> Any:
        """`compute(*args)` once per report of this run (a lab slider then costs only drawing)."""
        key = (name, args, self.job.version)
        if key not in self.views:
            self.views = {k: v for k, v in self.views.items() if k[2] == self.job.version}
            self.views[key] = compute(*args)
        return self.views[key]


def device_label(reported: str | None) -> str:
    from engine.device import device_label as label  # imports torch: a run exists, so it is loaded

    return label(reported)


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
    exact = _cpu_only()
    runner.replays = _setting(REPLAYS_ENV, 1 if exact else 0) > 0
    runner.idle_seconds = 60 * _setting(IDLE_ENV, 10 if exact else 0)
    return runner


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


def _faded(record: RunRecord | None) -> RunRecord | None:
    """What is kept of a finished or stopped run to draw it faintly beside the next: its settings
    and last report, without its model (a session keeps one model per experiment, not two)."""
    if record is None or record.step is None:
        return None
    last = record.step
    job = jobs.Job(record.job.start, state=jobs.STOPPED if record.job.state != jobs.FINISHED else jobs.FINISHED,
                   last=dataclasses.replace(last, extras={k: v for k, v in last.extras.items() if k != "model"}))
    return RunRecord(record.config, record.data_key, job, record.started, settings=record.settings)


def replay_key(key: str, config: Any, data_key: Any) -> Any:
    """What makes two runs of experiment `key` equal (None if it cannot be compared)."""
    try:
        hash((key, config, data_key))
    except TypeError:
        return None
    return key, config, data_key


def _start(key: str, start: Callable[[], Iterator[TrainingStep]], config: Any, data_key: Any,
           stepping: bool = False, settings: dict | None = None, pace: float = 0.0, replay: bool = True) -> None:
    runner = configure(jobs.runner())
    old = st.session_state.get(key)
    if isinstance(old, RunRecord) and not old.job.done:
        runner.stop(old.job)
    pace *= float(os.environ.get("PTLAB_PACE_SCALE", "1"))     # the test suite sets 0: no pacing
    job = jobs.Job(start, owner=session_id(), page=st.session_state.get(PAGE_KEY, ""), pace=pace, kind=key,
                   replay_key=replay_key(key, config, data_key) if replay else None)
    previous = _faded(old) if isinstance(old, RunRecord) else None
    st.session_state[key] = RunRecord(config, data_key, job, settings=settings or {}, previous=previous)
    runner.submit(job, paused_after_first=stepping)


def _step(key: str, start, config, data_key, settings: dict | None = None, replay: bool = True) -> None:
    """Step: a paused run goes on for one report. A run that is going on (a second click, or one that
    reached the server after the first had resumed the run) pauses after its next report: it is never
    replaced by a new run. Otherwise a new run starts and pauses after its first report."""
    record = st.session_state.get(key)
    if isinstance(record, RunRecord) and (record.job.state == jobs.PAUSED or record.job.state in jobs.ACTIVE):
        jobs.runner().resume(record.job, steps_once=True)
    else:
        _start(key, start, config, data_key, stepping=True, settings=settings, replay=replay)


def bring_back(record: RunRecord) -> None:
    """If `record`'s model was put away, get it again from the run's own settings: runs are
    deterministic, so the model that comes back is the one the learner had (played back when an
    equal run is still recorded, else trained). A bringing-back that was stopped (the learner left
    the page) or failed falls back to the put-away run, to be tried again on the next visit."""
    job = record.job
    if job.rebuilt and job.done and job.state != jobs.FINISHED and record.put_away_from is not None:
        record.job, job = record.put_away_from, record.put_away_from
    if not job.put_away:
        return
    record.put_away_from = job
    record.job = jobs.Job(job.start, owner=session_id(), page=job.page, kind=job.kind, replay_key=job.replay_key,
                          rebuilt=True)
    configure(jobs.runner()).submit(record.job)


def _skip_pace(key: str) -> None:
    record = st.session_state.get(key)
    if isinstance(record, RunRecord):
        jobs.runner().skip_pace(record.job)


def previous_note(record: RunRecord, drawn: dict) -> None:
    """Under the status: the previous run is drawn faintly, and which settings changed since
    (labelled and formatted as the widgets in `drawn` show them now)."""
    if record.previous is None:
        return
    changes = links.changed_settings(record.previous.settings, record.settings, drawn)
    st.caption(text("common.changed_settings", changes="; ".join(changes)) if changes
               else text("common.same_settings"))


def seen() -> None:
    """This learner is here now (their models are not put away while they are)."""
    runner, owner = jobs.existing(), session_id()
    if runner is not None and owner:
        runner.touch(owner)


def lab(function: Callable[..., None]) -> Callable[..., None]:
    """`st.fragment` for a lab on a trained model: a lab's own rerun counts as the learner being
    here (so their models are not put away while they use it), and a lab whose run had its model
    put away meanwhile reruns the whole page, which trains it again (`experiment`)."""

    @st.fragment
    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> None:
        seen()
        given = [*args, *kwargs.values()]
        given += [value for arg in given if isinstance(arg, dict) for value in arg.values()]
        if any(isinstance(arg, RunRecord) and arg.job.put_away for arg in given):
            st.rerun(scope="app")
        function(*args, **kwargs)

    return run


def _pause_or_resume(key: str, resume: bool) -> None:
    """What the button said when it was drawn: Resume, or Pause. A click that reaches the server twice,
    or late, does what its label said (never the opposite), and nothing once that is done."""
    record = st.session_state.get(key)
    if not isinstance(record, RunRecord):
        return
    if resume and record.job.state == jobs.PAUSED:
        jobs.runner().resume(record.job)
    elif not resume and record.job.state in jobs.ACTIVE:
        jobs.runner().pause(record.job)


def _stop(key: str) -> None:
    record = st.session_state.get(key)
    if isinstance(record, RunRecord):
        jobs.runner().stop(record.job)


def wait_words(seconds: float) -> str:
    """A wait, rounded up as a learner reads it: "10 s" (to 5 s) under a minute, else "3 min"."""
    if seconds < 57.5:
        return text("common.wait_seconds", n=max(5, 5 * math.ceil(seconds / 5)))
    return text("common.wait_minutes", n=math.ceil(seconds / 60))


def ago_words(seconds: float) -> str:
    """How long ago, as a learner reads it: "10 s", "3 min", "2 h"."""
    seconds = max(seconds, 0.0)
    return wait_words(seconds) if seconds < 3570 else text("common.wait_hours", n=round(seconds / 3600))


def status_line(record: RunRecord) -> None:
    """Where the run stands, in one line."""
    state, step, error, _ = jobs.snapshot(record.job)
    replayed = record.job.replayed is not None
    where = {"step": step.step if step else 0, "total": step.total if step else "?", "device": record.device}
    if state == jobs.QUEUED:
        position = jobs.runner().position(record.job)
        wait = jobs.runner().wait_estimate(record.job)
        words = text("common.run_queued", position=position or 1) if wait is None else \
            text("common.run_queued_wait", position=position or 1, wait=wait_words(wait))
        st.info(words, icon=":material/hourglass_top:")
    elif state == jobs.RUNNING:
        if step is None:
            st.info(text("common.run_preparing", device=record.device), icon=":material/hourglass_top:")
        else:
            st.progress(step.fraction_done, text=text("common.run_replaying" if replayed else "common.run_running",
                                                      **where))
    elif state == jobs.PAUSED:
        if step is not None:
            st.progress(step.fraction_done, text=text("common.run_paused_replay" if replayed else "common.run_paused",
                                                      **where))
        else:                                           # paused while it waited in the queue
            st.info(text("common.run_paused_replay_waiting" if replayed else "common.run_paused_waiting"),
                    icon=":material/pause:")
    elif state == jobs.STOPPED:
        if step is None:
            st.caption(text("common.run_stopped_early"))
        else:
            st.caption(text("common.run_stopped_replay" if replayed else "common.run_stopped", **where))
    elif state == jobs.FINISHED and step is not None:
        st.caption(text("common.run_finished_replay" if replayed else "common.run_finished", total=step.total,
                        seconds=f"{step.seconds:.1f}", device=record.device))
    if replayed and not record.job.rebuilt and state != jobs.FAILED:
        st.caption(text("common.replay_note", ago=ago_words(time.time() - record.job.replayed)))
    if record.job.rebuilt and state in jobs.ACTIVE:
        st.caption(text("common.rebuilding"))
    elif record.job.rebuilt and state == jobs.FINISHED:
        st.caption(text("common.rebuilt"))
    elif state == jobs.FAILED:
        if isinstance(error, InputError):
            show_input_error(error)
        else:
            st.error(text("common.run_failed", error=f"{type(error).__name__}: {error}"), icon=":material/error:")


def experiment(key: str, start: Callable[[], Iterator[TrainingStep]], config: Any, data_key: Any = None, *,
               draw: Callable[[RunRecord], None], idle: str | None = None, error: InputError | None = None,
               run_label: str | None = None, steps: bool = True, disabled: bool = False,
               pace: float = 0.0, replay: bool = True, take_home: TakeHome | None = None) -> RunRecord | None:
    """The experiment `key` of this page: the learner's record is `st.session_state[key]`, the Run
    button's key is `act_<key>` (e.g. key "multitask_train", button "act_multitask_train") and the
    others `act_<key>_pause`, `act_<key>_step`, `act_<key>_stop`.

    start: makes the engine's generator for the current settings (called in a worker).
    config, data_key: what the run depends on; a record made with others gets the stale note.
    draw: draws a record's latest step (called whenever there is one, live and afterwards).
    idle: the text shown before the first run. error: the settings' InputError; it disables Run.
    disabled: Run and Step are off without an error to show (no data chosen yet).
    steps: offer Pause and Step (a run that reports once, like a timing race, may not).
    pace: spread a run's reports over at least this many seconds, with a "Skip to the end" button
    (a run that trains in a blink can then be watched).
    replay: a run equal to one recorded on this server may be played from the recording (hosted
    mode); False for runs that measure time, whose results differ from one run to the next.
    take_home: the experiment as a standalone script, offered beside the controls ("Download as a script").
    The linked widgets drawn since the previous experiment of this run are this experiment's
    settings: a new run lists those that changed under its status, beside the faint previous run
    (`record.previous`, which the page's `draw` may show with `ui.charts.with_previous`).
    Returns the learner's record for this experiment (None before the first run)."""
    record = st.session_state.get(key)
    autorun = st.session_state.get(AUTORUN.format(key=key), False)
    if isinstance(record, RunRecord) and not autorun:
        bring_back(record)                  # the learner is back: the model they trained, got again
    shown_active = isinstance(record, RunRecord) and record.active
    blocked = disabled or error is not None
    drawn = links.drawn_settings()                 # key -> (label, value, format_func), this run's language
    settings = {k: value for k, (_, value, _) in drawn.items()}
    from ui.cards import remember_settings

    remember_settings(key, settings)
    if st.session_state.pop(AUTORUN.format(key=key), False) and not blocked:
        # a card's "Set up and run" (stops a live run)
        _start(key, start, config, data_key, False, settings, pace, replay)
        record = st.session_state.get(key)
        shown_active = isinstance(record, RunRecord) and record.active
    # waiting behind others (not just submitted to a free worker that has yet to take it)
    shown_waiting = shown_active and record.job.state == jobs.QUEUED and jobs.runner().full()
    if shown_waiting:
        far = (jobs.runner().position(record.job) or 0) > FAR_POSITION
        refresh = FAR_REFRESH_SECONDS if far else QUEUED_REFRESH_SECONDS
    else:
        refresh = REFRESH_SECONDS if shown_active else None

    @st.fragment(run_every=refresh, key=f"fragment_{key}")
    def live() -> None:
        seen()                              # watching a run is being here
        record = st.session_state.get(key)
        if not isinstance(record, RunRecord):
            record = None
        changed = (record is not None and record.active) != shown_active or \
            (shown_waiting and record is not None and record.job.state != jobs.QUEUED)
        body(record)
        if changed:
            st.rerun()          # started, paused or ended: redraw the page (labs, timer) after the status

    def body(record: RunRecord | None) -> None:
        state = record.job.state if record is not None else None
        # One row that stays a row on a phone (wrapping if it must), where columns would stack.
        row = st.container(horizontal=True, vertical_alignment="center", gap="small", key=f"controls_{key}")
        row.button(run_label or text("common.train"), type="primary", key=f"act_{key}", disabled=blocked,
                   on_click=_start, args=(key, start, config, data_key, False, settings, pace, replay), width="stretch")
        if steps:
            paused = state == jobs.PAUSED
            row.button(text("common.resume" if paused else "common.pause"), key=f"act_{key}_pause",
                       disabled=not (paused or state in jobs.ACTIVE), on_click=_pause_or_resume, args=(key, paused),
                       icon=":material/play_arrow:" if paused else ":material/pause:", width="stretch")
            row.button(text("common.step"), key=f"act_{key}_step", icon=":material/skip_next:",
                       disabled=blocked or state in jobs.ACTIVE, on_click=_step,
                       args=(key, start, config, data_key, settings, replay), width="stretch",
                       help=text("common.step_help"))
        row.button(text("common.stop"), key=f"act_{key}_stop", icon=":material/stop:",
                   disabled=state not in (*jobs.ACTIVE, jobs.PAUSED), on_click=_stop, args=(key,), width="stretch")
        if record is not None and record.job.pace > 0 and state in jobs.ACTIVE:
            row.button(text("common.skip_pace"), key=f"act_{key}_skip", on_click=_skip_pace, args=(key,),
                       icon=":material/fast_forward:", type="tertiary",
                       help=text("common.paced", seconds=f"{record.job.pace:g}"))
        if take_home is not None:           # at the end of the row (on a phone, the row wraps)
            take_home_button(take_home, row, disabled=blocked)
        if error is not None:
            show_input_error(error)
        if record is None:
            if idle:
                st.info(idle)
            return
        with st.container(key=f"runstate_{key}_{state}"):      # the state, for the browser tests too
            status_line(record)
        if not record.matches(config, data_key):
            st.caption(text("common.stale_running" if record.active else "common.stale_result"))
        previous_note(record, drawn)
        if record.step is not None:
            draw(record)

    live()
    record = st.session_state.get(key)
    return record if isinstance(record, RunRecord) else None
