"""Page 70 through AppTest (issue 17): the result sits beside the content and style images, in a
column as wide as theirs, live, after a finished run and after Stop; the loss chart keeps the
house style and the previous run; the download stays."""

import json

import pytest
from streamlit.testing.v1.element_tree import Block, Column

from tests.conftest import train
from ui.i18n import translate

SHORT = {"style_transfer_size": 64, "style_transfer_steps": 5}


def _open(app, lang: str, **sliders):
    app_test = app("pages/style_transfer.py", lang)
    app_test.radio(key="lang").set_value(lang).run()       # explicitly: AppTest page switches once dropped ?lang=
    for key, value in {**SHORT, **sliders}.items():
        app_test.slider(key=key).set_value(value)
    app_test.toggle(key="style_transfer_coarse").set_value(False).run()
    return app_test


def _rows(node: Block):
    """Every st.columns row under `node`: a list of its columns, each with the image captions in it."""
    children = list(node.children.values())
    if children and all(isinstance(child, Column) for child in children):
        yield [(child.weight, [c for image in child.image for c in image.captions]) for child in children]
    for child in children:
        if isinstance(child, Block):
            yield from _rows(child)


def result_row(app_test, lang: str) -> list:
    """The row holding the content image; asserts the result is in it, as wide as the content."""
    content = translate("style_transfer.content_header", lang)
    row = next(row for row in _rows(app_test.main) if len(row) == 3 and any(content in c for _, c in row))
    progress = translate("style_transfer.progress", lang, step=0, total=0, stage=0).split("0")[0]
    (content_weight, _), (style_weight, style), (result_weight, result) = row
    assert translate("style_transfer.style_header", lang) in style
    assert len(result) == 1 and result[0].startswith(progress)
    assert content_weight == style_weight == result_weight
    return row


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_result_is_shown_beside_the_inputs_as_large_as_the_content(app, lang):
    app_test = _open(app, lang)
    pictures = [picture.caption for image in app_test.get("image") for picture in image.proto.imgs]
    assert translate("style_transfer.start_caption", lang) in pictures     # before a run: where the result starts
    train(app_test, "style_transfer_run")
    assert not app_test.exception, [e.message for e in app_test.exception]
    result_row(app_test, lang)
    assert [b.key for b in app_test.get("download_button")].count("act_style_transfer_download") == 1
    assert translate("style_transfer.result_here", lang) not in [c.value for c in app_test.caption]
    app_test.slider(key="style_transfer_steps").set_value(10).run()
    train(app_test, "style_transfer_run")                                # a second run: the first one faint
    figure = json.loads(app_test.get("plotly_chart")[0].proto.spec)
    layout = figure["layout"]
    assert layout["yaxis"]["type"] == "log"
    assert layout["yaxis"].get("title", {}).get("text") or any(
        a.get("name") == "ytitle:yaxis" for a in layout.get("annotations", []))       # CJK titles lie flat
    faint = [t for t in figure["data"] if t.get("legendgroup") == "previous"]
    assert faint and any(t["name"] == translate("common.previous_run", lang) for t in faint)

