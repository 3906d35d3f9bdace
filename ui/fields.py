"""Drawing declared settings (`ui.settings`): a `Form` per experiment, one call per setting.

    form = Form(TRAIN)                       # TRAIN: an Experiment from ui/settings/<page>.py
    noise = form("noise")                    # st.slider as declared, linked, capped when hosted
    steps = form("steps", where=column)      # drawn in a column, an expander's body, ...
    config, data_key = form.config()         # the declaration's config, as the cards build it

The form keeps the values it drew in this script run; `Training(..., form=form)` hands them to
`ui.experiment.experiment`, which records them with the run (the cards judge a run by them).
A setting the page did not draw this time (a hidden one) counts at its default. In a lesson
(`ui.lesson_state.rule`), a step starts its settings at the teacher's values, draws a locked one disabled,
and leaves out one the teacher did not choose to show (it counts at the step's value).
"""

from collections.abc import Callable
from typing import Any

import streamlit as st

from ui import hosted, lesson_state
from ui.i18n import option_labels, text
from ui.links import describe, linked
from ui.settings import Experiment, Setting


class Form:
    """The settings of one experiment drawn in this script run."""

    def __init__(self, experiment: Experiment) -> None:
        self.experiment = experiment
        self.values: dict[str, Any] = {}

    def __call__(self, name: str, where: Any = None, **overrides: Any) -> Any:
        """Draw setting `name` (in `where`, a column or container; the page's current block by
        default) and return its value. `overrides` change a widget argument for this run only (a
        range that follows another setting); the declaration stays the reference."""
        setting = self.experiment[name]
        arguments = {**setting.widget_arguments(), **overrides}
        if setting.choices:
            arguments.setdefault("format_func", option_labels(setting.choices))
        widget = getattr(where if where is not None else st, setting.widget)
        label = text(self.experiment.label_key(name))
        key = self.experiment.widget_key(name)
        if (step := lesson_state.rule(self.experiment, name)) is not None:      # a lesson's step sets it
            value, fixed, drawn, first = step
            if fixed or first:
                st.session_state[key] = value
            if not drawn:
                self.values[name] = value
                return value
        if step is not None and step[1]:    # shown as the teacher set it, not linked: no link or visit changes it
            value = widget(label, key=key, **{**arguments, "disabled": True})
        elif setting.linked:
            value = linked(widget, label, key=key, cap=hosted.cap(setting), **arguments)
        else:
            value = widget(label, key=key, **arguments)
        self.values[name] = list(value) if isinstance(value, tuple) and setting.widget == "multiselect" else value
        return value

    def set(self, name: str, value: Any) -> None:
        """A setting's value decided without a widget this run (e.g. fixed by another choice)."""
        self.experiment[name]
        self.values[name] = value

    def config(self) -> tuple[Any, Any]:
        return self.experiment.config(self.values)

    def shown(self) -> dict[str, tuple[str, Callable[[Any], str] | None]]:
        """name -> (label, format) as this run's widgets show them."""
        return {setting.name: labelled(self.experiment, setting) for setting in self.experiment}


def labelled(experiment: Experiment, setting: Setting) -> tuple[str, Callable[[Any], str] | None]:
    return (text(experiment.label_key(setting.name)),
            option_labels(setting.choices) if setting.choices else None)


def spoken(experiment: Experiment, name: str, value: Any) -> str:
    """"label = value" for a setting, in the learner's language."""
    label, format_func = labelled(experiment, experiment[name])
    return f"{label} = {describe(value, format_func)}"
