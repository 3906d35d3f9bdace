"""Home: what the app is, the ten concepts, the machine the demos run on, and "Teach a class" (the
lesson editor, last: it reads the pages' cards, which import torch). With a teacher's link, the
lesson's teacher view instead (`ui.lessons`)."""

import streamlit as st

from ui.catalog import (
    CJK_CHARACTERS_PER_MINUTE,
    CONCEPTS,
    ROOT,
    SUGGESTED_PATH,
    WORDS_PER_MINUTE,
    concept_title,
    reading_minutes,
)
from ui.i18n import language, text
from ui.lessons import editor, teacher_view, teaching
from ui.progress import progress
from ui.router import ensure_routed
from ui.state import device_probe
from ui.widgets import title_row

ensure_routed()


def home() -> None:
    title_row(text("home.title"), share=False)
    st.markdown(text("home.tagline"))

    with st.expander(text("home.how_title"), expanded=True):
        st.markdown(text("home.how"))

    st.header(text("home.concepts_title"))
    st.markdown(text("home.numbers"))
    right, judged, met = progress()
    st.markdown(text("home.progress", right=right, judged=judged, met=met, pages=len(CONCEPTS)))
    by_number = {concept.number: concept for concept in CONCEPTS}
    columns = st.columns(5)
    for place, number in enumerate(SUGGESTED_PATH):
        concept = by_number[number]
        with columns[place % 5].container(border=True, height="stretch"):
            st.markdown(f"**{concept_title(concept)}**")
            st.caption(text(f"home.summary_{concept.slug}"))
            st.caption(text("home.reading", place=place + 1, minutes=reading_minutes(concept.slug, language())))
            if concept.available:
                st.page_link(str(ROOT / concept.page_path), label=text("home.open_page"), icon=concept.icon)
            else:
                st.caption(text("home.not_yet"))
    st.caption(text("home.reading_method", words=WORDS_PER_MINUTE, characters=CJK_CHARACTERS_PER_MINUTE))

    left, right = st.columns(2)
    with left:
        st.subheader(text("home.data_title"))
        st.markdown(text("home.data"))
    # Only now, with the rest of the page sent: importing torch (seconds, mostly holding the GIL) in the
    # background from the top would slow a cold server's first paint by as much.
    probe = device_probe()
    with right:
        st.subheader(text("home.machine_title"))
        with st.spinner(text("home.device_detecting")):
            try:
                device = probe.result(timeout=120)
            except Exception as exc:  # noqa: BLE001 - any import failure is reported, not raised
                device = None
                st.error(text("home.device_failed", error=f"{type(exc).__name__}: {exc}"))
        if device:
            st.markdown(text(f"home.device_{device['kind']}", **device))
            if device["kind"] == "cpu" and device["bf16_fast"]:
                st.markdown(text("home.device_bf16"))
        st.caption(text("home.device_override"))
    editor()              # "Teach a class": after the rest, so its imports (the pages' cards) never hold up the top


if teaching() is not None:
    title_row(text("lesson.teacher_page_title"), share=False)
    teacher_view()
else:
    home()
