"""Page 64 in Chinese: no English in its formulas, the bowl's tuning box, the saddle's escape column."""

import re

import pytest

from ui.i18n import translate


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_bowl_shows_the_tuned_heavy_ball_and_the_saddle_counts_escapes(app, lang):
    app_test = app("pages/optimizers.py", lang)
    assert not app_test.exception
    formulas = [element.value for element in app_test.latex]
    assert len(formulas) == 8
    assert not [f for f in formulas if re.search(r"\\text\{", f)]               # no words inside the rules
    tuning = [box.value for box in app_test.info if "0.0614" in box.value]
    assert tuning and "0.566" in tuning[0] and "155" in tuning[0] and "33" in tuning[0]   # bowl: GD and heavy ball
    table = app_test.dataframe[0].value
    assert translate("optimizers.table_tolerance", lang) in table.columns
    app_test.selectbox(key="optimizers_surface").set_value("saddle").run()
    assert not app_test.exception
    table = app_test.dataframe[0].value
    escapes = dict(zip(table.iloc[:, 0], table[translate("optimizers.table_escape", lang)], strict=True))
    assert escapes[translate("optimizers.name_sgd", lang)] == "349"
    assert escapes[translate("optimizers.name_adagrad", lang)] == translate("optimizers.never", lang)
    assert not [box for box in app_test.info if "0.0614" in box.value]             # only on the bowl


def test_recommended_settings_restore_momentum_and_beta2(app):
    app_test = app("pages/optimizers.py")
    app_test.slider(key="optimizers_mu").set_value(0.57).run()
    app_test.button(key="act_optimizers_recommend").click().run()
    assert app_test.slider(key="optimizers_mu").value == pytest.approx(0.9)
