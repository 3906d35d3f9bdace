"""Make sure every page runs under the router in streamlit_app.py.

Because a `pages/` folder sits beside the entry file, a fresh Streamlit server starts in its old
(v1) multipage mode and leaves it only when a run calls `st.navigation`. If the server's first
request is a page URL (a shared link to /regression), that page file runs on its own: no
language switch, no sections, and widget identities that differ from every later run.
`ensure_routed()` leaves v1 mode for good and reruns through the entry file. It can only
trigger on a session's first run, before the user has clicked anything, so nothing is lost.
"""

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager


def ensure_routed() -> None:
    """Call first on every page: rerun through the router if this page was started without it."""
    if PagesManager.uses_pages_directory:      # st.navigation sets this to False when it runs
        PagesManager.uses_pages_directory = False
        st.rerun()
