"""Make sure every page runs under the router in streamlit_app.py.

Because a `pages/` folder sits beside the entry file, Streamlit starts each server in its old
(v1) multipage mode and only leaves it when a run calls `st.navigation`. If the first request a
fresh server gets is a page URL (a shared link to /regression), that page file would run on its
own: no language switch, no sections, the wrong sidebar. `ensure_routed()` spots that case and
reruns through the entry file.
"""

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager


def ensure_routed() -> None:
    """Call first on every page: rerun through the router if this page was started without it."""
    if PagesManager.uses_pages_directory:      # st.navigation sets this to False when it runs
        PagesManager.uses_pages_directory = False
        st.rerun()
