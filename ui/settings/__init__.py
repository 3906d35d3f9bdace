"""Every experiment's settings, each declared once.

A `Setting` says everything about one knob: its name, the widget that shows it, its default, its
range and step or its options, its hosted-mode ceiling, whether a link carries it, the locale key
of its label. An `Experiment` is the settings of one experiment of a page, with the one function
that turns their values into what the engine trains (`config`). Everything else is derived:

- the widgets (`ui.fields.Form` draws a setting from its declaration),
- the links' clamping (`ui.links.linked` reads the range and options from the widget's arguments),
- the hosted caps (`Setting.cap`, applied by `linked`),
- the cards' runs: `engine/cards/<page>.py` names settings by their bare names (`{"degree": 15}`)
  and trains `Experiment.config(values)`, the same function the page calls,
- the exported script's options, which come from the config objects.

This package is Streamlit-free (the declarations are plain data); `ui/settings/<page>.py` holds a
page's experiments in `EXPERIMENTS` (the main one has `name` None) and, in `LAB`, the settings of
its labs on a trained model that need a declaration too (a hosted cap).
"""

import importlib
import pkgutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

WIDGETS = ("slider", "select_slider", "number_input", "selectbox", "radio", "segmented_control", "pills",
           "multiselect", "toggle", "checkbox", "text_input")
RANGED = ("slider", "number_input")
CHOICE = ("select_slider", "selectbox", "radio", "segmented_control", "pills", "multiselect")


@dataclass(frozen=True)
class Setting:
    """One setting. `widget` names the Streamlit widget (`st.<widget>`); `low`, `high`, `step` are a
    slider's or number input's range, `options` a choice's; `default` the value it starts at (a list
    for a multiselect). `cap`: the largest value a shared server allows (hosted mode), never below the
    default. `linked`: a shared link carries it. `label`: the locale key of its label (default
    `<page>.<name>`); `choices`: the locale prefix of its options' labels (`<prefix><option>`).
    `arguments`: other widget arguments (`horizontal=True`, ...)."""

    name: str
    widget: str
    default: Any
    low: Any = None
    high: Any = None
    step: Any = None
    options: tuple = ()
    cap: float | None = None
    linked: bool = True
    label: str | None = None
    choices: str | None = None
    arguments: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.widget not in WIDGETS:
            raise ValueError(f"{self.name}: unknown widget {self.widget!r}")
        if self.widget in CHOICE and not self.options:
            raise ValueError(f"{self.name}: a {self.widget} needs options")

    def widget_arguments(self) -> dict[str, Any]:
        """The arguments of `st.<widget>` that the declaration fixes (not the label, key, format)."""
        given: dict[str, Any]
        if self.widget in RANGED:
            given = {"min_value": self.low, "max_value": self.high, "value": self.default}
            if self.step is not None:
                given["step"] = self.step
        elif self.widget == "select_slider":
            given = {"options": list(self.options), "value": self.default}
        elif self.widget in ("selectbox", "radio"):
            given = {"options": list(self.options), "index": list(self.options).index(self.default)}
        elif self.widget in ("segmented_control", "pills"):
            given = {"options": list(self.options), "default": self.default}
        elif self.widget == "multiselect":
            given = {"options": list(self.options), "default": list(self.default)}
        else:
            given = {"value": self.default}
        return {**given, **self.arguments}

    def allows(self, value: Any) -> bool:
        """Whether the widget can hold `value` (in range and on the step's grid, or among the options;
        for a two-handle slider, whose default is a pair, both ends in order)."""
        if self.widget == "slider" and isinstance(self.default, list | tuple):
            return (isinstance(value, list | tuple) and len(value) == 2 and value[0] <= value[1]
                    and all(Setting(self.name, "slider", end, self.low, self.high, self.step).allows(end)
                            for end in value))
        if self.widget in RANGED:
            if isinstance(value, bool) or not isinstance(value, int | float) or not self.low <= value <= self.high:
                return False
            if not self.step:
                return True
            steps = (value - self.low) / self.step
            return abs(steps - round(steps)) < 1e-6
        if self.widget == "multiselect" or (self.widget in ("segmented_control", "pills")
                                             and self.arguments.get("selection_mode") == "multi"):
            return isinstance(value, list | tuple) and all(item in self.options for item in value)
        if self.widget in CHOICE:
            return value in self.options or (value is None and self.widget in ("segmented_control", "pills"))
        if self.widget in ("toggle", "checkbox"):
            return isinstance(value, bool)
        return isinstance(value, str)


@dataclass(frozen=True)
class Experiment:
    """The settings of one experiment. `key`: its Session State key (the record; the Run button is
    `act_<key>`). `page`: the page's slug, the prefix of the settings' widget keys
    (`<page>_<name>`) and of their labels' locale keys. `build`: complete values (name -> value) ->
    (config, data key), what the experiment trains; the page and the cards both call `config`.
    `name`: how the page's cards refer to it (None for the page's main experiment). `replays`: an
    equal run may be played back from a recording in hosted mode (`ui.records.Training.replay`); False
    for runs whose point is their own timing, which must be measured again."""

    key: str
    page: str
    settings: tuple[Setting, ...]
    build: Callable[[dict[str, Any]], tuple[Any, Any]]
    name: str | None = None
    replays: bool = True

    def __post_init__(self) -> None:
        names = [setting.name for setting in self.settings]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.key}: a setting declared twice")

    def __getitem__(self, name: str) -> Setting:
        for setting in self.settings:
            if setting.name == name:
                return setting
        raise KeyError(f"{self.key} has no setting {name!r}")

    def __iter__(self) -> Iterator[Setting]:
        return iter(self.settings)

    def widget_key(self, name: str) -> str:
        return f"{self.page}_{name}"

    def label_key(self, name: str) -> str:
        return self[name].label or f"{self.page}.{name}"

    def defaults(self) -> dict[str, Any]:
        return {setting.name: _copy(setting.default) for setting in self.settings}

    def complete(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """`values` with every setting they leave out at its default; a name not declared raises KeyError."""
        for name in values:
            self[name]
        return {**self.defaults(), **values}

    def config(self, values: Mapping[str, Any] | None = None) -> tuple[Any, Any]:
        """(config, data key) for `values` (the rest at their defaults)."""
        return self.build(self.complete(values or {}))


def dataset(options: tuple[str, ...] | None = None) -> Setting:
    """The digits a page trains on: the bundled subset, or a full set downloaded on request
    (`ui.data_widgets.dataset_ui` draws it, with its hosted-mode choices and loading). A page whose
    tasks only make sense for handwritten digits passes `options` without Fashion-MNIST."""
    from engine import data

    return Setting("dataset", "selectbox", "subset", options=options or ("subset", *data.DOWNLOADABLE),
                   label="data.dataset", choices="data.dataset_")


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list | tuple) and not isinstance(value, str) else value


def declared_pages() -> list[str]:
    """The pages with a declaration module here."""
    return sorted(info.name for info in pkgutil.iter_modules(__path__))


def lab_settings(page: str) -> tuple[Setting, ...]:
    """The page's declared lab settings (widget key `<page>_<name>`, as an experiment's)."""
    return getattr(importlib.import_module(f"ui.settings.{page}"), "LAB", ())


def caps() -> dict[str, float]:
    """Widget key -> hosted ceiling, over every declared setting that has one."""
    found = {}
    for page in declared_pages():
        settings = [*lab_settings(page), *(s for experiment in experiments(page).values() for s in experiment)]
        found |= {f"{page}_{setting.name}": setting.cap for setting in settings if setting.cap is not None}
    return found


def experiments(page: str) -> dict[str | None, Experiment]:
    """A page's experiments by the name its cards use (None: the main one)."""
    module = importlib.import_module(f"ui.settings.{page}")
    return {experiment.name: experiment for experiment in module.EXPERIMENTS}


def experiment_of(page: str, name: str | None = None) -> Experiment:
    return experiments(page)[name]
