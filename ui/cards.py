"""Experiment cards and the page's challenge, drawn under the experiment (engine/cards has the claims).

A card: a question with 2-4 answers to pick *before* running; "Set up and run" puts the page in the
card's settings (through the linked widgets, so the address bar then holds the card, with
`?card=<id>`) and starts the page's own experiment; once the run (or both runs of a comparison) has
finished at the card's settings, the verdict: what the run measured, whether the prediction matched,
and why. A run made after the learner changed a setting the card depends on is not judged; the card
says which settings differ instead.

The learner's predictions, the runs' measures and the progress shown on the home page live in this
session only (`PROGRESS`); nothing is stored on the server.
"""

from collections.abc import Mapping
from types import ModuleType
from typing import Any

import streamlit as st

from engine.cards import Card, Challenge, numbers
from ui import links
from ui.fields import spoken
from ui.i18n import option_labels, text
from ui.progress import PROGRESS
from ui.records import AUTORUN
from ui.settings import Experiment, experiments

CARD_PARAM = "card"            # ?card=<id>: the link of a card, which opens it
STORE = "_cards"               # Session State: card key -> {"results": {run: measures}, "jobs": {run: job id}}


def _expected(experiment: Experiment, run: Mapping[str, Any], name: str) -> Any:
    """The value the card's `run` gives setting `name` (every name is declared: tests/test_settings.py)."""
    return run[name] if name in run else experiment[name].default


def differences(experiment: Experiment, card: Card, run: Mapping[str, Any], settings: Mapping[str, Any]) -> list[str]:
    """The settings of a run (`settings`, name -> value) that are not those of the card's `run`."""
    names = (set(settings) | set(run)) - set(card.free)
    return sorted(name for name in names if not links.same(settings.get(name), _expected(experiment, run, name)))


def _set_up(experiment: Experiment, card_id: str, run: Mapping[str, Any], start: bool) -> None:
    """Button callback: every declared setting of the experiment at the card's value or its default."""
    for setting in experiment:
        value = run.get(setting.name, setting.default)
        st.session_state[experiment.widget_key(setting.name)] = list(value) if isinstance(value, tuple) else value
    st.query_params[CARD_PARAM] = card_id
    if start:
        st.session_state[AUTORUN.format(key=experiment.key)] = True


def _record(experiment: str, records: Mapping[str, Any] | None):
    record = (records or {}).get(experiment, st.session_state.get(experiment))
    return record if getattr(record, "step", None) is not None else None


def cards_section(slug: str, module: ModuleType, records: Mapping[str, Any] | None = None) -> None:
    """The page's cards, then its challenge. `records`: experiment key -> a record-like object (with
    `.step`, `.settings`, `.complete`, `.job`) for an experiment whose record is not kept in Session
    State under its key."""
    st.header(text("common.cards_title"))
    st.caption(text("common.cards_help"))
    opened = st.query_params.get(CARD_PARAM)
    declared = experiments(slug)
    for number, card in enumerate(module.CARDS, start=1):
        experiment = declared[card.experiment]
        with st.expander(f"{number} · {text(f'{slug}.card_{card.id}_title')}", expanded=opened == card.id):
            _card(slug, card, experiment, _record(experiment.key, records))
    challenge = getattr(module, "CHALLENGE", None)
    if challenge is not None:
        experiment = declared[challenge.experiment]
        _challenge(slug, challenge, experiment, _record(experiment.key, records))


def _card(slug: str, card: Card, experiment: Experiment, record) -> None:
    name = f"{slug}.{card.id}"
    state = st.session_state.setdefault(STORE, {}).setdefault(name, {"results": {}, "jobs": {}, "predicted": None})
    prediction = st.radio(text(f"{slug}.card_{card.id}_question"), card.answers, index=None,
                          key=f"card_{slug}_{card.id}_prediction",
                          format_func=option_labels(f"{slug}.card_{card.id}_answer_"))
    pair = len(card.runs) == 2
    if pair:
        st.caption(text("common.card_two_runs"))
    row = st.container(horizontal=True, gap="small")
    for index, run in enumerate(card.runs):
        suffix = f"_{index}" if pair else ""
        row.button(text("common.card_run_n" if pair else "common.card_run", n=index + 1), type="primary",
                   key=f"act_card_{slug}_{card.id}{suffix}", disabled=prediction is None,
                   help=None if prediction is not None else text("common.card_predict_first"),
                   on_click=_set_up, args=(experiment, card.id, run, True))
        row.button(text("common.card_setup_n" if pair else "common.card_setup", n=index + 1),
                   key=f"act_card_{slug}_{card.id}_setup{suffix}", type="tertiary",
                   on_click=_set_up, args=(experiment, card.id, run, False))

    if record is not None and getattr(record, "complete", False):
        matched = [index for index, run in enumerate(card.runs)
                   if not differences(experiment, card, run, record.settings)]
        job = getattr(record, "identity", None) or id(record.job)      # one run, judged once
        for index in matched:
            if state["jobs"].get(index) != job:
                state["jobs"][index] = job
                state["results"][index] = card.measure(record.step)
                state["predicted"] = prediction
        if not matched and st.query_params.get(CARD_PARAM) == card.id:
            nearest = min(card.runs, key=lambda run: len(differences(experiment, card, run, record.settings)))
            changed = ", ".join(spoken(experiment, name, record.settings.get(name))
                                for name in differences(experiment, card, nearest, record.settings))
            st.warning(text("common.card_changed", settings=changed), icon=":material/tune:")
    elif record is not None and st.query_params.get(CARD_PARAM) == card.id and not getattr(record, "active", False):
        st.caption(text("common.card_unfinished"))

    results = state["results"]
    if pair and len(results) == 1:
        st.caption(text("common.card_one_of_two", done=next(iter(results)) + 1,
                        other=2 - next(iter(results))))
    if len(results) < len(card.runs):
        return
    measures = [results[index] for index in range(len(card.runs))]
    outcome = card.judge(measures)
    guess = state["predicted"]
    said = text(f"{slug}.card_{card.id}_answer_{outcome}") if outcome in card.answers else None
    if said is None:          # only if a `free` setting took the runs where no answer holds
        st.warning(text("common.card_no_answer"), icon=":material/help:")
    elif guess is None:
        st.info(text("common.card_no_prediction", answer=said), icon=":material/science:")
    elif guess == outcome:
        st.success(text("common.card_right", answer=said), icon=":material/check_circle:")
    else:
        st.error(text("common.card_wrong", guess=text(f"{slug}.card_{card.id}_answer_{guess}"), answer=said),
                 icon=":material/cancel:")
    st.markdown(text(f"{slug}.card_{card.id}_result", **numbers(measures)))
    st.caption(text(f"{slug}.card_{card.id}_why"))
    if guess is not None:
        st.session_state.setdefault(PROGRESS, {}).setdefault("cards", {})[name] = guess == outcome


def _challenge(slug: str, challenge: Challenge, experiment: Experiment, record) -> None:
    with st.container(border=True, key=f"challenge_{slug}"):
        st.subheader(text("common.challenge_title"))
        st.markdown(text(f"{slug}.challenge_goal"))
        st.caption(text(f"{slug}.challenge_rules"))
        if record is None or not getattr(record, "complete", False):
            st.caption(text("common.challenge_waiting"))
            return
        settings = {**experiment.defaults(), **record.settings}
        measures = challenge.measure(record.step)
        result = text(f"{slug}.challenge_result", **measures)
        if challenge.met(measures, settings):
            st.success(text("common.challenge_met", result=result), icon=":material/emoji_events:")
            st.session_state.setdefault(PROGRESS, {}).setdefault("challenges", {})[slug] = True
        else:
            st.info(text("common.challenge_not_yet", result=result), icon=":material/flag:")
