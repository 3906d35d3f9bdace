"""Teaching a class: the lesson editor, the learner's path through a lesson, and the teacher's view.

- **Editor** (home page, "Teach a class"): a name, steps (a page, or one of its cards, starting at
  the settings of a pasted "Share this setup" link or the card's own; settings open, locked, or only
  some shown), and whether verdicts wait for the teacher. "Create" stores the lesson
  (`ui.lesson_store`) and opens its teacher view.
- **Learner** (`?lesson=<code>` on any page): a bar above the page names the lesson and the step,
  with Previous and Next. The learner's random id lives in a cookie of their browser for that class
  (`ptlab_learner_<code>`), so a reload, or coming back later, continues at their step with their
  predictions. The step's rules reach the settings' widgets through `rule` (`ui.fields.Form`); the
  cards report predictions, verdicts and challenges through `predicted`, `judged`, `challenge_met`,
  and hold a verdict back while `held` says so.
- **Teacher** (`?lesson=<code>&teacher=<token>`, the home page): the class link with its QR code,
  live counts per step, the class's predictions beside what the runs showed, the challenges met, this
  server's queue, the switch that holds verdicts and the buttons that reveal them, the answers, a
  CSV of the results, and closing (or deleting) the lesson.

Every input is checked (`ui.lesson_plan`) before the database sees it, and every name is shown as
text. Only the records `ui.lesson_store` lists are written.
"""

import csv
import io
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import streamlit as st

from ui import lesson_plan, mode
from ui.catalog import CONCEPTS, ROOT, concept_title
from ui.chart_text import markdown_escaped
from ui.i18n import language, text
from ui.lesson_plan import LESSON_PARAM, MODES, TEACHER_PARAM, PlanError, Step
from ui.lesson_state import (
    ATTENDING,
    LIVE_SECONDS,
    UNREACHABLE,
    Attending,
    cards_of,
    experiment_for,
    refresh,
    safely,
)
from ui.lesson_store import ACTIVE_SECONDS, OPEN_DAYS, RETENTION_DAYS, Lesson, store
from ui.links import CARD_PARAM

COOKIE_PREFIX = "ptlab_learner_"
COOKIE_DAYS = 60
TEACHING = "_teaching"          # Session State: (code, token) of the lesson this session teaches
DRAFT = "_lesson_draft"         # Session State: the editor's steps
MADE = "_lessons_made"          # Session State: times this session made a lesson (hosted rate limit)
EDITOR_KEPT = "_lesson_editor_kept"  # Session State: the editor's switch, name and hold while teaching
EDITOR_WIDGETS = ("lesson_editor", "lesson_name", "lesson_hold")   # (widgets not drawn lose their values)
BROWSER_ID = "_lesson_browser_id"   # Session State: a learner id given by the test harness instead of a cookie
HOSTED_PER_HOUR = 30            # hosted: lessons the whole server makes per hour
HOSTED_PER_SESSION = 5          # hosted: lessons one visitor makes per hour
SLUGS = {concept.slug: concept for concept in CONCEPTS}
SEEN_SECONDS = 60.0             # a learner's page marks them active at most this often


# ------------------------------------------------------------------------------ what a plan may name
def catalogue() -> lesson_plan.Catalogue:
    from ui.settings import experiments

    found = {}
    for concept in CONCEPTS:
        if not concept.available:
            continue
        checks: dict[str, Any] = {}
        for experiment in experiments(concept.slug).values():
            checks |= {setting.name: setting.allows for setting in experiment}
        found[concept.slug] = ([card.id for card in cards_of(concept.slug)[0]], checks)
    return found


# ------------------------------------------------------------------------------ the entry file's part
def lesson_bar(page: str) -> None:
    """Above every page: the teacher's link is recognised, a learner's lesson is joined or followed,
    and a learner sees where they are in it. `page`: the page's url path ("" for home)."""
    params = st.query_params
    if TEACHER_PARAM in params:
        _open_teacher(params.get(LESSON_PARAM), params.get(TEACHER_PARAM))
    if TEACHING in st.session_state:
        if page == "":
            code, token = st.session_state[TEACHING]
            if params.get(LESSON_PARAM) != code or params.get(TEACHER_PARAM) != token:
                params[LESSON_PARAM], params[TEACHER_PARAM] = code, token
        return
    attending = st.session_state.get(ATTENDING)
    typed = params.get(LESSON_PARAM)
    if typed is not None and (attending is None or attending.code != typed):
        attending = _join(typed)
    if attending is None:
        return
    attending.page = page
    refresh(attending)
    if time.monotonic() - attending.seen_at >= SEEN_SECONDS:       # the teacher's "active" count
        attending.seen_at = time.monotonic()
        safely(lambda: store().seen(attending.code, attending.learner), False)
    if attending.lesson.closed:
        st.session_state.pop(ATTENDING, None)
        params.pop(LESSON_PARAM, None)
        st.info(text("lesson.closed_for_learner", name=_name(attending.lesson.name)), icon=":material/event_busy:")
        return
    if params.get(LESSON_PARAM) != attending.code:
        params[LESSON_PARAM] = attending.code                  # a reload comes back to the lesson
    if attending.switch:
        attending.switch = False
        _go(attending)
    _bar(attending)


def _open_teacher(typed_code: Any, typed_token: Any) -> None:
    code, token = lesson_plan.read_code(typed_code), lesson_plan.read_token(typed_token)
    valid = code is not None and token is not None and safely(lambda: store().teacher(code, token), UNREACHABLE)
    if valid is UNREACHABLE:            # the link may be fine: keep it, say why nothing shows
        st.error(text("lesson.error_reading"), icon=":material/cloud_off:")
        return
    if not valid:
        st.query_params.pop(TEACHER_PARAM, None)
        st.query_params.pop(LESSON_PARAM, None)
        st.session_state.pop(TEACHING, None)
        st.error(text("lesson.error_teacher"), icon=":material/lock:")
        return
    st.session_state[TEACHING] = (code, token)
    st.session_state.pop(ATTENDING, None)


def _join(typed: str) -> Attending | None:
    code = lesson_plan.read_code(typed)
    if code is None:
        st.query_params.pop(LESSON_PARAM, None)
        st.error(text("lesson.error_code"), icon=":material/link_off:")
        return None
    lesson = safely(lambda: store().lesson(code), UNREACHABLE)
    if lesson is UNREACHABLE:
        st.error(text("lesson.error_reading"), icon=":material/cloud_off:")
        return None
    if lesson is None or lesson.closed:
        st.query_params.pop(LESSON_PARAM, None)
        st.error(text("lesson.error_no_lesson" if lesson is None else "lesson.closed_for_learner",
                      name=_name(lesson.name) if lesson else ""), icon=":material/event_busy:")
        return None
    given = st.session_state.get(BROWSER_ID) or _cookie(COOKIE_PREFIX + code)
    learner = lesson_plan.read_learner(given)
    renewed = given is not None and learner is None       # said in the bar, after the move to the step's page
    learner = learner or lesson_plan.new_learner()
    progress = safely(lambda: store().join(code, learner), UNREACHABLE)
    if progress is UNREACHABLE or progress is None:      # unreachable, or closed this very moment
        st.error(text("lesson.error_step" if progress is UNREACHABLE else "lesson.error_no_lesson"),
                 icon=":material/cloud_off:")
        return None
    attending = Attending(code, learner, min(progress.step, len(lesson.steps) - 1), lesson, time.monotonic(),
                          seen_at=time.monotonic(),
                          switch=True, renewed=renewed)    # to their step's page: a reload or a return continues
    for (step, card), (prediction, _) in progress.answers.items():    # their predictions, as they left them
        if step < len(lesson.steps):
            attending.predictions[(lesson.steps[step].page, card)] = prediction
    st.session_state[ATTENDING] = attending
    return attending


def _cookie(name: str) -> str | None:
    try:
        return st.context.cookies.get(name)
    except Exception:  # noqa: BLE001 - no browser context (AppTest)
        return None


def _set_cookie(name: str, value: str) -> None:
    """The learner's id, in their browser, for this class only (both are checked formats: no quoting
    is needed)."""
    st.html(f"<script>document.cookie = '{name}={value}; path=/; max-age={COOKIE_DAYS * 86400}; samesite=lax';"
            "</script>", unsafe_allow_javascript=True, width=1)


def _go(attending: Attending) -> None:
    """Take the learner to their step's page, its card open."""
    step = attending.current
    for key in [key for key in attending.applied if key[0] == attending.step]:
        attending.applied.discard(key)
    query = {LESSON_PARAM: attending.code}
    if step.card is not None:
        query[CARD_PARAM] = step.card
    if language() != "en":
        query["lang"] = language()
    if attending.page == step.page:
        for name, value in query.items():
            st.query_params[name] = value
        return
    st.switch_page(str(ROOT / SLUGS[step.page].page_path), query_params=query)


def _move(attending: Attending, to: int) -> None:
    """Previous / Next (button callback)."""
    if not 0 <= to < len(attending.lesson.steps):
        return
    if safely(lambda: store().move(attending.code, attending.learner, to), False):
        attending.step, attending.switch = to, True
        attending.applied = {key for key in attending.applied if key[0] != to}
    else:
        st.session_state["_lesson_move_failed"] = True      # said in the bar, in the learner's language


def _bar(attending: Attending) -> None:
    lesson, step = attending.lesson, attending.current
    with st.container(border=True, key="lesson_bar"):
        where = st.container(horizontal=True, vertical_alignment="center", gap="small")
        where.markdown(text("lesson.bar", name=_name(lesson.name), step=attending.step + 1, steps=len(lesson.steps),
                            title=step_title(step)))
        where.button(text("lesson.previous"), key="lesson_previous", icon=":material/arrow_back:",
                     disabled=attending.step == 0, on_click=_move, args=(attending, attending.step - 1))
        where.button(text("lesson.next"), key="lesson_next", icon=":material/arrow_forward:", type="primary",
                     disabled=attending.step >= len(lesson.steps) - 1, on_click=_move,
                     args=(attending, attending.step + 1))
        if attending.page != step.page:
            where.button(text("lesson.back_to_step", step=attending.step + 1), key="lesson_back",
                         on_click=lambda: setattr(attending, "switch", True))
        with where:     # the learner's id, into their browser (every run: one cut short by a page switch never arrives)
            _set_cookie(COOKIE_PREFIX + attending.code, attending.learner)
        if attending.renewed:
            attending.renewed = False
            st.caption(text("lesson.learner_id_renewed"))
        if st.session_state.pop("_lesson_move_failed", False):
            st.error(text("lesson.error_step"), icon=":material/cloud_off:")
        notes = [text(f"lesson.mode_{step.mode}")] if step.mode != "open" else []
        if lesson.held(attending.step):
            notes.append(text("lesson.held_note"))
        if notes and attending.page == step.page:
            st.caption(" ".join(notes))


def step_title(step: Step) -> str:
    title = concept_title(SLUGS[step.page])
    if step.card is not None:
        title += " · " + text(f"{step.page}.card_{step.card}_title")
    return title


def _name(name: str) -> str:
    return markdown_escaped(name)


def teaching() -> tuple[str, str] | None:
    return st.session_state.get(TEACHING)


# ------------------------------------------------------------------------------ the editor
def editor() -> None:
    """"Teach a class", at the end of the home page."""
    st.header(text("lesson.editor_title"))
    st.markdown(text("lesson.editor_intro"))
    # A switch, not an expander: the editor reads the pages' cards (torch), which the home page never
    # imports until a teacher asks for it (an expander's body runs even while it is closed).
    if not st.toggle(text("lesson.editor_open"), key="lesson_editor"):
        return
    with st.container(border=True, key="lesson_editor_body"):
        draft: list[Step] = st.session_state.setdefault(DRAFT, [])
        st.text_input(text("lesson.name"), key="lesson_name", max_chars=lesson_plan.NAME_LIMIT,
                      placeholder=text("lesson.name_placeholder"))
        _add_step(draft)
        _draft_list(draft)
        st.toggle(text("lesson.hold"), key="lesson_hold", help=text("lesson.hold_help"))
        st.button(text("lesson.create"), key="lesson_create", type="primary", icon=":material/add_circle:",
                  disabled=not draft, on_click=_create)
        if (error := st.session_state.pop("_lesson_error", None)) is not None:
            st.error(error, icon=":material/error:")


def _add_step(draft: list[Step]) -> None:
    with st.container(border=True, key="lesson_add"):
        st.subheader(text("lesson.add_title"))
        slugs = [concept.slug for concept in CONCEPTS if concept.available]
        left, right = st.columns(2)
        # Labels computed now, in this run's language (AppTest and reruns call format_func later).
        titles = {slug: concept_title(SLUGS[slug]) for slug in slugs}
        page = left.selectbox(text("lesson.page"), slugs, key="lesson_page", format_func=titles.__getitem__)
        cards = {None: text("lesson.whole_page"), **{card.id: text(f"{page}.card_{card.id}_title")
                                                     for card in cards_of(page)[0]}}
        card = right.selectbox(text("lesson.card"), list(cards), key=f"lesson_card_{page}",
                               format_func=cards.__getitem__)
        link = st.text_input(text("lesson.link"), key="lesson_link", help=text("lesson.link_help"),
                             disabled=card is not None, max_chars=4000)
        modes = {code: text(f"lesson.mode_label_{code}") for code in MODES}
        chosen = st.radio(text("lesson.mode"), MODES, key="lesson_mode", horizontal=True,
                          format_func=modes.__getitem__)
        experiment = experiment_for(Step(page, card))
        from ui.fields import labelled

        shown = []
        if chosen == "only":
            names = {setting.name: labelled(experiment, setting)[0] for setting in experiment}
            shown = st.multiselect(text("lesson.shown"), list(names), key=f"lesson_shown_{page}_{card}",
                                   format_func=names.__getitem__)
        st.button(text("lesson.add"), key="lesson_add_button", icon=":material/playlist_add:", on_click=_add,
                  args=(draft, page, card, link, chosen, tuple(shown)))
        if (error := st.session_state.pop("_lesson_add_error", None)) is not None:
            st.error(error, icon=":material/error:")


def _add(draft: list[Step], page: str, card: str | None, link: str, chosen: str, shown: tuple[str, ...]) -> None:
    """Button callback: the step as the editor shows it, checked, at the end of the draft."""
    from ui.settings import experiments

    try:
        settings = settings_from_link(link, page, experiments(page)[None]) if card is None and link else {}
        if len(draft) >= lesson_plan.STEP_LIMIT:
            raise PlanError("lesson.error_too_many_steps", limit=lesson_plan.STEP_LIMIT)
        draft.append(lesson_plan.check_step(Step(page, card, settings, chosen, shown), catalogue()))
    except PlanError as refused:
        st.session_state["_lesson_add_error"] = text(refused.key, **refused.params)


def settings_from_link(link: str, page: str, experiment: Any) -> dict[str, Any]:
    """The settings a "Share this setup" link of `page` carries (each checked as the page checks a
    link's values); raises PlanError for a link of another page or of no page."""
    from ui.links import read

    try:
        parts = urlsplit(link.strip())
    except ValueError:
        raise PlanError("lesson.error_link") from None
    named = parts.path.strip("/").rsplit("/", 1)[-1]
    if parts.scheme not in ("http", "https") or named != page:
        raise PlanError("lesson.error_link_page", page=concept_title(SLUGS[page]))
    query = parse_qs(parts.query)
    found = {}
    for setting in experiment:
        raw = query.get(experiment.widget_key(setting.name))
        if raw:
            value = read(setting.widget, setting.widget_arguments(), raw[:64])
            if value is not None and setting.allows(value):
                found[setting.name] = list(value) if isinstance(value, tuple) else value
    return found


def _draft_list(draft: list[Step]) -> None:
    if not draft:
        st.caption(text("lesson.no_steps"))
        return
    st.markdown(f"**{text('lesson.steps_title')}**")
    for index, step in enumerate(draft):
        row = st.container(horizontal=True, vertical_alignment="center", gap="small", key=f"lesson_draft_{index}")
        row.markdown(f"{index + 1}. {step_title(step)} · {describe_step(step)}")
        row.button(text("lesson.up"), key=f"lesson_up_{index}", icon=":material/arrow_upward:", type="tertiary",
                   disabled=index == 0, on_click=_reorder, args=(index, index - 1))
        row.button(text("lesson.remove"), key=f"lesson_remove_{index}", icon=":material/delete:", type="tertiary",
                   on_click=draft.pop, args=(index,))


def _reorder(index: int, to: int) -> None:
    draft = st.session_state[DRAFT]
    draft.insert(to, draft.pop(index))


def describe_step(step: Step) -> str:
    from ui.fields import labelled, spoken

    experiment = experiment_for(step)
    parts = [text(f"lesson.mode_label_{step.mode}")]
    if step.mode == "only":
        parts.append(text("lesson.only_these", names=text("common.list_separator").join(
            labelled(experiment, experiment[name])[0] for name in step.shown)))
    if step.settings:
        parts.append(", ".join(spoken(experiment, name, value) for name, value in step.settings.items()))
    return markdown_escaped(" · ".join(parts))


def _create() -> None:
    """Button callback: check the draft, respect the hosted limits, store the lesson, teach it."""
    try:
        name = lesson_plan.read_name(st.session_state.get("lesson_name", ""))
        steps = lesson_plan.check_plan(st.session_state.get(DRAFT, []), catalogue())
        if mode.hosted():
            made = [moment for moment in st.session_state.get(MADE, []) if moment > time.time() - 3600]
            if len(made) >= HOSTED_PER_SESSION or store().created_since(time.time() - 3600) >= HOSTED_PER_HOUR:
                raise PlanError("lesson.error_rate", minutes=60)
            st.session_state[MADE] = [*made, time.time()]
        code, token = store().create(name, steps, bool(st.session_state.get("lesson_hold")))
    except PlanError as refused:
        st.session_state["_lesson_error"] = text(refused.key, **refused.params)
        return
    except Exception:  # noqa: BLE001 - the database could not be reached: say so, keep the draft
        st.session_state["_lesson_error"] = text("lesson.error_saving")
        return
    st.session_state[TEACHING] = (code, token)
    st.session_state[EDITOR_KEPT] = {key: st.session_state[key] for key in EDITOR_WIDGETS if key in st.session_state}
    st.session_state.pop(ATTENDING, None)
    st.query_params[LESSON_PARAM], st.query_params[TEACHER_PARAM] = code, token


# ------------------------------------------------------------------------------ the teacher's view
def class_link(code: str) -> str:
    try:
        base = st.context.url or ""
    except Exception:  # noqa: BLE001 - no browser context (AppTest)
        base = ""
    parts = urlsplit(base or "http://localhost:8501/")
    return urlunsplit((parts.scheme, parts.netloc, "/", f"{LESSON_PARAM}={code}", ""))


def teacher_view() -> None:
    code, token = st.session_state[TEACHING]
    lesson = safely(lambda: store().lesson(code), UNREACHABLE)
    if lesson is UNREACHABLE:
        st.error(text("lesson.error_reading"), icon=":material/cloud_off:")
        return
    if lesson is None:
        st.session_state.pop(TEACHING, None)
        st.query_params.pop(TEACHER_PARAM, None)
        st.query_params.pop(LESSON_PARAM, None)
        st.info(text("lesson.deleted"), icon=":material/delete:")
        return
    st.header(text("lesson.teacher_title", name=_name(lesson.name)))
    st.button(text("lesson.leave_teacher"), key="lesson_leave", type="tertiary", icon=":material/logout:",
              on_click=_leave_teaching)
    if lesson.closed:
        st.warning(text("lesson.closed_for_teacher", days=RETENTION_DAYS), icon=":material/event_busy:")
    link = class_link(code)
    left, right = st.columns([2, 1])
    with left:
        st.markdown(text("lesson.class_link_intro"))
        st.code(link, language=None, wrap_lines=True)
        st.markdown(text("lesson.class_code", code=lesson_plan.spaced(code)))
        with st.expander(text("lesson.teacher_link_title"), icon=":material/key:"):
            st.caption(text("lesson.teacher_link_help"))
            st.code(f"{link}&{TEACHER_PARAM}={token}", language=None, wrap_lines=True)
    with right:
        st.image(qr_png(link), width=220, alt=text("lesson.qr_alt", code=lesson_plan.spaced(code)))
    if not lesson.closed:
        st.toggle(text("lesson.hold"), value=lesson.hold, key="lesson_teacher_hold", help=text("lesson.hold_help"),
                  on_change=lambda: safely(lambda: store().set_hold(code, st.session_state.lesson_teacher_hold),
                                            None))
    _live(code)
    _answers(lesson)
    _closing(code, lesson)


def _leave_teaching() -> None:
    """Button callback: back to the home page, the editor as the teacher left it (draft, name, hold)."""
    st.session_state.pop(TEACHING, None)
    for key, value in st.session_state.pop(EDITOR_KEPT, {}).items():
        st.session_state[key] = value
    st.query_params.pop(TEACHER_PARAM, None)
    st.query_params.pop(LESSON_PARAM, None)


def qr_png(link: str) -> bytes:
    import segno

    buffer = io.BytesIO()
    segno.make(link, error="m").save(buffer, kind="png", scale=8, border=2)
    return buffer.getvalue()


@st.fragment(run_every=LIVE_SECONDS)
def _live(code: str) -> None:
    lesson = safely(lambda: store().lesson(code), None)
    summary = safely(lambda: store().summary(code), None)
    if lesson is None or summary is None:
        st.warning(text("lesson.error_reading"), icon=":material/cloud_off:")
        return
    st.subheader(text("lesson.live_title"))
    st.markdown(text("lesson.live_total", learners=summary.learners) + " · " + _queue_words())
    for index, step in enumerate(lesson.steps):
        with st.container(border=True, key=f"lesson_live_{index}"):
            st.markdown(f"**{index + 1}. {step_title(step)}**")
            cards, challenge = cards_of(step.page)
            met = summary.challenges.get(index, 0)
            counts = {"on": summary.on_step.get(index, 0), "active": summary.active_on_step.get(index, 0),
                      "minutes": round(ACTIVE_SECONDS / 60)}
            st.markdown(text("lesson.live_step", met=met, learners=summary.learners, **counts)
                        if challenge is not None and step.card is None           # a card's step has none
                        else text("lesson.live_step_no_challenge", **counts))
            shown = [card for card in cards if card.id == step.card or (step.card is None and any(
                answer.step == index and answer.card == card.id for answer in summary.answers))]
            for card in shown:
                st.markdown(_card_table(step.page, card, [a for a in summary.answers
                                                          if a.step == index and a.card == card.id]))
            if step.card is None and not shown:
                st.caption(text("lesson.live_no_answers"))
            if lesson.held(index) and not lesson.closed:
                st.button(text("lesson.reveal"), key=f"lesson_reveal_{index}", icon=":material/visibility:",
                          on_click=lambda at=index: safely(lambda: store().reveal(code, at), None))
            elif lesson.hold and index in lesson.revealed:
                st.caption(text("lesson.revealed"))
    st.download_button(text("lesson.csv"), results_csv(lesson, summary), file_name=f"lesson-{code}.csv",
                       mime="text/csv", key="lesson_csv", icon=":material/download:", on_click="ignore")


def _queue_words() -> str:
    from ui import runner

    pool = runner.existing()
    jobs = pool.jobs() if pool is not None else []
    waiting = sum(job.state == runner.QUEUED for job in jobs)
    return text("lesson.live_queue", waiting=waiting, running=len(jobs) - waiting)


def _card_table(page: str, card: Any, answers: list) -> str:
    """The class's predictions beside what their runs showed, one row per answer offered."""
    rows = [f"| {text('lesson.table_answer')} | {text('lesson.table_predicted')} | {text('lesson.table_showed')} |",
            "|---|---:|---:|"]
    for code in card.answers:
        predicted_n = sum(answer.prediction == code for answer in answers)
        showed_n = sum(answer.outcome == code for answer in answers)
        label = markdown_escaped(text(f"{page}.card_{card.id}_answer_{code}"))
        rows.append(f"| {label} | {predicted_n} | {showed_n} |")
    judged_n = sum(answer.outcome is not None for answer in answers)
    right = sum(bool(answer.matched) for answer in answers)
    title = text(f"{page}.card_{card.id}_title")
    return (f"*{markdown_escaped(title)}* · " + text("lesson.table_summary", predicted=len(answers),
                                                       judged=judged_n, right=right) + "\n\n" + "\n".join(rows))


CSV_COLUMNS = ("step", "page", "card", "learner", "prediction", "outcome", "matched")   # codes, for spreadsheets
CHALLENGE_ROW = "challenge"     # the `card` of a row that says a learner met a step's challenge


def results_csv(lesson: Lesson, summary: Any) -> str:
    """Every recorded answer and challenge met, one row each, in codes (answer codes, page slugs) that
    stay the same in both languages; learners are numbers in order of joining."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for answer in summary.answers:
        page = lesson.steps[answer.step].page if answer.step < len(lesson.steps) else ""
        writer.writerow((answer.step + 1, page, answer.card, answer.learner, answer.prediction, answer.outcome or "",
                         "" if answer.matched is None else int(answer.matched)))
    for learner, step in summary.challengers:
        page = lesson.steps[step].page if step < len(lesson.steps) else ""
        writer.writerow((step + 1, page, CHALLENGE_ROW, learner, "", "met", ""))
    return buffer.getvalue()


def _answers(lesson: Lesson) -> None:
    """Every card and challenge in the lesson with its answer, for the teacher's eyes."""
    from ui.cards import challenge_hint
    from ui.settings import experiments

    with st.expander(text("lesson.answers_title"), icon=":material/visibility_lock:"):
        st.caption(text("lesson.answers_help"))
        for index, step in enumerate(lesson.steps):
            cards, challenge = cards_of(step.page)
            lines = [f"**{index + 1}. {step_title(step)}**"]
            for card in cards:
                if step.card is not None and card.id != step.card:
                    continue
                lines.append("- " + text("lesson.answer_line", question=text(f"{step.page}.card_{card.id}_question"),
                                         answer=text(f"{step.page}.card_{card.id}_answer_{card.answer}"),
                                         why=text(f"{step.page}.card_{card.id}_why")))
            if challenge is not None and step.card is None:
                hint = challenge_hint(experiments(step.page)[challenge.experiment], challenge, language())
                lines.append("- " + text("lesson.challenge_line", goal=text(f"{step.page}.challenge_goal"), hint=hint))
            st.markdown("\n".join(lines))


def _closing(code: str, lesson: Lesson) -> None:
    with st.container(horizontal=True, gap="small", key="lesson_closing"):
        if not lesson.closed:
            st.button(text("lesson.close"), key="lesson_close", icon=":material/event_busy:",
                      on_click=lambda: safely(lambda: store().close(code), None))
        confirm = st.checkbox(text("lesson.delete_confirm"), key="lesson_delete_confirm")
        st.button(text("lesson.delete"), key="lesson_delete", icon=":material/delete_forever:", disabled=not confirm,
                  on_click=lambda: safely(lambda: store().delete(code), None))
    st.caption(text("lesson.retention", days=RETENTION_DAYS, open_days=OPEN_DAYS))
