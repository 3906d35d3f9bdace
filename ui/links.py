"""Shareable links: a page's settings live in the URL, so a copied link reopens the page as it was.

`linked(st.slider, label, 0.0, 3.0, 0.5, 0.1, key="regression_noise")` makes the widget exactly as
`st.slider(...)` would, and also:

- before the widget is drawn, if the URL carries `regression_noise` and this session has not seen
  that value yet (a link was opened, or the address was edited), the value is read, checked and
  put in Session State. Numbers are clamped to the widget's range and snapped to its step, lists
  of choices keep only known choices, anything malformed is ignored. Nothing raises.
- after, the widget's value is written back to the URL, or removed when it is the default, so the
  address bar always holds a link to what the user sees.

Values are written as the options' codes ("adam", "0.05"), never their translated labels, so a
link works in both languages; the language itself travels in `?lang=` (ui/i18n.py).

Streamlit's own `bind="query-params"` was the first candidate. It puts the displayed label of a
select box in the URL (so a Chinese link breaks once the reader switches to English) and resets,
rather than clamps, an out-of-range number.
"""

import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from ui.i18n import text

CARD_PARAM = "card"           # ?card=<id>: the link of a card, which opens it (ui.cards, ui.lessons)
SEEN = "_links_seen"          # Session State: key -> the URL values this session last read or wrote
MAX_TEXT = 200                # longest free text taken from a URL
TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}


PLACEHOLDERS = {"selectbox": "common.choose_one", "multiselect": "common.choose_some"}


def linked(widget: Callable, *args, url_check: Callable[[Any], bool] | None = None, cap: float | None = None,
           **kwargs) -> Any:
    """Call `widget` (st.slider, a column's selectbox, ...) with `args`, its setting kept in the URL.
    `url_check` vets a value read from a URL where the widget itself cannot (free text); `cap` lowers
    a numeric widget's largest value (hosted mode, `ui.hosted.cap`) and notes it under the widget."""
    bound = inspect.signature(widget).bind(*args, **kwargs)
    arguments = bound.arguments
    key, kind = arguments["key"], widget.__name__
    if kind in PLACEHOLDERS and "placeholder" not in arguments:   # Streamlit's own placeholder is English
        bound.arguments["placeholder"] = text(PLACEHOLDERS[kind])
    if "persist_state" in _parameters(widget) and "persist_state" not in arguments:
        bound.arguments["persist_state"] = "session"   # the setting survives a visit to another page
    ceiling = cap
    full = _apply_cap(kind, arguments, ceiling) if ceiling is not None else None
    seen: dict[str, list[str]] = st.session_state.setdefault(SEEN, {})
    raw = list(st.query_params.get_all(key))[:64]
    back = _history_navigation()
    # The URL is read the first time the widget appears in this session (a link was opened; the
    # browser reloads, so a new session, when the address is edited) and on Back / Forward. Never
    # otherwise: a rerun can carry an address the browser has not yet updated, and reading it
    # would undo the user's latest move.
    if raw and (key not in seen or back):
        value = read(kind, arguments, raw)
        if value is not None and (url_check is None or url_check(value)):
            st.session_state[key] = value
    elif back and key in seen and (start := default(kind, arguments)) is not None:
        st.session_state[key] = start                     # Back to an address without it: the default
    elif key in st.session_state:
        # A widget whose arguments changed (a range that follows another setting) is a new widget to
        # Streamlit, which would start it at its default: hand it the value the learner chose.
        st.session_state[key] = st.session_state[key]
    value = widget(*bound.args, **bound.kwargs)
    if full is not None:                                  # under the widget, in its own column
        getattr(widget, "__self__", st).caption(text("common.hosted_cap", cap=_spell(ceiling), full=_spell(full)))
    encoded = [] if same(value, default(kind, arguments)) else encode(value)
    if encoded != st.query_params.get_all(key):
        if encoded:
            st.query_params[key] = encoded if len(encoded) > 1 else encoded[0]
        else:
            st.query_params.pop(key, None)
    seen[key] = encoded
    return value


def describe(value: Any, format_func: Callable | None) -> str:
    """A setting's value as the learner saw it on the widget."""
    if isinstance(value, list | tuple):
        return ", ".join(describe(v, format_func) for v in value) or "∅"
    if format_func is not None:
        return str(format_func(value))
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def changed_settings(before: dict[str, Any], after: dict[str, Any],
                     shown: dict[str, tuple[str, Any]]) -> list[str]:
    """"label: old → new" for each setting whose value differs between two runs' snapshots
    (name -> value), labelled and formatted as `shown` (name -> (label, format_func)) says."""
    lines = []
    for key, value in after.items():
        if key in before and not same(before[key], value):
            label, format_func = shown.get(key, (key, None))
            lines.append(f"{label}: {describe(before[key], format_func)} → {describe(value, format_func)}")
    return lines


def share_url(path: str | None = None) -> str:
    """The link to this page with every setting the learner changed (and the language)."""
    from urllib.parse import urlencode, urlsplit, urlunsplit

    try:
        base = st.context.url or ""
    except Exception:  # noqa: BLE001 - no browser context (AppTest)
        base = ""
    from ui.i18n import DEFAULT_LANGUAGE, LANGUAGE_KEY, language

    parts = urlsplit(base or "http://localhost:8501/")
    from ui.lesson_plan import LESSON_PARAM, TEACHER_PARAM

    private = {LANGUAGE_KEY, LESSON_PARAM, TEACHER_PARAM}      # a setup's link is not the class's, nor the teacher's
    pairs = [(k, v) for k in st.query_params if k not in private for v in st.query_params.get_all(k)]
    if language() != DEFAULT_LANGUAGE:
        pairs.append((LANGUAGE_KEY, language()))
    query = urlencode(pairs)
    page = path if path is not None else parts.path
    return urlunsplit((parts.scheme, parts.netloc, page, query, ""))


SHARE_SLOT = "_share_slot"     # Session State, within one script run: where "Share this setup" goes


def share_control() -> None:
    """Keep a place for "Share this setup" (in the title row); `fill_share_control`, called by the
    entry file after the page has drawn every setting, puts the control there with the link."""
    st.session_state[SHARE_SLOT] = st.container(width="content").empty()


def fill_share_control() -> None:
    """"Share this setup": the link that reopens this page exactly as it is now, ready to copy."""
    slot = st.session_state.pop(SHARE_SLOT, None)
    if slot is None:          # a page without settings (home) dropped it
        return
    with slot.container(), st.popover(text("common.share"), icon=":material/share:"):
        st.caption(text("common.share_help"))
        st.code(share_url(), language=None, wrap_lines=True)


def _parameters(widget: Callable) -> set[str]:
    return set(inspect.signature(widget).parameters)


def _history_navigation() -> bool:
    """Whether this run is the browser's Back or Forward. A private field of Streamlit's script run
    context: no public API tells a history rerun from any other, and Streamlit does not restore
    widgets from the URL on Back (streamlit/streamlit#13853), so `linked` has to."""
    ctx = get_script_run_ctx()
    return bool(ctx is not None and getattr(ctx, "is_history_navigation", False))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _apply_cap(kind: str, arguments: dict[str, Any], ceiling: float) -> Any:
    """Hosted mode: lower a single-value slider's or a numeric select_slider's largest value to
    `ceiling` (and any value already chosen, from a link or an earlier visit). Returns the uncapped
    largest value, or None if nothing was lowered (other widgets are left alone)."""
    key = arguments["key"]
    if kind == "slider":
        low, full = arguments.get("min_value"), arguments.get("max_value")
        if not (_is_number(low) and _is_number(full)) or full <= ceiling \
                or not _is_number(arguments.get("value", low)):
            return None
        step = arguments.get("step")
        top = low + int((ceiling - low) // step) * step if step else ceiling      # on the slider's grid
        arguments["max_value"] = type(full)(top)
        if "value" in arguments and arguments["value"] > top:
            arguments["value"] = arguments["max_value"]
        if _is_number(st.session_state.get(key)) and st.session_state[key] > top:
            st.session_state[key] = arguments["max_value"]
        return full
    if kind == "select_slider":
        options = list(arguments.get("options", ()))
        if not options or not all(_is_number(option) for option in options) \
                or isinstance(arguments.get("value"), tuple | list):
            return None
        kept = [option for option in options if option <= ceiling]
        if not kept or len(kept) == len(options):
            return None
        arguments["options"] = kept
        if "value" in arguments and arguments["value"] not in kept:
            arguments["value"] = kept[-1]
        if key in st.session_state and st.session_state[key] not in kept:
            st.session_state[key] = kept[-1]
        return max(options)
    return None


def _spell(number: float) -> str:
    return f"{number:,}" if isinstance(number, int) or float(number).is_integer() else f"{number:g}"


# ---------------------------------------------------------------------------------------------
# Reading a URL value: check it against the widget's own arguments; None means "ignore it".


def read(kind: str, arguments: dict[str, Any], raw: list[str]) -> Any:
    try:
        return _READERS[kind](arguments, raw)
    except (ValueError, TypeError, OverflowError):
        return None


def _number(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


def _fit(value: float, low: Any, high: Any, step: Any, like: Any) -> Any:
    """Clamp to [low, high], snap to the step grid that starts at `low`, and match `like`'s type."""
    if low is not None and value < low:
        value = low
    if high is not None and value > high:
        value = high
    if step and low is not None:
        value = round(low + round((value - low) / step) * step, 10)
        if high is not None and value > high:            # float noise, or a range not a whole number of steps
            value = high if value - high < step * 1e-6 else round(value - step, 10)
    if isinstance(like, bool):
        return None
    return round(value) if isinstance(like, int) else float(value)


def _read_slider(arguments: dict[str, Any], raw: list[str]) -> Any:
    low, high = arguments.get("min_value"), arguments.get("max_value")
    current = arguments.get("value", low)
    like = current[0] if isinstance(current, (tuple, list)) else current if current is not None else low
    if low is None or high is None:
        return None
    numbers = [_number(text) for text in raw]
    if any(number is None for number in numbers):
        return None
    fitted = [_fit(number, low, high, arguments.get("step"), like) for number in numbers]
    if isinstance(current, (tuple, list)):
        return tuple(sorted(fitted)) if len(fitted) == 2 else None
    return fitted[0] if len(fitted) == 1 else None


def _read_number_input(arguments: dict[str, Any], raw: list[str]) -> Any:
    if len(raw) != 1:
        return None
    number = _number(raw[0])
    if number is None:
        return None
    low, high = arguments.get("min_value"), arguments.get("max_value")
    current = arguments.get("value", "min")
    like = low if current == "min" or current is None else current
    like = 0.0 if like is None else like
    step = arguments.get("step")
    return _fit(number, low, high, step if low is not None else None, like)


def _choose(options: Sequence[Any], text: str) -> Any:
    for option in options:
        if str(option) == text:
            return option
    return None


def _read_select_slider(arguments: dict[str, Any], raw: list[str]) -> Any:
    options = list(arguments.get("options", ()))
    current = arguments.get("value")

    def nearest(text: str) -> Any:
        exact = _choose(options, text)
        if exact is not None or not options or not all(isinstance(o, (int, float)) for o in options):
            return exact
        number = _number(text)            # a number between the choices: take the closest one
        return None if number is None else min(options, key=lambda option: abs(option - number))

    chosen = [nearest(text) for text in raw]
    if any(choice is None for choice in chosen):
        return None
    if isinstance(current, (tuple, list)):
        return tuple(sorted(chosen, key=options.index)) if len(chosen) == 2 else None
    return chosen[0] if len(chosen) == 1 else None


def _read_choice(arguments: dict[str, Any], raw: list[str]) -> Any:
    if len(raw) != 1:
        return None
    return _choose(list(arguments.get("options", ())), raw[0])


def _read_choices(arguments: dict[str, Any], raw: list[str]) -> Any:
    options = list(arguments.get("options", ()))
    chosen = []
    for typed in raw:
        for part in typed.split(","):
            option = _choose(options, part)
            if option is not None and option not in chosen:
                chosen.append(option)
    if not chosen and any(raw):                       # nothing recognisable: ignore, rather than empty the list
        return None
    limit = arguments.get("max_selections")
    return chosen[:limit] if limit else chosen


def _read_pills(arguments: dict[str, Any], raw: list[str]) -> Any:
    if arguments.get("selection_mode", "single") == "multi":
        return _read_choices(arguments, raw)
    return _read_choice(arguments, raw)


def _read_flag(arguments: dict[str, Any], raw: list[str]) -> Any:
    if len(raw) != 1:
        return None
    text = raw[0].strip().lower()
    return True if text in TRUE else False if text in FALSE else None


def _read_text(arguments: dict[str, Any], raw: list[str]) -> Any:
    if len(raw) != 1:
        return None
    limit = arguments.get("max_chars") or MAX_TEXT
    return raw[0][:limit]


_READERS: dict[str, Callable[[dict[str, Any], list[str]], Any]] = {
    "slider": _read_slider, "number_input": _read_number_input, "select_slider": _read_select_slider,
    "selectbox": _read_choice, "radio": _read_choice, "segmented_control": _read_pills,
    "pills": _read_pills, "multiselect": _read_choices, "checkbox": _read_flag, "toggle": _read_flag,
    "text_input": _read_text,
}


# ---------------------------------------------------------------------------------------------
# Writing: what the widget starts at (left out of the URL) and how a value is spelled.


def default(kind: str, arguments: dict[str, Any]) -> Any:
    options = list(arguments.get("options", ()))
    if kind == "slider":
        return arguments.get("value", arguments.get("min_value"))
    if kind == "number_input":
        value = arguments.get("value", "min")
        return arguments.get("min_value", 0.0) if value == "min" else value
    if kind == "select_slider":
        return arguments.get("value", options[0] if options else None)
    if kind in ("selectbox", "radio"):
        index = arguments.get("index", 0)
        return options[index] if index is not None and options else None
    if kind in ("multiselect",):
        return list(arguments.get("default") or [])
    if kind in ("segmented_control", "pills"):
        return arguments.get("default")
    if kind in ("checkbox", "toggle"):
        return bool(arguments.get("value", False))
    if kind == "text_input":
        return arguments.get("value", "")
    return None


def same(value: Any, start: Any) -> bool:
    if isinstance(value, (tuple, list)) and isinstance(start, (tuple, list)):
        return list(value) == list(start)
    return value == start


def encode(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, bool):
        return ["1" if value else "0"]
    if isinstance(value, (tuple, list)):
        return [part for item in value for part in encode(item)] or [""]
    if isinstance(value, float):
        return [format(value, ".6g")]
    return [str(value)]
