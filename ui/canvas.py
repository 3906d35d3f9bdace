"""Draw your own digit (issue 18): a drawing canvas beside the upload on the pages that read a digit,
and, for a learner who cannot drag (WCAG 2.2, 2.5.7), a third way that needs no dragging: pick one of
the bundled test digits by its class and number, with the keyboard or single clicks (issue 31).

The canvas is `streamlit-drawable-canvas` 0.13.0 (MIT), a components-v2 package that works with
Streamlit 1.67 in Chromium (checked with mouse strokes). A drawing, like a picked digit, is sent on as
PNG bytes through the page's own upload decoder, so it is preprocessed exactly like an uploaded picture.
"""

import hashlib

import streamlit as st

from ui.i18n import option_labels, text

SIZE = 280       # ten canvas pixels per MNIST pixel
SOURCES = ["upload", "draw", "pick"]      # a picture, a drawing, or a bundled test digit (no dragging)
STROKE = 20      # about two MNIST pixels once a digit's ink is scaled to 20x20, like MNIST's pen


def digit_canvas(key: str) -> bytes | None:
    """A 280x280 black canvas drawn on in white with a mouse, pen or finger (its toolbar has undo,
    redo and a bin that clears it); the page (or fragment) reruns when a stroke ends. Returns the
    drawing as PNG bytes (opaque RGBA, white on black), or None while it is empty."""
    # Imported here: the package registers its component at import, which needs a running app.
    from streamlit_drawable_canvas import st_canvas

    result = st_canvas(stroke_width=STROKE, stroke_color="#ffffff", background_color="#000000",
                       height=SIZE, width=SIZE, drawing_mode="freedraw", return_image_data=True, key=key)
    if not (result.json_data or {}).get("objects"):
        return None
    return result.image_bytes


def upload_or_draw(key: str, label: str, decode, types: list[str] | None = None):
    """The learner's choice of an upload (`kept_upload`, keys `act_<key>`) or a drawing (keys
    `act_<key>_source` for the choice and `act_<key>_canvas`): plain widgets, never in a link.
    `decode(bytes)` gets the file's bytes or the drawing's PNG bytes alike. Returns `(name, value)`
    or None, like `kept_upload`."""
    from engine.errors import InputError
    from ui.data_widgets import kept_upload
    from ui.widgets import show_input_error

    source = st.radio(text("common.digit_source"), SOURCES, key=f"act_{key}_source", horizontal=True,
                      format_func=option_labels("common.digit_source_"))
    if source == "upload":
        return kept_upload(key, label, decode, types)
    if source == "pick":
        drawn, name = picked_digit(key)
    else:
        st.space("small")                    # room for the toolbar, which floats above the canvas
        drawn, name = digit_canvas(f"act_{key}_canvas"), text("common.drawing_name")
        st.caption(text("common.canvas_hint"))
    if drawn is None:
        return None
    digest, decoded = hashlib.sha256(drawn).hexdigest(), f"{key}_drawn"
    previous = st.session_state.get(decoded)
    if previous is None or previous[0] != digest:
        try:
            st.session_state[decoded] = (digest, decode(drawn))
        except InputError as error:
            show_input_error(error)
            return None
    return name, st.session_state[decoded][1]


@st.cache_resource(show_spinner=False)
def bundled_test_digits() -> tuple:
    """The bundled subset's test digits and labels (shared, only indexed)."""
    from engine import data

    split = data.load_digits()
    return split.test_x, split.test_y


def picked_digit(key: str) -> tuple[bytes, str]:
    """A bundled test digit chosen by its class and its number among that class's test digits (keys
    `act_<key>_pick_class`, `act_<key>_pick_number`), as PNG bytes, and its name."""
    from engine import images

    digits, labels = bundled_test_digits()
    kind, which = st.columns(2)
    label = kind.selectbox(text("common.pick_class"), list(range(10)), key=f"act_{key}_pick_class")
    among = (labels == label).nonzero().flatten()
    number = which.number_input(text("common.pick_number", count=len(among)), 1, len(among), 1,
                                key=f"act_{key}_pick_number")
    return images.png_bytes(digits[among[number - 1]]), text("common.picked_name", label=label, number=number)
