"""PyTorch Concepts Lab: the entry file only configures the app, offers the language switch and routes."""

import os

import streamlit as st

from ui import audit
from ui.catalog import navigation
from ui.experiment import enter_page
from ui.i18n import language_switch

os.environ.setdefault("PTLAB_RESERVE_CORES", "1")     # training leaves a core to the server and the browser
st.set_page_config(page_title="PyTorch Concepts Lab", page_icon=":material/school:", layout="wide")
language_switch()
page = st.navigation(navigation())
enter_page(page.url_path)      # the learner's runs on other pages stop (their results stay)
page.run()
audit.verify()          # only with PTLAB_AUDIT_FILE set (the multi-user tests): shared objects unchanged?
