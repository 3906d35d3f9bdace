"""Page 66 through AppTest: the skips comparison pairs only equal settings; captions follow the language."""

from ui.i18n import translate
from ui.widgets import number_format


def _train(app_test) -> None:
    app_test.button(key="act_unet_train").click().run(timeout=600)            # a busy shared CI box
    assert not app_test.exception, [e.message for e in app_test.exception]


def _compared(app_test, lang: str) -> bool:
    start = translate("unet.compare", lang, with_skips="", without_skips="")[:12]
    return any(m.value.startswith(start) for m in app_test.markdown)


def test_skips_are_compared_only_between_runs_with_equal_settings(app):
    app_test = app("pages/unet.py", "en")
    app_test.slider(key="unet_steps").set_value(20).run()
    _train(app_test)                                                        # skips on, depth 3
    app_test.toggle(key="unet_skips").set_value(False).run()
    app_test.slider(key="unet_depth").set_value(2).run()
    _train(app_test)                                                        # skips off, depth 2
    assert not _compared(app_test, "en")                                    # depth differs: no comparison
    assert translate("unet.compare_hint", "en") in [c.value for c in app_test.caption]
    app_test.slider(key="unet_depth").set_value(3).run()
    assert not _compared(app_test, "en")                                    # this setting has no run yet
    _train(app_test)                                                        # skips off, depth 3
    assert _compared(app_test, "en")
    runs = app_test.session_state["unet_dice"]
    on, off = (next(c for c in runs if c.depth == 3 and c.skips is skips) for skips in (True, False))
    expected = translate("unet.compare", "en", with_skips=number_format(runs[on]),
                         without_skips=number_format(runs[off]))
    assert expected in [m.value for m in app_test.markdown]


def test_feature_map_captions_are_translated(app):
    app_test = app("pages/unet.py", "zh")
    app_test.slider(key="unet_steps").set_value(20).run()
    app_test.slider(key="unet_depth").set_value(2).run()
    _train(app_test)
    captions = [c for image in app_test.image for c in image.captions]
    expected = [translate("unet.level_encoder", "zh", level=1), translate("unet.level_encoder", "zh", level=2),
                translate("unet.level_bottleneck", "zh"), translate("unet.level_decoder", "zh", level=2),
                translate("unet.level_decoder", "zh", level=1)]
    assert all(caption in captions for caption in expected)
    assert not any(word in caption for caption in captions for word in ("encoder", "decoder", "bottleneck"))
