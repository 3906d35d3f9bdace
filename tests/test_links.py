"""Shareable links: every page's settings travel in the URL; tampered links are clamped or ignored."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import APP_TIMEOUT, ENTRY
from tests.test_pages import PAGES, assert_clean
from ui import links

SETTING_KINDS = ("slider", "select_slider", "selectbox", "radio", "toggle", "checkbox", "number_input",
                 "multiselect", "text_input")


def settings(app_test, slug: str) -> dict:
    """key -> (kind, element) for every keyed setting the page shows (the `<slug>_` keys)."""
    found = {}
    for kind in SETTING_KINDS:
        for element in app_test.get(kind):
            if element.key and element.key.startswith(f"{slug}_"):
                found[element.key] = (kind, element)
    return found


# Lab widgets a learner explores with after a run: plain widgets, never in a link (issue 17); a link
# carries what defines the experiment.
EXPLORATION = {"optimizers_3d", "optimizers_scrub", "half_precision_add", "half_precision_count",
               "half_precision_value", "half_precision_sum_format", "distributed_ring_devices",
               "distributed_ring_step", "adversarial_index", "multitask_index", "unet_feature_image"}


def values(app_test, slug: str) -> dict:
    return {key: element.value for key, (_, element) in settings(app_test, slug).items()}


def open_link(app, page: str, params: dict):
    """A fresh session opened from a link: the URL is there from the first run."""
    app_test = AppTest.from_file(str(ENTRY), default_timeout=APP_TIMEOUT)
    app_test.query_params.update(params)
    app_test.run()
    app_test.switch_page(page).run()
    return app_test


SLUGS = [page.removeprefix("pages/").removesuffix(".py") for page in PAGES if page]


@pytest.mark.slow
@pytest.mark.parametrize("slug", SLUGS)
def test_every_setting_is_in_the_url_and_a_copied_link_reopens_it(app, slug):
    """Change every setting the page shows, copy the URL, open it in a new session: the same settings."""
    page = f"pages/{slug}.py"
    first = app(page, "zh")
    shown = settings(first, slug)
    assert len(shown) >= 4, shown.keys()
    for kind, element in shown.values():
        if kind == "slider" and element.min != element.max:
            current = element.value
            target = (element.min, element.max) if isinstance(current, tuple) else \
                element.max if current != element.max else element.min
            element.set_value(target)
        elif kind in ("toggle", "checkbox"):
            element.set_value(not element.value)
        elif kind == "select_slider" and all(_numeric_text(option) for option in element.options) \
                and not isinstance(element.value, tuple):
            numbers = [type(element.value)(float(option)) for option in element.options]
            element.set_value(numbers[-1] if element.value != numbers[-1] else numbers[0])
    first.run()
    assert_clean(first)
    link = dict(first.query_params)
    assert link["lang"] == "zh"
    expected = values(first, slug)
    defaults = values(app(page, "zh"), slug)
    changed = {key for key, value in expected.items() if key in defaults and defaults[key] != value}
    assert len(changed) >= 3, link
    assert changed - EXPLORATION <= set(link), changed - set(link)      # every changed setting is in the link
    assert not EXPLORATION & set(link)                                   # and no lab value
    changed -= EXPLORATION
    second = open_link(app, page, link)
    assert_clean(second)
    assert second.radio(key="lang").value == "zh"
    reopened = values(second, slug)
    assert {key: reopened.get(key) for key in changed} == {key: expected[key] for key in changed}
    assert dict(second.query_params) == link
    english = open_link(app, page, {**link, "lang": "en"})      # the same link, read in English
    assert_clean(english)
    assert {key: values(english, slug).get(key) for key in changed} == {key: expected[key] for key in changed}


@pytest.mark.parametrize("slug", SLUGS)
def test_tampered_links_are_clamped_or_ignored_without_an_error(app, slug):
    page = f"pages/{slug}.py"
    clean = app(page)
    defaults = values(clean, slug)
    shown = {key: found for key, found in settings(clean, slug).items() if key not in EXPLORATION}

    garbage = open_link(app, page, {key: "<script>x</script>%00" for key in shown} | {"nonsense": "1", "lang": "xx"})
    assert_clean(garbage)
    assert not garbage.error
    assert garbage.radio(key="lang").value == "en"
    assert values(garbage, slug) == defaults                          # malformed: ignored (labs never read links)
    assert not any(key in garbage.query_params for key in shown)     # and cleaned out of the URL

    huge = open_link(app, page, {key: "-1e12" for key in shown} | {f"{slug}_unknown": "7"})
    assert_clean(huge)
    for error in huge.error:          # every number at its minimum can be a combination the page explains,
        assert error.value and not error.value.startswith("errors.")       # e.g. all loss weights 0
    for key, (kind, element) in settings(huge, slug).items():
        if key not in shown:
            continue
        if kind == "slider":
            expected = defaults[key] if isinstance(element.value, tuple) else element.min   # a range needs 2
            assert element.value == expected, key                                            # clamped
        elif kind == "number_input" and element.min is not None:
            assert element.value == element.min, key
        elif kind == "select_slider" and all(_numeric_text(option) for option in element.options):
            assert element.value == min(float(option) for option in element.options), key
        elif kind in ("selectbox", "radio", "toggle", "checkbox"):
            assert element.value == defaults[key], key                  # not a choice: ignored


def _numeric_text(text) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_a_link_edited_by_hand_wins_once_then_the_user_does(app):
    app_test = open_link(app, "pages/regression.py", {"regression_points": "333", "regression_optimizer": "sgd"})
    assert app_test.slider(key="regression_points").value == 330                   # snapped to the step of 10
    assert app_test.query_params["regression_points"] == "330"
    app_test.slider(key="regression_points").set_value(500).run()
    assert app_test.slider(key="regression_points").value == 500                   # the user's move stays
    assert app_test.query_params["regression_points"] == "500"
    app_test.selectbox(key="regression_optimizer").set_value("adam").run()          # back to the default
    assert "regression_optimizer" not in app_test.query_params                     # defaults stay out of links


def test_choices_travel_as_codes_and_work_in_the_other_language(app):
    zh = open_link(app, "pages/regression.py", {"lang": "zh"})
    zh.selectbox(key="regression_optimizer").set_value("sgd")
    zh.selectbox(key="regression_loss").set_value("huber")
    zh.radio(key="regression_source").set_value("generated").run()
    link = dict(zh.query_params)
    assert (link["regression_optimizer"], link["regression_loss"]) == ("sgd", "huber")
    en = open_link(app, "pages/regression.py", {**link, "lang": "en"})
    assert en.selectbox(key="regression_optimizer").value == "sgd"
    assert en.selectbox(key="regression_loss").value == "huber"
    tasks = open_link(app, "pages/multitask.py", {"multitask_tasks": ["slant", "digit", "bogus"], "lang": "zh"})
    assert tasks.multiselect(key="multitask_tasks").value == ["slant", "digit"]


def test_a_stale_address_never_undoes_the_users_latest_move(app):
    """A rerun can carry an address the browser has not updated yet: the user's value must win."""
    app_test = open_link(app, "pages/regression.py", {"regression_points": "330"})
    app_test.slider(key="regression_points").set_value(500).run()
    app_test.query_params["regression_points"] = "330"           # the browser still shows the old address
    app_test.slider(key="regression_noise").set_value(1.0).run()  # and the user moves something else
    assert app_test.slider(key="regression_points").value == 500
    assert app_test.query_params["regression_points"] == "500"


def test_settings_survive_a_trip_to_another_page(app):
    app_test = open_link(app, "pages/unet.py", {"unet_steps": "100", "lang": "zh"})
    app_test.query_params.pop("unet_steps")          # a browser drops the query on a page switch; AppTest doesn't
    app_test.switch_page("pages/lstm.py").run()
    assert "unet_steps" not in app_test.query_params
    app_test.switch_page("pages/unet.py").run()
    assert app_test.slider(key="unet_steps").value == 100
    assert app_test.query_params["unet_steps"] == "100"


@pytest.mark.parametrize(("kind", "arguments", "raw", "expected"), [
    ("slider", {"min_value": 0.0, "max_value": 3.0, "value": 0.5, "step": 0.1}, ["2.26"], 2.3),
    ("slider", {"min_value": 0.0, "max_value": 3.0, "value": 0.5, "step": 0.1}, ["9"], 3.0),
    ("slider", {"min_value": 10, "max_value": 2000, "value": 200, "step": 10}, ["-4"], 10),
    ("slider", {"min_value": 10, "max_value": 2000, "value": 200, "step": 10}, ["inf"], None),
    ("slider", {"min_value": 10, "max_value": 2000, "value": 200, "step": 10}, ["12", "13"], None),
    ("slider", {"min_value": 0.04, "max_value": 0.3, "value": (0.08, 0.2), "step": 0.01}, ["0.5", "0.1"], (0.1, 0.3)),
    ("slider", {"min_value": 0.04, "max_value": 0.3, "value": (0.08, 0.2), "step": 0.01}, ["0.1"], None),
    ("number_input", {"min_value": 0, "max_value": 999, "value": 0}, ["12.7"], 13),
    ("number_input", {"value": 5.0}, ["-1e300"], -1e300),
    ("number_input", {"min_value": 0, "max_value": 9, "value": 0}, ["nan"], None),
    ("select_slider", {"options": (0.001, 0.01, 0.1), "value": 0.01}, ["0.1"], 0.1),
    ("select_slider", {"options": (0.001, 0.01, 0.1), "value": 0.01}, ["0.04"], 0.01),
    ("select_slider", {"options": ("a", "b"), "value": "a"}, ["c"], None),
    ("selectbox", {"options": ["sgd", "adam"]}, ["adam"], "adam"),
    ("selectbox", {"options": ["sgd", "adam"]}, ["Adam"], None),
    ("radio", {"options": [0, 1]}, ["1"], 1),
    ("multiselect", {"options": ["a", "b", "c"]}, ["c", "x", "a,c"], ["c", "a"]),
    ("multiselect", {"options": ["a", "b", "c"], "max_selections": 1}, ["b", "a"], ["b"]),
    ("multiselect", {"options": ["a", "b", "c"]}, ["x"], None),
    ("multiselect", {"options": ["a", "b", "c"]}, [""], []),
    ("toggle", {}, ["TRUE"], True),
    ("toggle", {}, ["maybe"], None),
    ("text_input", {"max_chars": 4}, ["123456"], "1234"),
])
def test_reading_a_url_value(kind, arguments, raw, expected):
    assert links.read(kind, arguments, raw) == (pytest.approx(expected) if isinstance(expected, float) else expected)


@pytest.mark.parametrize(("value", "expected"), [
    (True, ["1"]), (0.30000000000000004, ["0.3"]), (2e-3, ["0.002"]), ((0.08, 0.2), ["0.08", "0.2"]),
    ([], [""]), ("adam", ["adam"]), (None, []),
])
def test_writing_a_url_value(value, expected):
    assert links.encode(value) == expected
