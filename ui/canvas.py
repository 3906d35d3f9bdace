"""Draw your own digit (issue 18): a drawing canvas beside the upload on the pages that read a digit.

The canvas is `streamlit-drawable-canvas` 0.13.0 (MIT), a components-v2 package that works with
Streamlit 1.67 in Chromium (checked with mouse strokes). A drawing is sent back as PNG bytes and goes
through the page's own upload decoder, so it is preprocessed exactly like an uploaded picture.
"""

import hashlib

import streamlit as st

from ui.i18n import option_labels, text

SIZE = 280       # ten canvas pixels per MNIST pixel
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

    source = st.radio(text("common.digit_source"), ["upload", "draw"], key=f"act_{key}_source", horizontal=True,
                      format_func=option_labels("common.digit_source_"))
    if source == "upload":
        return kept_upload(key, label, decode, types)
    st.space("small")                    # room for the toolbar, which floats above the canvas
    drawn = digit_canvas(f"act_{key}_canvas")
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
    return text("common.drawing_name"), st.session_state[decoded][1]
