"""Data widgets shared by pages: the digit-dataset picker, and what was detected in an uploaded CSV."""

from pathlib import Path

import streamlit as st

from engine import data
from ui import audit, hosted
from ui.i18n import option_labels, text
from ui.links import linked
from ui.widgets import show_input_error

DOWNLOAD_ROOT = Path(__file__).resolve().parents[1] / "data_cache"     # git-ignored


@st.cache_resource(max_entries=3, show_spinner=False)
def dataset(name: str) -> tuple[data.ImageSplit, object]:
    """Shared by every user and only ever indexed (which copies), never changed in place."""
    return audit.shared(f"dataset:{name}", data.load_dataset(name, DOWNLOAD_ROOT))


def dataset_ui(prefix: str, choices: tuple[str, ...] = ("subset", *data.DOWNLOADABLE)) -> data.ImageSplit:
    """Bundled subset by default; full MNIST / Fashion-MNIST only when the user asks (needs internet).
    A page whose tasks only make sense for digits passes `choices` without Fashion-MNIST."""
    offered = hosted.datasets(choices)
    name = linked(st.selectbox, text("data.dataset"), list(offered), key=f"{prefix}_dataset",
                  format_func=option_labels("data.dataset_"))
    if offered != choices:
        st.caption(text("data.hosted_subset"))
    with st.spinner(text("data.loading")):
        split, error = dataset(name)
    if error is not None:
        show_input_error(error)
    st.caption(text("data.summary", train=len(split.train_x), test=len(split.test_x)))
    return split


def csv_format_caption(table) -> None:
    """How an uploaded CSV was read (an engine.tabular.NumericTable): encoding, separator, decimal comma."""
    st.caption(text("data.csv_read_as", encoding=text(f"data.csv_encoding_{table.encoding}"),
                    separator=text(f"data.csv_separator_{table.separator}")))
    if table.decimal_comma:
        st.caption(text("data.csv_decimal_comma"))
