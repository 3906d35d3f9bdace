"""PyTorch Concepts Lab: the entry file only configures the app, reads the language and routes.

The pages sit in the top bar, so the whole width and height below it belong to the page: each
page's title row carries the language switch and "Share this setup", and its experiment's
settings sit beside the run (ui.widgets.lab_columns), not in a sidebar a phone hides.
"""

import os

import streamlit as st

from ui import audit
from ui.catalog import navigation
from ui.i18n import read_language
from ui.lessons import lesson_bar
from ui.links import fill_share_control
from ui.router import routed
from ui.sessions import enter_page, start_prerecording
from ui.widgets import page_assets, title_bar

os.environ.setdefault("PTLAB_RESERVE_CORES", "1")     # training leaves a core to the server and the browser
st.set_page_config(page_title="PyTorch Concepts Lab", page_icon=":material/school:", layout="wide")
read_language()
page = st.navigation(navigation(), position="top")
title_bar()            # the page's title, "Share this setup" and the language switch, in one row
page_assets()           # the app's CSS and the phone menu's closer (assets/)
enter_page(page.url_path)      # the learner's runs on other pages stop (their results stay)
start_prerecording()   # hosted: the default and card runs recorded in the background, once per server
lesson_bar(page.url_path)   # a class link: the lesson's step, Previous / Next (a teacher's link: their view)
with routed():
    page.run()
fill_share_control()   # after the page: the link holds every setting drawn in this run
audit.verify()          # only with PTLAB_AUDIT_FILE set (the multi-user tests): shared objects unchanged?
