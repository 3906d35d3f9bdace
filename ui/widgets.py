"""Small UI pieces every page uses: the title, source listings, translated input errors, prompts."""

import functools
import inspect
import linecache
import re
import threading
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from engine.errors import InputError
from ui.i18n import HTML_LANG, language, text
from ui.router import ensure_routed

TITLE_SLOT = "_title_slot"     # Session State, within one script run: where the page's title goes


def title_bar() -> None:
    """The entry file draws, above every page, one row: a place for the page's title, a place for
    "Share this setup" and the language switch (under the title on a phone). The switch lives in
    the entry file so that it is one widget on every page (a widget drawn by a page's own script
    is a different widget on each page, and would start over on every page switch)."""
    from ui.i18n import language_switch
    from ui.links import share_control

    with st.container(horizontal=True, vertical_alignment="center", key="title_row", gap="small"):
        st.session_state[TITLE_SLOT] = st.container(width="stretch").empty()
        share_control()
        language_switch(st.container(width=190, key="language_switch"))


ASSETS = Path(__file__).resolve().parents[1] / "assets"


@functools.cache
def _asset(name: str) -> str:
    """A file of assets/, read once per server process."""
    return (ASSETS / name).read_text()


REDUCED_MOTION = "reduced_motion"     # Session State: the learner's browser asks for reduced motion
# Pressed by the script below when the browser prefers reduced motion: how that preference, which only
# the browser knows, reaches this session (the button is never shown).
MOTION_PROBE = """<script>(function probe(tries) {
  if (!window.matchMedia('(prefers-reduced-motion: reduce)').matches) return;
  const button = document.querySelector('.st-key-motion_probe button');
  if (button) { if (!button.dataset.pressed) { button.dataset.pressed = '1'; button.click(); } return; }
  if (tries < 40) setTimeout(() => probe(tries + 1), 250);
})(0);</script>"""


def reduced_motion() -> bool:
    """Whether this learner's browser asks for reduced motion (WCAG 2.3.3): runs paced for watching
    and replays are then shown at once, and the stylesheet stops animations."""
    return bool(st.session_state.get(REDUCED_MOTION))


def _motion_probe() -> None:
    if reduced_motion():
        return
    with st.container(key="motion_probe"):
        st.button(text("common.reduce_motion"), key="motion_probe_button",
                  on_click=lambda: st.session_state.__setitem__(REDUCED_MOTION, True))


def page_assets() -> None:
    """The app's stylesheet and the script that closes the phone's page menu after a tap (both in
    assets/, read once per process and drawn with Streamlit's public `st.html`), and the document's
    language: Streamlit's page says `lang="en"` whatever the learner reads, so a screen reader would
    read Chinese with an English voice (WCAG 3.1.1)."""
    lang = HTML_LANG[language()]
    # One element: the stylesheet is in place when the script marks the document (`data-ptlab-lang`,
    # which the browser tests wait for before they judge a page).
    _motion_probe()
    st.html(f"<style>{_asset('app.css')}</style>\n{_asset('menu_closer.html')}\n{MOTION_PROBE}\n"
            f"<script>document.documentElement.lang = document.documentElement.dataset.ptlabLang = \"{lang}\";"
            "</script>", unsafe_allow_javascript=True, width=1)


def title_row(title: str, share: bool = True) -> None:
    """Put the page's title in the title bar (or simply draw it, outside the app's entry file);
    `share=False` leaves "Share this setup" out (a page without settings)."""
    from ui.links import SHARE_SLOT

    slot = st.session_state.pop(TITLE_SLOT, None)
    (slot or st).title(title, width="stretch")
    if not share:
        st.session_state.pop(SHARE_SLOT, None)


def page_title(number: int, slug: str) -> None:
    """The page's title row (and, first, the router check every page needs)."""
    ensure_routed()
    title_row(f"{number} · {text(f'catalog.{slug}')}")


def lab_columns() -> tuple:
    """The experiment's two columns: settings on the left, run controls, progress and charts on
    the right (one above the other on a phone, settings first)."""
    return st.columns([1, 2.4], gap="medium")


def show_source(*objects: Callable | type) -> None:
    """The code the demo really runs, read from the engine at run time so it cannot drift."""
    st.header(text("common.code_title"))
    st.caption(text("common.code_caption", module=inspect.getmodule(objects[0]).__name__))
    tabs = st.container(key="source_code").tabs([obj.__name__ for obj in objects])   # tab names are code names
    for tab, obj in zip(tabs, objects, strict=True):
        tab.code(source_of(obj), language="python", line_numbers=True)


_SOURCE_LOCK = threading.Lock()


@functools.cache
def _source(obj: Callable | type) -> str:
    if not inspect.isclass(obj):
        return inspect.getsource(obj)       # a function: found by its code's first line, read with tokenize
    # Python 3.11's inspect finds a class with ast.parse, whose AST constructor keeps its recursion depth
    # per interpreter, not per thread: two sessions' script threads parsing at once can fail with
    # "SystemError: AST constructor recursion depth mismatch" (CPython gh-106905). Our classes are defined
    # once per module, at any indent: find the line, then read the block with tokenize as inspect does.
    lines = linecache.getlines(inspect.getsourcefile(obj))
    heading = re.compile(rf"^\s*class\s+{re.escape(obj.__name__)}\b")
    for number, line in enumerate(lines):
        if heading.match(line):
            while number > 0 and lines[number - 1].lstrip().startswith("@"):
                number -= 1                 # its decorators belong to it
            return "".join(inspect.getblock(lines[number:]))
    raise OSError(f"could not find class {obj.__name__}")


def source_of(obj: Callable | type) -> str:
    """The source of an engine function or class, read once per process, one thread at a time."""
    with _SOURCE_LOCK:
        return _source(obj)


def show_input_error(error: InputError) -> None:
    """An engine InputError as a message in the user's language, never a traceback."""
    st.error(text(f"errors.{error.key}", **error.params), icon=":material/error:")


def number_format(value: float) -> str:
    """Readable for values from 1e-6 to 1e6 alike."""
    return f"{value:.4g}"


def plain(markdown: str) -> str:
    """Markdown text as plain text for an image's alt attribute: emphasis, code and maths marks removed."""
    return re.sub(r"[*_`$]", "", markdown).strip()


def alt_of(kind: str, captions: str | list[str]) -> str | list[str]:
    """Alt text for captioned images: "<kind>: <caption>", one per caption (WCAG 1.1.1: the caption
    says which picture it is, `kind` what it shows)."""
    one = lambda caption: text("common.alt_captioned", kind=kind, caption=plain(caption))   # noqa: E731
    return one(captions) if isinstance(captions, str) else [one(c) for c in captions]


def misconceptions(slug: str) -> None:
    """The page's 'Common misconceptions' box (`<slug>.misconceptions`)."""
    with st.container(border=True):
        st.subheader(text("common.misconceptions_title"))
        st.markdown(text(f"{slug}.misconceptions"))


def clamp_state(key: str, low: float, high: float) -> None:
    """Keep a remembered widget value inside a range that may have changed (a retrained model's
    latent range, a smaller dataset); Streamlit refuses a value outside min..max."""
    if key in st.session_state:
        st.session_state[key] = type(st.session_state[key])(min(max(st.session_state[key], low), high))


def chosen_option(key: str, options) -> object | None:
    """In a widget's on_change callback: the option the learner chose, or None when the value is not
    one of `options`. A select widget travels as its shown label; a value sent while the language
    switches is the other language's label, which Streamlit passes on as a plain string and reports
    as a change. That is not a choice the learner made, so the callback should do nothing."""
    value = st.session_state.get(key)
    return value if value in options else None
