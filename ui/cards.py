"""Experiment cards and the page's challenge, drawn under the experiments (engine/cards has the claims).

A card: a question with 2-4 answers to pick *before* running; then one button, "Run" ("Run both" for
a comparison of two runs), trains the card's runs inside the card (`ui.card_runs`), with their
progress and a small live chart, and once every run has finished, the verdict: what the runs
measured, whether the prediction matched, and why. The page's own experiment is left as the learner
set it; "Open in the experiment" puts it in a card's settings (through the linked widgets, so the
address bar then holds the card, `?card=<id>`) for a learner who wants to explore from there. A
card's link opens the card.

The challenge: its goal, "Run with my settings" (the page's experiment started as its own Run button
starts it), that run's progress, and the verdict on the learner's finished run; after a miss, a hint
naming the settings to change (those in which the stated solution differs from the defaults, never
their values).

The learner's predictions, the cards' runs and the progress shown on the home page live in this
session only (`PROGRESS`, `ui.card_runs.STORE`). In a lesson, the first prediction per card and the
runs' answer also go to the lessons' database, under the learner's hashed id (`ui.lesson_state`),
and a reload or a later visit shows that prediction again.
"""

from collections.abc import Mapping
from types import ModuleType
from typing import Any

import streamlit as st

from engine.cards import Card, Challenge, numbers
from ui import card_runs, controls, lesson_state, links
from ui.experiment import QUEUED_REFRESH_SECONDS, REFRESH_SECONDS
from ui.i18n import language, option_labels, text, translate
from ui.links import CARD_PARAM
from ui.progress import PROGRESS
from ui.records import AUTORUN, RunRecord
from ui.sessions import seen
from ui.settings import Experiment, experiments


def cards_section(slug: str, module: ModuleType, records: Mapping[str, Any] | None = None) -> None:
    """The page's cards, then its challenge. `records`: experiment key -> a record-like object (with
    `.step`, `.settings`, `.complete`, `.active`) for an experiment the page draws live, without a
    Run button or a record in Session State (the optimizers' race); its challenge is judged from it."""
    st.header(text("common.cards_title"))
    st.caption(text("common.cards_help"))
    opened = st.query_params.get(CARD_PARAM)
    declared = experiments(slug)
    for number, card in enumerate(module.CARDS, start=1):
        with st.expander(f"{number} · {text(f'{slug}.card_{card.id}_title')}", expanded=opened == card.id):
            _card(slug, module, card, declared[card.experiment])
    challenge = getattr(module, "CHALLENGE", None)
    if challenge is not None:
        experiment = declared[challenge.experiment]
        _challenge(slug, challenge, experiment, (records or {}).get(experiment.key))


def _open(experiment: Experiment, card_id: str, run: Mapping[str, Any]) -> None:
    """Button callback: every declared setting of the page's experiment at the card's run's value or
    its default, and the card in the address."""
    for setting in experiment:
        value = run.get(setting.name, setting.default)
        st.session_state[experiment.widget_key(setting.name)] = list(value) if isinstance(value, tuple) else value
    st.query_params[CARD_PARAM] = card_id


def _card(slug: str, module: ModuleType, card: Card, experiment: Experiment) -> None:
    name = f"{slug}.{card.id}"
    runs = _runs(name)
    active = runs is not None and runs.active
    key = f"card_{slug}_{card.id}_prediction"
    kept = lesson_state.kept_prediction(slug, card.id)       # in a lesson: as the learner left it
    if kept in card.answers and st.session_state.get(key) is None:
        st.session_state[key] = kept    # also after a run that drew the card before the lesson was known
    prediction = st.radio(text(f"{slug}.card_{card.id}_question"), card.answers, index=None, key=key, disabled=active,
                          format_func=option_labels(f"{slug}.card_{card.id}_answer_"))
    pair = len(card.runs) == 2
    if pair:
        st.caption(text("common.card_two_runs"))
    button = f"act_card_{slug}_{card.id}"
    row = st.container(horizontal=True, gap="small", vertical_alignment="center")
    row.button(text("common.card_run_both" if pair else "common.card_run"), type="primary", key=button,
               icon=":material/play_arrow:", disabled=prediction is None or active,
               help=text("common.card_predict_first") if prediction is None else None,
               on_click=card_runs.start, args=(name, module, card, experiment, prediction))
    if active:
        row.button(text("common.stop"), key=f"{button}_stop", icon=":material/stop:", on_click=card_runs.stop,
                   args=(runs,))
    for index, run in enumerate(card.runs):
        row.button(text("common.card_open_n" if pair else "common.card_open", n=index + 1), type="tertiary",
                   key=f"{button}_open_{index}" if pair else f"{button}_open",
                   help=text("common.card_open_help_n" if pair else "common.card_open_help", n=index + 1),
                   on_click=_open, args=(experiment, card.id, run))
    _card_runs(slug, card, name, active)


def _card_runs(slug: str, card: Card, name: str, shown_active: bool) -> None:
    """The card's runs in a fragment that redraws on a timer while they go: where they stand, the
    verdict once all have finished, the chart. A change between going and done redraws the whole
    page (the timer stops, the buttons follow)."""
    refresh = None
    if shown_active:
        refresh = QUEUED_REFRESH_SECONDS if _runs(name).waiting else REFRESH_SECONDS
    elif (done := _runs(name)) is not None and done.measures is not None and lesson_state.held(slug):
        refresh = lesson_state.LIVE_SECONDS              # a held verdict: look again for the teacher's reveal
    polling_for_reveal = not shown_active and refresh is not None

    @st.fragment(run_every=refresh, key=f"fragment_card_{slug}_{card.id}")
    def live() -> None:
        runs = _runs(name)
        if runs is None:
            return
        if runs.active:
            seen()                          # watching a run is being here
        state = "running" if runs.active else "done"
        with st.container(key=f"runstate_card_{slug}_{card.id}_{state}"):     # the browser tests wait on it
            card_runs.progress(runs)
        card_runs.judge(runs, card)
        held = lesson_state.held(slug)
        if runs.measures is not None:
            if not runs.reported:                    # a lesson records the runs' answer once
                runs.reported = True
                lesson_state.judged(slug, card.id, runs.guess, card.judge(runs.measures))
            if held:
                st.info(text("lesson.verdict_held", guess=text(f"{slug}.card_{card.id}_answer_{runs.guess}")),
                        icon=":material/hourglass_top:")
            else:
                _verdict(slug, card, name, runs)
        if not held:                                 # the curves would tell the answer before the teacher does
            card_runs.chart(runs, key=f"card_chart_{slug}_{card.id}")
        waiting_for_reveal = held and runs.measures is not None
        if runs.active != shown_active or (not runs.active and waiting_for_reveal != polling_for_reveal):
            st.rerun()

    live()


def _runs(name: str) -> card_runs.CardRuns | None:
    return st.session_state.get(card_runs.STORE, {}).get(name)


def _verdict(slug: str, card: Card, name: str, runs: card_runs.CardRuns) -> None:
    measures = runs.measures
    outcome = card.judge(measures)
    said = text(f"{slug}.card_{card.id}_answer_{outcome}") if outcome in card.answers else None
    if said is None:          # the runs gave none of the offered answers (the claims tests say they do)
        st.warning(text("common.card_no_answer"), icon=":material/help:")
    elif runs.guess == outcome:
        st.success(text("common.card_right", answer=said), icon=":material/check_circle:")
    else:
        st.error(text("common.card_wrong", guess=text(f"{slug}.card_{card.id}_answer_{runs.guess}"), answer=said),
                 icon=":material/cancel:")
    st.markdown(text(f"{slug}.card_{card.id}_result", **numbers(measures)))
    st.caption(text(f"{slug}.card_{card.id}_why"))
    st.session_state.setdefault(PROGRESS, {}).setdefault("cards", {})[name] = runs.guess == outcome


def challenge_hint(experiment: Experiment, challenge: Challenge, language: str) -> str:
    """"Try changing: Degree, Steps": the declared labels, in `language`, of the settings in which
    the challenge's solution differs from the defaults; their values stay the learner's to find."""
    defaults = experiment.defaults()
    labels: list[str] = []
    for name, value in challenge.solution.items():
        label = translate(experiment.label_key(name), language)
        if not links.same(value, defaults[name]) and label not in labels:
            labels.append(label)
    return translate("common.challenge_hint", language,
                     settings=translate("common.list_separator", language).join(labels))


def _run_page(key: str) -> None:
    """Button callback: the page's experiment `key` starts in the script run this click causes, with
    the learner's settings, as its own Run button starts it (`ui.experiment.experiment`)."""
    st.session_state[AUTORUN.format(key=key)] = True


def _challenge(slug: str, challenge: Challenge, experiment: Experiment, given: Any) -> None:
    """`given`: the record the page hands over (drawn live, no Run button), else None and the
    learner's run of the experiment is read from Session State."""
    with st.container(border=True, key=f"challenge_{slug}"):
        st.subheader(text("common.challenge_title"))
        goal, action = st.columns([4, 1], vertical_alignment="center")
        goal.markdown(text(f"{slug}.challenge_goal"))
        if given is None:
            action.button(text("common.challenge_run"), type="primary", key=f"act_challenge_{slug}",
                          icon=":material/play_arrow:", help=text("common.challenge_run_help"),
                          on_click=_run_page, args=(experiment.key,))
        st.caption(text(f"{slug}.challenge_rules"))
        # Said of every challenge because tests/test_claims.py checks it of every one: the defaults miss.
        st.caption(text("common.challenge_defaults"))
        if st.session_state.pop(AUTORUN.format(key=experiment.key), False):   # the page drew no such experiment
            st.warning(text("common.challenge_not_shown"), icon=":material/visibility_off:")
        _challenge_run(slug, challenge, experiment, given)


def _challenge_run(slug: str, challenge: Challenge, experiment: Experiment, given: Any) -> None:
    """The learner's run in a fragment that redraws on a timer while it goes: where it stands, then
    the verdict on it once finished (with the hint after a miss)."""

    def current() -> Any:
        return given if given is not None else st.session_state.get(experiment.key)

    shown_active = bool(getattr(current(), "active", False))

    @st.fragment(run_every=REFRESH_SECONDS if shown_active else None, key=f"fragment_challenge_{slug}")
    def live() -> None:
        record = current()
        active = bool(getattr(record, "active", False))
        if active:
            seen()
        if isinstance(record, RunRecord) and not record.complete:
            controls.status_line(record)
        if record is None or not getattr(record, "complete", False) or record.step is None:
            if not active:
                st.caption(text("common.challenge_waiting"))
        else:
            _challenge_verdict(slug, challenge, experiment, record)
        if active != shown_active:
            st.rerun()

    live()


def _challenge_verdict(slug: str, challenge: Challenge, experiment: Experiment, record: Any) -> None:
    settings = {**experiment.defaults(), **record.settings}
    measures = challenge.measure(record.step)
    result = text(f"{slug}.challenge_result", **measures)
    if challenge.met(measures, settings):
        st.success(text("common.challenge_met", result=result), icon=":material/emoji_events:")
        st.session_state.setdefault(PROGRESS, {}).setdefault("challenges", {})[slug] = True
        lesson_state.challenge_met(slug)
    else:
        hint = challenge_hint(experiment, challenge, language())
        st.info(f"{text('common.challenge_not_yet', result=result)}\n\n{hint}", icon=":material/flag:")
