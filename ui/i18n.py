"""Every visible string, in English and Simplified Chinese, from ui/locales/*.toml.

Each file holds tables `[name]` with `en` and `zh`; the key is `<file>.<name>`, e.g.
`regression.title`. Placeholders use `{name}` and are filled only when arguments are given,
so explanations can hold LaTeX braces freely.
"""

import tomllib
from collections.abc import Callable
from functools import cache
from pathlib import Path

import streamlit as st

LOCALES = Path(__file__).with_name("locales")
LANGUAGES = {"en": "English", "zh": "简体中文"}
HTML_LANG = {"en": "en", "zh": "zh-CN"}   # the document's `lang` (BCP 47) per language: a screen reader's voice
DEFAULT_LANGUAGE = "en"
LANGUAGE_KEY = "lang"     # session-state key and URL parameter (?lang=zh)


@cache
def catalog() -> dict[str, dict[str, str]]:
    """All entries of all locale files: "file.name" -> {"en": ..., "zh": ...}."""
    entries = {}
    for path in sorted(LOCALES.glob("*.toml")):
        with path.open("rb") as handle:
            for name, languages in tomllib.load(handle).items():
                entries[f"{path.stem}.{name}"] = languages
    return entries


def translate(key: str, language: str, **params: object) -> str:
    """The entry in `language`; a missing key shows itself (and fails the completeness test)."""
    entry = catalog().get(key)
    if entry is None:
        return key
    message = entry.get(language) or entry[DEFAULT_LANGUAGE]
    return message.format(**params) if params else message


def language() -> str:
    value = st.session_state.get(LANGUAGE_KEY, DEFAULT_LANGUAGE)
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def text(key: str, **params: object) -> str:
    """`key` in the user's current language."""
    return translate(key, language(), **params)


def option_labels(prefix: str) -> Callable[[object], str]:
    """A widget `format_func`: option -> text(prefix + option), fixed to this run's language
    (a function that looked the language up later could label options in the wrong one)."""
    current = language()
    return lambda option: translate(f"{prefix}{option}", current)


def read_language() -> str:
    """The entry file calls this first on every run: the session's language, taken once per session
    from `?lang=` (so a shared link opens in its language) before any text is looked up."""
    if "lang_default" not in st.session_state:
        requested = st.query_params.get(LANGUAGE_KEY)
        st.session_state.lang_default = requested if requested in LANGUAGES else DEFAULT_LANGUAGE
    if st.session_state.get(LANGUAGE_KEY) not in LANGUAGES:
        st.session_state[LANGUAGE_KEY] = st.session_state.lang_default
    return language()


def language_switch(container=None) -> str:
    """English / 简体中文, drawn in `container` (each page's title row), kept in `?lang=` so links
    open in the same language.

    Streamlit's `bind="query-params"` would put the displayed label ("简体中文") in the URL, and
    page switches clear the URL, so the parameter is read once per session (`read_language`) and
    written back on every run.
    """
    read_language()
    codes = list(LANGUAGES)
    chosen = (container or st).radio("Language · 语言", codes, format_func=LANGUAGES.__getitem__, key=LANGUAGE_KEY,
                                      horizontal=True, label_visibility="collapsed")
    if chosen == DEFAULT_LANGUAGE:
        st.query_params.pop(LANGUAGE_KEY, None)
    elif st.query_params.get(LANGUAGE_KEY) != chosen:
        st.query_params[LANGUAGE_KEY] = chosen
    return chosen
