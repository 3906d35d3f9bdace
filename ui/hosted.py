"""Hosted mode: `PTLAB_HOSTED=1` caps what one visitor can ask of a small shared server.

On a laptop the app lets a learner run anything the sliders reach. On a shared host (Streamlit
Community Cloud: about 2.7 GB of memory and a couple of CPU cores for every visitor together) one
long style transfer or a four-process DDP run would starve everyone else, so hosted mode lowers:

- the step sliders and the other knobs whose declaration has a `cap` (`ui/settings/<page>.py`),
- the largest image and CSV a visitor may upload,
- the datasets: only the bundled MNIST subset, no 70,000-image downloads,
- the DDP world size, to 2 processes.

`ui.fields.Form` hands each setting's cap to `ui.links.linked`, which lowers the widget's largest
value and writes a note under it;
the other caps are applied where uploads and datasets are read. Defaults are never above a cap,
so a default run is the same in both modes.
"""

import streamlit as st

from engine.images import ImageLimits
from engine.tabular import TableLimits
from ui.i18n import text
from ui.mode import ENV, hosted  # noqa: F401  (hosted.ENV and hosted.hosted, where callers read them)
from ui.settings import Setting

HOSTED_UPLOAD_BYTES, HOSTED_IMAGE_PIXELS = 8_000_000, 16_000_000
HOSTED_TABLE_ROWS = 5_000
HOSTED_DATASETS = ("subset",)


def cap(setting: Setting) -> float | None:
    """The hosted-mode ceiling of a declared setting (`Setting.cap`), or None when there is none (or
    the app is not hosted)."""
    return setting.cap if hosted() else None


def image_limits() -> ImageLimits:
    """The limits for image uploads."""
    if not hosted():
        return ImageLimits()
    return ImageLimits(max_bytes=HOSTED_UPLOAD_BYTES, max_pixels=HOSTED_IMAGE_PIXELS)


def table_limits(limits: TableLimits | None = None) -> TableLimits:
    """The limits for CSV uploads (`limits`, or the defaults): at most HOSTED_TABLE_ROWS rows when hosted."""
    limits = limits or TableLimits()
    if not hosted():
        return limits
    return TableLimits(max_bytes=min(limits.max_bytes, HOSTED_UPLOAD_BYTES),
                       max_rows=min(limits.max_rows, HOSTED_TABLE_ROWS), sample_rows=limits.sample_rows)


def datasets(choices: tuple[str, ...]) -> tuple[str, ...]:
    """The dataset choices a page may offer: hosted mode keeps only what ships with the app."""
    if not hosted():
        return choices
    return tuple(name for name in choices if name in HOSTED_DATASETS) or choices[:1]


def upload_note() -> None:
    """Under an uploader, in hosted mode: the upload limits that apply."""
    if hosted():
        st.caption(text("common.hosted_uploads", mb=HOSTED_UPLOAD_BYTES // 1_000_000,
                        mp=HOSTED_IMAGE_PIXELS // 1_000_000, rows=f"{HOSTED_TABLE_ROWS:,}"))
