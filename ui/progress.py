"""The learner's progress with the experiment cards and challenges, for this session only (the home
page reads it; nothing is stored on the server). Light on purpose: the home page never imports torch."""

import streamlit as st

PROGRESS = "_progress"        # Session State: {"cards": {"<slug>.<id>": predicted right?}, "challenges": {slug: True}}


def progress() -> tuple[int, int, int]:
    """(cards predicted right, cards judged, challenges met) in this session."""
    state = st.session_state.get(PROGRESS, {})
    cards = state.get("cards", {})
    return sum(cards.values()), len(cards), len(state.get("challenges", {}))
