"""The shared device probe (settings survive page switches through `persist_state`, ui/links.py)."""

from concurrent.futures import Future, ThreadPoolExecutor

import streamlit as st


def _describe_device() -> dict[str, object]:
    from engine.device import describe  # imports torch: runs off the page's thread
    from ui.runner import runner

    runner()                              # the server's thread policy is set with its runner
    info = describe()
    return {"kind": info.kind, "name": info.name, "threads": info.threads, "bf16_fast": info.bf16_fast}


@st.cache_resource(max_entries=1)
def device_probe() -> Future:
    """Import torch and describe the device in a background thread, once per server: the home
    page paints without waiting for torch, and later pages find it already imported."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="device-probe").submit(_describe_device)
