"""The run controls and the status line of an experiment: what each button does to the learner's
run, and the one line that says where the run stands."""

import math
import os
import time

import streamlit as st

from engine.errors import InputError
from ui import links
from ui import runner as jobs
from ui.i18n import text
from ui.records import PAGE_KEY, RunRecord, TakeHome, Training, faded, replay_key
from ui.sessions import configure, session_id
from ui.widgets import reduced_motion, show_input_error


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


def start_run(key: str, training: Training, settings: dict, stepping: bool = False) -> None:
    """Run (a new run of experiment `key`, stopping the one going on); with `stepping`, it pauses
    after its first report (Step before a run) and is not paced."""
    runner = configure(jobs.runner())
    old = st.session_state.get(key)
    if isinstance(old, RunRecord) and not old.job.done:
        runner.stop(old.job)
    still = reduced_motion()                # no paced show for a learner who asked for reduced motion
    pace = 0.0 if stepping or still else training.pace * float(os.environ.get("PTLAB_PACE_SCALE", "1"))   # tests: 0
    config, data_key = training.config, training.data_key
    job = jobs.Job(training.start, owner=session_id(), page=st.session_state.get(PAGE_KEY, ""), pace=pace, kind=key,
                   replay_key=replay_key(key, config, data_key) if training.replay else None)
    job._skip = still                      # a replay then plays its reports at once
    previous = faded(old) if isinstance(old, RunRecord) else None
    st.session_state[key] = RunRecord(config, data_key, job, settings=settings, previous=previous)
    runner.submit(job, paused_after_first=stepping)


def step_run(key: str, training: Training, settings: dict) -> None:
    """Step: a paused run goes on for one report. A run that is going on (a second click, or one that
    reached the server after the first had resumed the run) pauses after its next report: it is never
    replaced by a new run. Otherwise a new run starts and pauses after its first report."""
    record = st.session_state.get(key)
    if isinstance(record, RunRecord) and (record.job.state == jobs.PAUSED or record.job.state in jobs.ACTIVE):
        jobs.runner().resume(record.job, steps_once=True)
    else:
        start_run(key, training, settings, stepping=True)


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


def skip_pace(key: str) -> None:
    record = st.session_state.get(key)
    if isinstance(record, RunRecord):
        jobs.runner().skip_pace(record.job)


def previous_note(record: RunRecord, shown: dict) -> None:
    """Under the status: the previous run is drawn faintly, and which settings changed since
    (labelled and formatted as `shown`, name -> (label, format_func), says: `Form.shown`)."""
    if record.previous is None:
        return
    changes = links.changed_settings(record.previous.settings, record.settings, shown)
    st.caption(text("common.changed_settings", changes="; ".join(changes)) if changes
               else text("common.same_settings"))


def pause_or_resume(key: str, resume: bool) -> None:
    """What the button said when it was drawn: Resume, or Pause. A click that reaches the server twice,
    or late, does what its label said (never the opposite), and nothing once that is done."""
    record = st.session_state.get(key)
    if not isinstance(record, RunRecord):
        return
    if resume and record.job.state == jobs.PAUSED:
        jobs.runner().resume(record.job)
    elif not resume and record.job.state in jobs.ACTIVE:
        jobs.runner().pause(record.job)


def stop_run(key: str) -> None:
    record = st.session_state.get(key)
    if isinstance(record, RunRecord):
        jobs.runner().stop(record.job)


def wait_words(seconds: float) -> str:
    """A wait, rounded up as a learner reads it: "10 s" (to 5 s) under a minute, else "3 min"."""
    if seconds < 57.5:
        return text("common.wait_seconds", n=max(5, 5 * math.ceil(seconds / 5)))
    return text("common.wait_minutes", n=math.ceil(seconds / 60))


def duration_words(seconds: float) -> str:
    """A run's length as measured, not rounded up to the queue's steps: "0.4 s", "23 s", "3 min"."""
    if seconds < 9.95:
        return text("common.wait_seconds", n=f"{seconds:.1f}")
    if seconds < 59.5:
        return text("common.wait_seconds", n=round(seconds))
    return text("common.wait_minutes", n=round(seconds / 60))


def usual_duration(key: str, training: Training) -> None:
    """Beside Run: how long finished runs of experiment `key` took on this server, runs with the
    learner's settings when some finished (`ui.queue_times.usual`); nothing before any has finished."""
    runner = jobs.existing()
    settings = replay_key(key, training.config, training.data_key) if training.replay else None
    usual = runner.usual_duration(key, settings) if runner is not None else None
    if usual is None:
        return
    seconds, count, same = usual
    words = ("common.took_settings" if same else "common.took_experiment") + ("_one" if count == 1 else "")
    st.caption(text(words, time=duration_words(seconds), count=count), help=text("common.took_help"))


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

