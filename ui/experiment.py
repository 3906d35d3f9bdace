"""The one live-experiment helper every training page uses.

`experiment(...)` draws the controls (Run, Pause / Resume, Step, Stop), the run's status (its
place in the queue, the step it reached, the device it runs on), the note when the settings
changed since, and the page's own drawing of the latest step. The run itself is a job of the
server-wide runner (`ui.runner`): it lives beside the page's script, so a rerun (a slider, the
language switch, a lab) never ends it; the drawing sits in a fragment that redraws on a timer
while the job is active. The learner's run is kept as a `RunRecord` in their session.
"""

import functools
import threading
from collections.abc import Callable
from typing import Any

import streamlit as st

from engine.device import warm_up
from engine.errors import InputError
from ui import controls
from ui import runner as jobs
from ui.i18n import text
from ui.jobs import step_amount
from ui.records import AUTORUN, RunRecord, TakeHome, Training
from ui.sessions import seen
from ui.widgets import show_input_error

__all__ = ["RunRecord", "TakeHome", "Training", "experiment", "lab"]   # what a page uses (classes: ui.records)

REFRESH_SECONDS = 1.0          # how often an active run's drawing is refreshed
QUEUED_REFRESH_SECONDS = 3.0   # how often a waiting run's place is: a full class waits, and every
                               # refresh is a rerun the one server makes for that learner
FAR_REFRESH_SECONDS = 8.0      # ... and, further back than FAR_POSITION, every this many seconds
FAR_POSITION = 3
_WARMING: list[threading.Thread] = []       # the one warm-up thread of this server process


def _warm_up_once() -> None:
    """PyTorch's lazy imports and oneDNN's first kernels, loaded beside the page the first time a
    training page is drawn, so that the learner's first Run reports within a second."""
    if not _WARMING:
        _WARMING.append(threading.Thread(target=warm_up, name="ptlab-warm-up", daemon=True))
        _WARMING[0].start()



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



def experiment(key: str, training: Training, draw: Callable[[RunRecord], None], *, idle: str | None = None,
               error: InputError | None = None, run_label: str | None = None,
               preview: Callable[[], None] | None = None) -> RunRecord | None:
    """The experiment `key` of this page: the learner's record is `st.session_state[key]`, the Run
    button's key is `act_<key>` (e.g. key "multitask_train", button "act_multitask_train") and the
    others `act_<key>_pause`, `act_<key>_step`, `act_<key>_stop`.

    training: what Run trains (`ui.records.Training`: the engine's generator, its config and data,
    pacing, replays, Pause and Step offered or not, "Download as a script").
    draw: draws a record's latest step (called whenever there is one, live and afterwards).
    idle: the text shown before the first run. error: the settings' InputError; it disables Run.
    run_label: the Run button's words, when not "Train".
    preview: draws, before the first run, step 0 for the current settings: the data and what the
    untrained model makes of it, which is where a run starts (and `idle` becomes a caption under it).
    It is drawn again while a new run with these settings has no report yet, so the picture stays.
    The run records the values of `training.form` (its declared settings): a new run lists those
    that changed under its status, beside the faint previous run (`record.previous`, which the
    page's `draw` may show with `ui.charts.with_previous`).
    Returns the learner's record for this experiment (None before the first run)."""
    _warm_up_once()
    config, data_key, steps, take_home = training.config, training.data_key, training.steps, training.take_home
    record = st.session_state.get(key)
    autorun = st.session_state.get(AUTORUN.format(key=key), False)
    if isinstance(record, RunRecord) and not autorun:
        controls.bring_back(record)                  # the learner is back: the model they trained, got again
    shown_active = isinstance(record, RunRecord) and record.active
    blocked = not training.ready or error is not None
    form = training.form
    settings = dict(form.values) if form is not None else {}
    shown = form.shown() if form is not None else {}
    if st.session_state.pop(AUTORUN.format(key=key), False) and not blocked:
        # the challenge's "Run with my settings" (ui.cards) (stops a live run)
        controls.start_run(key, training, settings)
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
                   on_click=controls.start_run, args=(key, training, settings), width="stretch")
        if steps:
            paused = state == jobs.PAUSED
            row.button(text("common.resume" if paused else "common.pause"), key=f"act_{key}_pause",
                       disabled=not (paused or state in jobs.ACTIVE), on_click=controls.pause_or_resume,
                       args=(key, paused),
                       icon=":material/play_arrow:" if paused else ":material/pause:", width="stretch")
            last = record.job.last if record is not None and state == jobs.PAUSED else None
            amount = step_amount(last.total) if last is not None else 1     # a new run pauses after step 1
            row.button(text("common.step", n=amount), key=f"act_{key}_step", icon=":material/skip_next:",
                       disabled=blocked or state in jobs.ACTIVE, on_click=controls.step_run,
                       args=(key, training, settings), width="stretch",
                       help=text("common.step_help", n=amount))
        row.button(text("common.stop"), key=f"act_{key}_stop", icon=":material/stop:",
                   disabled=state not in (*jobs.ACTIVE, jobs.PAUSED), on_click=controls.stop_run, args=(key,),
                   width="stretch")
        if record is not None and record.job.pace > 0 and state in jobs.ACTIVE:
            row.button(text("common.skip_pace"), key=f"act_{key}_skip", on_click=controls.skip_pace, args=(key,),
                       icon=":material/fast_forward:", type="tertiary",
                       help=text("common.paced", seconds=f"{record.job.pace:g}"))
        if take_home is not None:           # at the end of the row (on a phone, the row wraps)
            controls.take_home_button(take_home, row, disabled=blocked)
        if error is not None:
            show_input_error(error)
        if record is None or (record.job.done and not record.matches(config, data_key)):
            controls.usual_duration(key, training)          # what the next run may take on this server
        if record is None:
            if idle and preview is not None:
                st.caption(idle)                            # what to press; the picture below teaches
            elif idle:
                st.info(idle)
            if preview is not None:
                step_zero(preview)
            return
        with st.container(key=f"runstate_{key}_{state}"):      # the state, for the browser tests too
            controls.status_line(record)
        if not record.matches(config, data_key):
            st.caption(text("common.stale_running" if record.active else "common.stale_result"))
        controls.previous_note(record, shown)
        if record.step is not None:
            draw(record)
        elif preview is not None and record.matches(config, data_key):
            step_zero(preview)                              # the picture stays until the first report

    def step_zero(preview: Callable[[], None]) -> None:
        jobs.runner()           # the server's thread policy (set with its runner) before computing here
        with st.container(key=f"preview_{key}"):           # the browser tests find the picture by this key
            st.caption(text("common.preview_caption"))
            preview()

    live()
    record = st.session_state.get(key)
    return record if isinstance(record, RunRecord) else None

