"""One declaration per setting (`ui/settings/<page>.py`): everything built from it agrees with it.

For every declared setting: the widget's arguments are ones `st.<widget>` takes, its default is a
value the widget can hold and is what the links leave out of the URL, a link carrying any value the
page or a card uses reads back as that value, a link beyond the range is clamped into it, a hosted
cap lies between the default and the full range, and its label (and its options' labels) exist in
both languages. For every card and challenge: the settings it names are declared, the values it
gives are ones the widgets hold, and the config the page would train is built by the same function.
The exported scripts train the declaration's config. `engine/` holds no widget or session key.
"""

import ast
import dataclasses
import inspect
import math
import pathlib
import runpy

import pytest
import streamlit as st

from engine import export
from tests.test_claims import MODULES
from ui import links
from ui.catalog import CONCEPTS
from ui.i18n import catalog
from ui.settings import RANGED, Experiment, Setting, caps, declared_pages, experiments, lab_settings

PAGES = declared_pages()
DECLARED = [(experiment, setting) for page in PAGES for experiment in experiments(page).values()
            for setting in experiment]
# a page's lab settings, checked as the settings of an experiment of their own
DECLARED += [(Experiment(f"{page}_lab", page, lab_settings(page), lambda values: (values, None), name="lab"), setting)
             for page in PAGES if lab_settings(page) for setting in lab_settings(page)]
CAPPED = [(experiment, setting) for experiment, setting in DECLARED if setting.cap is not None]


def _id(case) -> str:
    return f"{case[0].key}.{case[1].name}"


def _used_values(experiment: Experiment, name: str) -> list:
    """Every value of setting `name` the page's cards and challenge run with."""
    module = MODULES.get(experiment.page)
    if module is None:
        return []
    runs = [run for card in module.CARDS if card.experiment == experiment.name for run in card.runs]
    if module.CHALLENGE.experiment == experiment.name:
        runs.append(module.CHALLENGE.solution)
    return [run[name] for run in runs if name in run]


def test_every_page_declares_its_experiments_once():
    slugs = [concept.slug for concept in CONCEPTS]
    assert set(slugs) <= set(PAGES), f"pages without declarations: {sorted(set(slugs) - set(PAGES))}"
    keys = [experiment.key for page in PAGES for experiment in experiments(page).values()]
    assert len(keys) == len(set(keys)), "two experiments share a session key"
    widget_keys = {}
    for experiment, setting in DECLARED:
        key = experiment.widget_key(setting.name)
        # a setting shared by two experiments of a page is one object, declared once
        assert widget_keys.setdefault(key, setting) is setting, f"{key} is declared twice"
    for page in PAGES:
        assert None in experiments(page), f"{page}: no main experiment (name None)"


@pytest.mark.parametrize("case", DECLARED, ids=_id)
def test_the_widget_and_its_link_follow_the_declaration(case):
    experiment, setting = case
    arguments = setting.widget_arguments()
    widget = getattr(st, setting.widget)
    inspect.signature(widget).bind("label", key=experiment.widget_key(setting.name), **arguments)
    assert setting.allows(setting.default), f"the default {setting.default!r} is not a value the widget holds"
    assert links.same(links.default(setting.widget, arguments), setting.default), "the link's default differs"
    for value in [setting.default, *_used_values(experiment, setting.name)]:
        assert setting.allows(value), f"{value!r} is not a value the widget holds"
        carried = links.read(setting.widget, arguments, links.encode(value))
        assert links.same(carried, value), f"a link carrying {value!r} reads back {carried!r}"
    if setting.widget in RANGED and isinstance(setting.default, int | float):
        high = links.read(setting.widget, arguments, [str(setting.high * 10 + 10)])
        low = links.read(setting.widget, arguments, [str(setting.low - abs(setting.low) * 10 - 10)])
        assert (low, high) == (setting.low, setting.high), "a link beyond the range is not clamped to it"


@pytest.mark.parametrize("case", CAPPED, ids=_id)
def test_a_hosted_cap_lies_between_the_default_and_the_full_range(case):
    _, setting = case
    if setting.widget == "slider":
        full = setting.high
    else:
        assert setting.widget == "select_slider", "only sliders are capped"
        full = max(setting.options)
    assert setting.default <= setting.cap < full


def test_the_hosted_caps_are_the_declared_ones():
    declared = {experiment.widget_key(s.name): s.cap for experiment, s in CAPPED}
    assert caps() == declared and len(declared) >= 15


@pytest.mark.parametrize("case", DECLARED, ids=_id)
def test_every_label_and_option_speaks_both_languages(case):
    experiment, setting = case
    entries = catalog()
    keys = [experiment.label_key(setting.name)]
    if setting.choices:
        keys += [f"{setting.choices}{option}" for option in setting.options]
    for key in keys:
        assert key in entries and entries[key].get("en") and entries[key].get("zh"), key


CARD_RUNS = [(slug, card.id, card.experiment, run) for slug, module in MODULES.items() for card in module.CARDS
             for run in card.runs]
CARD_RUNS += [(slug, "challenge", module.CHALLENGE.experiment, module.CHALLENGE.solution)
              for slug, module in MODULES.items()]


@pytest.mark.parametrize(("slug", "card", "name", "run"), CARD_RUNS,
                         ids=[f"{slug}-{card}-{index}" for index, (slug, card, _, _) in enumerate(CARD_RUNS)])
def test_a_cards_run_is_a_setup_of_the_declared_widgets(slug, card, name, run):
    experiment = experiments(slug)[name]
    values = experiment.complete(run)            # every name is declared (else KeyError)
    for key, value in run.items():
        assert experiment[key].allows(value), f"{slug}.{card}: {key}={value!r} is not a value its widget holds"
    assert experiment.build(values) == experiment.config(run)


# The exported script of each experiment: its name in engine.export.PAGES and what the page passes
# it beside the config (as pages/<page>.py does).
EXPORTS = {
    "regression_train": ("regression", lambda config, data: {"config": config, "data": data}),
    "multitask_train": ("multitask", lambda config, data: {"config": config, "dataset": "subset"}),
    "adversarial_train": ("adversarial", lambda config, data: {"config": config, "dataset": "subset"}),
    "autoencoder_train": ("autoencoder", lambda config, data: {"config": config, "dataset": "subset"}),
    "unet_train": ("unet", lambda config, data: {"config": config}),
    "lstm_forecast_train": ("lstm_forecast", lambda config, data: {"config": config, "series": data}),
    "lstm_race_train": ("lstm_race", lambda config, data: {"config": config}),
    "lstm_rows_train": ("lstm_rows", lambda config, data: {"config": config, "dataset": "subset"}),
    "half_precision_train": ("half_precision", lambda config, data: {"config": config, "dataset": "subset"}),
    "style_transfer_run": ("style_transfer", lambda config, data: {"config": config}),
    "optimizers_network": ("optimizers", lambda config, data: {"config": config, "dataset": "subset"}),
    "distributed_train": ("distributed", lambda config, data: export.distributed_settings(config)),
}


def _plain(value):
    if dataclasses.is_dataclass(value):
        return {field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


@pytest.mark.parametrize("key", sorted(EXPORTS))
def test_the_exported_script_trains_the_declared_config(key, tmp_path):
    experiment = next(e for page in PAGES for e in experiments(page).values() if e.key == key)
    config, data = experiment.config()
    name, settings = EXPORTS[key]
    path = tmp_path / f"{name}.py"
    path.write_text(export.script(name, **settings(config, data)))
    namespace = runpy.run_path(str(path), run_name="exported")          # defines, does not run main()
    expected = settings(config, data)["config"]            # page 69's script keeps the fields torchrun needs
    assert _plain(namespace["CONFIG"]) == _plain(expected), f"{name}: the script's CONFIG is not the declaration's"


def _strings(path: pathlib.Path):
    """The string constants of a module that are not docstrings, with their line numbers."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value
        if isinstance(node, ast.JoinedStr):             # f"unet_{name}": its literal parts
            yield node.lineno, "".join(part.value for part in node.values if isinstance(part, ast.Constant))


def test_the_engine_holds_no_widget_or_session_key():
    keys = {experiment.widget_key(setting.name) for experiment, setting in DECLARED}
    keys |= {experiment.key for page in PAGES for experiment in experiments(page).values()}
    prefixes = tuple(f"{page}_" for page in PAGES)
    found = []
    for path in sorted(pathlib.Path("engine").rglob("*.py")):
        for line, value in _strings(path):
            words = value.replace("`", " ").replace('"', " ").split()
            if any(word in keys or (word.endswith("_") and word.startswith(prefixes)) for word in words):
                found.append(f"{path}:{line}: {value[:60]!r}")
    assert not found, "\n".join(found)


def test_a_setting_checks_the_values_its_widget_can_hold():
    steps = Setting("steps", "slider", 100, 10, 1000, 10)
    assert steps.allows(100) and steps.allows(1000) and not steps.allows(1005) and not steps.allows(5)
    assert not steps.allows(True) and not steps.allows(math.nan)
    choice = Setting("loss", "selectbox", "mse", options=("mse", "mae"))
    assert choice.allows("mae") and not choice.allows("huber")
    with pytest.raises(ValueError):
        Setting("loss", "selectbox", "mse")
    with pytest.raises(KeyError):
        Experiment("x_train", "x", (steps,), lambda s: (s, None)).complete({"stepz": 3})


@pytest.mark.parametrize("slug", [concept.slug for concept in CONCEPTS])
def test_the_page_draws_each_declared_setting_as_declared(app, slug):
    """A fresh page: every declared setting it shows has the declared default, and its range is the
    declared one or, where the range follows another setting (page 64's start follows the surface),
    within it: the widget is drawn from the declaration, not written again in the page."""
    declared = {experiment.widget_key(setting.name): setting
                for experiment in experiments(slug).values() for setting in experiment}
    page = app(f"pages/{slug}.py")
    shown = 0
    for kind in ("slider", "number_input", "select_slider", "selectbox", "radio", "toggle", "checkbox",
                 "multiselect", "text_input"):
        for element in page.get(kind):
            setting = declared.get(element.key)
            if setting is None:
                continue
            shown += 1
            assert setting.widget == kind, f"{element.key}: drawn as a {kind}, declared a {setting.widget}"
            assert links.same(element.value, setting.default), f"{element.key}: {element.value!r}"
            if kind in RANGED:
                assert setting.low <= element.min < element.max <= setting.high, element.key
    assert shown >= 3, f"{slug}: the page shows {shown} declared settings"
