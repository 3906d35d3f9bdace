"""99 · Learning rate: the example page of docs/architecture.md (not in the app's navigation).

A real page sits in pages/, is listed in ui/catalog.py and opens with `page_title(number, slug)`;
everything else is as here. tests/test_pages.py renders this page and trains its experiment."""

import streamlit as st

from engine import regression
from ui.charts import history_figure, show, update_history
from ui.experiment import RunRecord, TakeHome, Training, experiment
from ui.i18n import text
from ui.links import linked
from ui.widgets import lab_columns, show_source, title_row

RATES = (0.001, 0.01, 0.05, 0.1, 0.5)


def draw(record: RunRecord) -> None:
    """The run's latest report as a chart: called live and after the run."""
    figure = history_figure({"train_loss": text("example.train"), "test_loss": text("example.test")},
                            text("example.loss_title"), text("example.step_axis"))
    show(update_history(figure, record.step.extras["history"]))
    st.metric(text("example.test"), f"{record.step.metrics['test_loss']:.4f}")


title_row(text("example.title"))
st.markdown(text("example.intro"))
settings_column, run_column = lab_columns()
with settings_column:
    rate = linked(st.select_slider, text("example.rate"), RATES, 0.05, key="example_rate")
    steps = linked(st.slider, text("example.steps"), 50, 1000, 300, 50, key="example_steps")
data_config = regression.DataConfig()
config = regression.RegressionConfig(learning_rate=rate, num_steps=steps)
data = regression.make_data(data_config)
with run_column:
    experiment("example_train",
               Training(lambda: regression.train(config, data), config, data_config,
                        take_home=TakeHome("regression", {"data": data_config, "config": config})),
               draw=draw, idle=text("example.press_train"))
show_source(regression.train)
