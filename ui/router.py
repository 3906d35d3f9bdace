"""Make sure every page runs under the router in streamlit_app.py.

Because a `pages/` folder sits beside the entry file, a fresh Streamlit server starts in its old
(v1) multipage mode and leaves it only when a run calls `st.navigation`. If the server's first
request is a page URL (a shared link to /regression), that page file runs on its own: no
language switch, no sections, and widget identities that differ from every later run.
`ensure_routed()` leaves v1 mode for good and reruns through the entry file. It can only
trigger on a session's first run, before the user has clicked anything, so nothing is lost.

Whether this run came through the entry file is known per run (`routed()`, a thread-local flag the
entry file sets around `page.run()`), not from the server-wide v1 flag alone: when a class opens a
link at once on a freshly started server, several sessions start in v1 mode before the first one
has switched it off, and those must rerun too (otherwise they run without the entry file: no
`enter_page`, and their first run was taken for one started on another page and stopped).

`PagesManager.uses_pages_directory` is private: Streamlit has no public switch out of v1 mode for an
app that keeps a `pages/` folder (the layout this project was asked for), and a deep link as the
first request is the known rough edge of that mix (streamlit/streamlit#9624, #8860, and the review
of streamlit/streamlit#10276, which made v2 the default but kept the folder's flag).
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

_run = threading.local()


@contextmanager
def routed() -> Iterator[None]:
    """The entry file runs the chosen page inside this block."""
    _run.routed = True
    try:
        yield
    finally:
        _run.routed = False


def ensure_routed() -> None:
    """Call first on every page: rerun through the router if this page was started without it."""
    if PagesManager.uses_pages_directory or not getattr(_run, "routed", False):
        PagesManager.uses_pages_directory = False      # st.navigation sets this to False when it runs
        st.rerun()
