"""PyTorch Concepts Lab: the entry file only configures the app, reads the language and routes.

The pages sit in the top bar, so the whole width and height below it belong to the page: each
page's title row carries the language switch and "Share this setup", and its experiment's
settings sit beside the run (ui.widgets.lab_columns), not in a sidebar a phone hides.
"""

import os

import streamlit as st

from ui import audit
from ui.catalog import navigation
from ui.experiment import enter_page
from ui.i18n import read_language
from ui.links import fill_share_control, start_of_run
from ui.router import routed
from ui.widgets import title_bar

os.environ.setdefault("PTLAB_RESERVE_CORES", "1")     # training leaves a core to the server and the browser
st.set_page_config(page_title="PyTorch Concepts Lab", page_icon=":material/school:", layout="wide")
read_language()
start_of_run()
page = st.navigation(navigation(), position="top")
title_bar()            # the page's title, "Share this setup" and the language switch, in one row
# The page's spacing, and: on a phone the page menu is a drawer over the page, and Streamlit leaves
# it open after a page is chosen, over that page's Run button. One listener on the document (added
# once, kept across reruns and pages) closes the drawer when a page link in it is tapped: tied to the
# tap, not to when a rerun's script happens to run, so it can neither miss the change nor close a
# menu just opened.
st.html("<style>.block-container, [data-testid='stMainBlockContainer'] {padding-top: 3.5rem; padding-bottom: 3rem;}"
        " @media (max-width: 640px) {.st-key-title_row > :first-child {flex: 1 1 100% !important;}}</style>"
        """<script>(() => {
  if (window.ptlabMenuCloser) return;
  window.ptlabMenuCloser = true;
  document.addEventListener("click", (event) => {
    if (window.innerWidth > 768 || !event.target.closest('[data-testid="stSidebarNav"] a')) return;
    const close = (tries) => {     // until the drawer is shut (a busy phone may be slow to react)
      const drawer = document.querySelector('[data-testid="stSidebar"]');
      const button = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
      if (!drawer || !button) {
        if (tries < 20) setTimeout(() => close(tries + 1), 250);
        return;
      }
      const box = drawer.getBoundingClientRect();
      if (box.right <= 1) return;                       // shut
      if (box.left >= 0) button.click();                // fully open (a closing drawer slides left)
      if (tries < 8) setTimeout(() => close(tries + 1), 1000);
    };
    setTimeout(() => close(0), 150);
  }, true);
})();</script>""", unsafe_allow_javascript=True, width=1)
enter_page(page.url_path)      # the learner's runs on other pages stop (their results stay)
with routed():
    page.run()
fill_share_control()   # after the page: the link holds every setting drawn in this run
audit.verify()          # only with PTLAB_AUDIT_FILE set (the multi-user tests): shared objects unchanged?
