"""Per-user state: settings that survive page switches, and the shared device probe."""

from concurrent.futures import Future, ThreadPoolExecutor

import streamlit as st

from ui.catalog import CONCEPTS


def keep_settings() -> None:
    """Streamlit drops a widget's value when its page is not shown; re-assigning every setting
    key (`<slug>_...`) on each run keeps the user's choices when they come back to a page.
    Buttons and uploaders use keys starting with `act_`: Streamlit forbids setting those."""
    prefixes = tuple(f"{concept.slug}_" for concept in CONCEPTS)
    for key in list(st.session_state):
        if isinstance(key, str) and key.startswith(prefixes):
            st.session_state[key] = st.session_state[key]


def _describe_device() -> dict[str, object]:
    from engine.device import describe, set_cpu_threads  # imports torch: runs off the page's thread

    set_cpu_threads()
    info = describe()
    return {"kind": info.kind, "name": info.name, "threads": info.threads, "bf16_fast": info.bf16_fast}


@st.cache_resource(max_entries=1)
def device_probe() -> Future:
    """Import torch and describe the device in a background thread, once per server: the home
    page paints without waiting for torch, and later pages find it already imported."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="device-probe").submit(_describe_device)
