"""Data widgets shared by pages: the digit-dataset picker, and what was detected in an uploaded CSV."""

from pathlib import Path

import streamlit as st

from engine import data
from ui import audit, hosted
from ui.i18n import text
from ui.widgets import show_input_error

DOWNLOAD_ROOT = Path(__file__).resolve().parents[1] / "data_cache"     # git-ignored


@st.cache_resource(max_entries=3, show_spinner=False)
def dataset(name: str) -> tuple[data.ImageSplit, object]:
    """Shared by every user and only ever indexed (which copies), never changed in place."""
    return audit.shared(f"dataset:{name}", data.load_dataset(name, DOWNLOAD_ROOT))


def dataset_ui(form) -> data.ImageSplit:
    """The form's declared `dataset` setting (`ui.settings.dataset`): the bundled subset by default,
    full MNIST / Fashion-MNIST only when the learner asks (needs internet; not in hosted mode). The
    form records what the run trains on: the subset when a download failed."""
    choices = form.experiment["dataset"].options
    offered = list(hosted.datasets(choices))
    name = form("dataset", options=offered, index=offered.index("subset") if "subset" in offered else 0)
    if tuple(offered) != tuple(choices):
        st.caption(text("data.hosted_subset"))
    with st.spinner(text("data.loading")):
        split, error = dataset(name)
    if error is not None:
        show_input_error(error)
    st.caption(text("data.summary", train=len(split.train_x), test=len(split.test_x)))
    form.set("dataset", split.source)
    return split


def csv_format_caption(table) -> None:
    """How an uploaded CSV was read (an engine.tabular.NumericTable): encoding, separator, decimal comma."""
    st.caption(text("data.csv_read_as", encoding=text(f"data.csv_encoding_{table.encoding}"),
                    separator=text(f"data.csv_separator_{table.separator}")))
    if table.decimal_comma:
        st.caption(text("data.csv_decimal_comma"))


def kept_upload(key: str, label: str, decode, types: list[str] | None = None, camera: bool = False):
    """An uploader whose last good file stays in the learner's session: a page switch, a later bad
    file or clearing the widget does not lose it. `decode(bytes)` turns the file into what the page
    uses (raising InputError on bad input, shown here in the user's language). Returns
    `(name, value)` for the current or kept file, or None. The widget key is `act_<key>`."""
    from engine.errors import InputError
    from ui.hosted import upload_note

    if camera:
        upload = st.camera_input(label, key=f"act_{key}")
    else:
        upload = st.file_uploader(label, type=types, key=f"act_{key}")
    upload_note()
    kept = f"{key}_kept"
    if upload is not None:
        previous = st.session_state.get(kept)
        identity = (upload.name, upload.size)
        if previous is None or previous[0] != identity:
            try:
                st.session_state[kept] = (identity, decode(upload.getvalue()))
            except InputError as error:
                show_input_error(error)
    if kept not in st.session_state:
        return None
    (name, size), value = st.session_state[kept]
    if upload is None or (upload.name, upload.size) != (name, size):
        st.caption(text("data.kept_upload", name=name))
    return name, value
