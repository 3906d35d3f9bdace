"""99 · Learning rate: the example page of docs/architecture.md (not in the app's navigation).

A real page sits in pages/, is listed in ui/catalog.py, opens with `page_title(number, slug)` and
has cards (docs/architecture.md lists the steps); everything else is as here. Its settings are
declared in ui/settings/example.py. tests/test_pages.py renders this page and trains it."""

import streamlit as st

from engine import regression
from ui.charts import history_figure, show, update_history
from ui.experiment import RunRecord, TakeHome, Training, experiment
from ui.fields import Form
from ui.i18n import text
from ui.settings.example import TRAIN
from ui.widgets import lab_columns, show_source, title_row


def draw(record: RunRecord) -> None:
    """The run's latest report as a chart: called live and after the run."""
    figure = history_figure({"train_loss": text("example.train"), "test_loss": text("example.test")},
                            text("example.loss_title"), text("example.step_axis"))
    show(update_history(figure, record.step.extras["history"]))
    st.metric(text("example.test"), f"{record.step.metrics['test_loss']:.4f}")


title_row(text("example.title"))
st.markdown(text("example.intro"))
settings_column, run_column = lab_columns()
form = Form(TRAIN)
form("rate", where=settings_column)
form("steps", where=settings_column)
config, data_config = form.config()
data = regression.make_data(data_config)
with run_column:
    experiment(TRAIN.key, Training(lambda: regression.train(config, data), config, data_config, form=form,
                                   take_home=TakeHome("regression", {"data": data_config, "config": config})),
               draw=draw, idle=text("example.press_train"))
show_source(regression.train)
