"""Small UI pieces every page uses: source listings, translated input errors, live-run helpers."""

import inspect
from collections.abc import Callable

import streamlit as st

from engine.errors import InputError
from ui.i18n import text
from ui.router import ensure_routed


def page_title(number: int, slug: str) -> None:
    """The page's title (and, first, the router check every page needs)."""
    ensure_routed()
    st.title(f"{number} · {text(f'catalog.{slug}')}")


def show_source(*objects: Callable | type) -> None:
    """The code the demo really runs, read from the engine at run time so it cannot drift."""
    st.header(text("common.code_title"))
    st.caption(text("common.code_caption", module=inspect.getmodule(objects[0]).__name__))
    tabs = st.container(key="source_code").tabs([obj.__name__ for obj in objects])   # tab names are code names
    for tab, obj in zip(tabs, objects, strict=True):
        tab.code(inspect.getsource(obj), language="python", line_numbers=True)


def show_input_error(error: InputError) -> None:
    """An engine InputError as a message in the user's language, never a traceback."""
    st.error(text(f"errors.{error.key}", **error.params), icon=":material/error:")


def number_format(value: float) -> str:
    """Readable for values from 1e-6 to 1e6 alike."""
    return f"{value:.4g}"


def misconceptions_and_prompts(slug: str, prompts: str = "try") -> None:
    """The page's 'What to try' prompts (`<slug>.<prompts>`) and its 'Common misconceptions' box."""
    st.header(text("common.try_title"))
    st.markdown(text(f"{slug}.{prompts}"))
    with st.container(border=True):
        st.subheader(text("common.misconceptions_title"))
        st.markdown(text(f"{slug}.misconceptions"))


def clamp_state(key: str, low: float, high: float) -> None:
    """Keep a remembered widget value inside a range that may have changed (a retrained model's
    latent range, a smaller dataset); Streamlit refuses a value outside min..max."""
    if key in st.session_state:
        st.session_state[key] = type(st.session_state[key])(min(max(st.session_state[key], low), high))


def run_live(generator, result_key: str, state: dict, draw, progress) -> bool:
    """Draw every step a training generator reports and keep the latest in this user's session
    (`result_key`, with `state` to tell later whether the settings changed). An InputError from
    the engine becomes a message in `progress`, and any earlier result stays. The generator is
    closed however the loop ends (Stop, a rerun, leaving the page), so an engine's cleanup (worker
    processes, for one) runs at once. Returns True if the run finished without an input error."""
    try:
        for step in generator:
            st.session_state[result_key] = {"step": step, **state}
            progress.progress(step.fraction_done, text=text("common.progress", step=step.step, total=step.total))
            draw(step)
    except InputError as error:
        with progress.container():
            show_input_error(error)
        return False
    finally:
        generator.close()
    return True


def previous(result_key: str, state: dict, note_slot):
    """This user's last result, with a note in `note_slot` if the settings have changed since."""
    result = st.session_state.get(result_key)
    if result is not None and any(result.get(k) != v for k, v in state.items()):
        note_slot.caption(text("common.stale_result"))
    return result
