"""70 · Neural style transfer: repaint a photo in the style of another image with a pretrained VGG19."""

import streamlit as st

from engine import artwork, images, style_transfer, vgg
from engine.cards import style_transfer as style_transfer_cards
from ui import audit
from ui.cards import cards_section
from ui.charts import heatmap_pair, history_figure, show, update_history, with_previous
from ui.data_widgets import kept_upload
from ui.experiment import RunRecord, TakeHome, Training, experiment, lab
from ui.fields import Form
from ui.hosted import image_limits
from ui.i18n import text
from ui.links import linked
from ui.settings.style_transfer import LAYER_WEIGHTS, RUN
from ui.widgets import alt_of, chosen_option, lab_columns, misconceptions, page_title, show_source

THUMBNAIL = 64             # px: the chosen picture beside its picker
OBJECTIVE_TEX = (r"\mathcal{L}(x) = \alpha\,\frac{\lVert F^{c}(x) - F^{c}(p)\rVert^2}{\lVert F^{c}(p)\rVert^2}"
                 r" + \beta \sum_{l} w_l \frac{\lVert G^{l}(x) - G^{l}(a)\rVert^2}{\lVert G^{l}(a)\rVert^2}"
                 r" + \gamma\, \mathrm{TV}(x)")


@st.cache_resource(max_entries=2, show_spinner=False)
def feature_extractor(source: vgg.WeightsSource) -> vgg.FeatureExtractor:
    """Shared by every user and never trained (all parameters frozen): read-only. The same object the
    cards' runs train with (`engine.cards.style_transfer.extractor`): one VGG in memory."""
    return audit.shared("vgg_features", style_transfer_cards.extractor(source))


@st.cache_data(max_entries=16, show_spinner=False)
def sample_image(kind: str, name: str):
    """A sample picture, made once per process (each caller gets its own copy)."""
    return artwork.sample_image(kind, name)


def decoded_upload(data: bytes) -> tuple:
    """An uploaded photo as (3, H, W) within 1024 px, with the notes on what was converted."""
    loaded = images.load_image(data, limits=image_limits())
    return images.to_tensor(images.fit_within(loaded.image, 1024)), loaded.notes


def gram_views(extractor: vgg.FeatureExtractor, record: RunRecord, layer: str) -> tuple:
    """Style and result Gram heatmaps for one layer, and the result's and the content's Gram distances
    to the style, computed where the run ran."""
    kept, config = record.model, record.config
    extractor = vgg.on_device(extractor, record.step.extras["device"])
    compared = style_transfer.compare_grams(extractor, kept["style"], [kept["image"], kept["content"]], layer,
                                            config.size, config.pooling)
    return compared.style_map.tolist(), compared.maps[0].tolist(), compared.distances


def receptive_field_table() -> str:
    """Stride and receptive field of the style and content layers, as VGG19's layer list gives them."""
    fields = vgg.receptive_fields()
    header = [text("style_transfer.rf_layer"), text("style_transfer.rf_stride"), text("style_transfer.rf_field")]
    rows = [f"| `{layer}` | {fields[layer][0]} | {fields[layer][1]} |"
            for layer in (*style_transfer.STYLE_LAYERS[:4], style_transfer.CONTENT_LAYER,
                          style_transfer.STYLE_LAYERS[4])]
    return "\n".join([f"| {' | '.join(header)} |", "|---|--:|--:|", *rows])


def image_ui(form: Form, role: str):
    """Picker for the content or style image, with a thumbnail of the choice; returns (3, H, W) or
    None. An upload is kept in the session (`kept_upload`), so a later bad upload or a page switch
    does not lose it."""
    st.markdown(f"**{text(f'style_transfer.{role}_header')}**")
    source = form(f"{role}_source")
    if source in artwork.SAMPLES:
        pick, thumbnail = st.columns([4, 1], vertical_alignment="center")
        name = form(f"{role}_{source}", where=pick)
        tensor = sample_image(source, name)
        thumbnail.image(images.to_image(tensor), width=THUMBNAIL,
                        alt=alt_of(text(f"style_transfer.{role}_header"), text(f"style_transfer.sample_{name}")))
        return tensor
    camera = source == "camera"
    label = text("style_transfer.camera") if camera else text("style_transfer.upload")
    upload = kept_upload(f"style_transfer_{role}_{source}", label, decoded_upload, camera=camera)
    if upload is None:
        st.info(text("style_transfer.need_upload"))
        return None
    _, (tensor, notes) = upload
    for note in notes:
        st.caption(text(f"errors.note_{note}"))
    st.image(images.to_image(tensor), width=THUMBNAIL, alt=alt_of(text(f"style_transfer.{role}_header"), label))
    return tensor


def apply_preset() -> None:
    preset = chosen_option(RUN.widget_key("preset"), style_transfer.PRESETS)
    if preset is None:                  # a label sent mid language switch, not the learner's choice
        return
    size, steps, _ = style_transfer.PRESETS[preset]
    st.session_state[RUN.widget_key("size")], st.session_state[RUN.widget_key("steps")] = size, steps


def settings_ui(form: Form) -> None:
    """The main settings first; the loss's other knobs and the optimisation's choices in expanders."""
    st.markdown(f"**{text('style_transfer.settings_header')}**")
    form("preset", on_change=apply_preset)
    for first, second in (("size", "steps"), ("style_weight", "content_weight")):
        left, right = st.columns(2)          # pairs side by side: the main settings fit the first screen
        form(first, where=left)
        form(second, where=right)
    with st.expander(text("style_transfer.more_settings")):
        for name in ("tv_weight", "pyramid", "coarse", "optimizer", "init", "pooling", "preserve_colors"):
            form(name)
    with st.expander(text("style_transfer.layer_weights")):
        for name in LAYER_WEIGHTS:
            form(name)


def load_weights() -> tuple[vgg.FeatureExtractor, str, bool]:
    """The VGG19 features, the note on which weights they have, and whether they are pretrained."""
    source = vgg.find_weights()
    try:
        extractor = feature_extractor(source)
    except (OSError, RuntimeError, KeyError) as exc:      # a damaged or foreign weights file
        return (feature_extractor(vgg.WeightsSource("random", None, "torchvision")),
                text("style_transfer.weights_failed", error=str(exc)[:160]), False)
    return extractor, text(f"style_transfer.weights_{source.kind}", path=source.path), source.pretrained


def loss_chart(history: dict[str, list[float]]):
    """The loss terms over the evaluations, on a log axis (they span several decades)."""
    series = {name: text(f"style_transfer.curve_{name}") for name in ("total", "content", "style", "tv")}
    figure = history_figure(series, text("style_transfer.losses_title"), text("style_transfer.axis_step"),
                            y_title=text("style_transfer.axis_loss"), quantity=None, unit="evaluation")
    return update_history(figure.update_layout(height=320, margin={"t": 60}), history)


def side_by_side(content, style, result=None, caption: str = "") -> list:
    """Content | style | result in three equal columns, so the result is as large as the content.
    Before a run the third column says where the result will appear. Returns the three columns."""
    columns = st.columns(3)
    for column, tensor, role in ((columns[0], content, "content"), (columns[1], style, "style")):
        if tensor is not None:
            column.image(images.to_image(tensor), caption=text(f"style_transfer.{role}_header"), width="stretch",
                         alt=text(f"style_transfer.{role}_header"))
    if result is None:
        columns[2].caption(text("style_transfer.result_here"))
    else:
        columns[2].image(images.to_image(result), caption=caption, width="stretch",
                         alt=alt_of(text("style_transfer.alt_result"), caption))
    return columns


@st.cache_data(max_entries=8, show_spinner=False)
def starting_image(config, content_key, _content):
    """The run's starting image from the content `content_key` names (not hashed on every rerun)."""
    return style_transfer.starting_image(config, _content)


def preview(config, content, style, content_key) -> None:
    """Before a run: the content and style, and the image the optimisation starts from (step 0)."""
    if content is None:
        side_by_side(content, style)
        return
    start = starting_image(config, content_key, content)
    side_by_side(content, style, start, text("style_transfer.start_caption"))
    st.caption(text(f"style_transfer.preview_{config.init}", size=max(start.shape[-2:])))


def draw(record: RunRecord) -> None:
    """The run's content, style and image so far side by side, and the loss curves, live and after."""
    step = record.step
    kept = step.extras["inputs"]                 # every report has them (a replay's model comes only at its end)
    columns = side_by_side(kept["content"], kept["style"], step.extras["image"],
                           text("style_transfer.progress", step=step.step, total=step.total,
                                stage=step.extras["stage"]))
    if not record.active:                # the result stays downloadable, even once the settings have changed
        columns[2].download_button(text("style_transfer.download"),
                                   record.cached("png", lambda: images.png_bytes(step.extras["image"])),
                                   file_name="stylised.png", mime="image/png", key="act_style_transfer_download")
    figure = loss_chart(step.extras["history"])
    if record.previous is not None:
        with_previous(figure, loss_chart(record.previous.step.extras["history"]))
    show(figure)


def show_result(record: RunRecord, extractor: vgg.FeatureExtractor) -> None:
    step = record.step
    st.header(text("style_transfer.result_title"))
    st.caption(text("style_transfer.timing", seconds=step.seconds, per_step=1000 * step.seconds / max(step.step, 1),
                    fast=text("style_transfer.yes" if step.extras["fast_math"] else "style_transfer.no")))
    st.subheader(text("style_transfer.filmstrip_title"))
    frames = step.extras["snapshots"]            # one list of 128-px frames: it wraps to the width of a phone
    captions = [text("style_transfer.preview", step=number) for number, _ in frames]
    st.image([images.to_image(thumbnail) for _, thumbnail in frames], caption=captions,
             alt=alt_of(text("style_transfer.alt_frame"), captions))
    gram_lab(record, extractor)


@lab
def gram_lab(record: RunRecord, extractor: vgg.FeatureExtractor) -> None:
    """The Gram lab: choosing a layer reruns only this part, and each layer is computed once per run."""
    st.subheader(text("style_transfer.gram_title"))
    layer = linked(st.selectbox, text("style_transfer.gram_layer"), style_transfer.STYLE_LAYERS,
                   key="style_transfer_gram")
    style_gram, result_gram, (distance, content_distance) = record.cached(
        "gram", lambda layer: gram_views(extractor, record, layer), layer)
    st.markdown(text("style_transfer.gram_distance", layer=layer, distance=distance, content=content_distance))
    show(heatmap_pair(style_gram, result_gram,
                      (text("style_transfer.gram_style"), text("style_transfer.gram_result"))))
    st.caption(text("style_transfer.gram_caption"))


page_title(70, "style_transfer")
st.markdown(text("style_transfer.intro"))

settings_column, run_column = lab_columns()
with settings_column:
    form = Form(RUN)
    content = image_ui(form, "content")
    style = image_ui(form, "style")
    settings_ui(form)
    config, samples = form.config()

with run_column:
    extractor, weights_note, pretrained = load_weights()
    if not pretrained:                   # poor results ahead: say so before the run, not under it
        st.warning(weights_note)
    missing = content is None or style is None
    # The stale rule's data: a sample by its (kind, name), as the declaration keys it; an upload by its digest.
    images_key = None if missing else tuple(sample or images.digest(tensor)
                                            for sample, tensor in zip(samples, (content, style), strict=True))
    record = experiment(RUN.key,
                        Training(lambda: style_transfer.transfer(config, extractor, content, style), config, images_key,
                                 ready=not missing, form=form,
                                 take_home=None if missing else TakeHome(
                                     "style_transfer", {"config": config},
                                     lambda: {"content.png": images.png_bytes(content),
                                              "style.png": images.png_bytes(style)})),
                        draw=draw, idle=text("style_transfer.press_run"), run_label=text("style_transfer.run"),
                        preview=lambda: preview(config, content, style,
                                                None if content is None else samples[0] or images.digest(content)))
    if pretrained:
        st.caption(weights_note)

if record is not None and not missing and record.usable(images_key):
    show_result(record, extractor)

st.header(text("style_transfer.ideas_title"))
with st.expander(text("style_transfer.idea_title")):
    st.markdown(text("style_transfer.idea"))
    st.latex(OBJECTIVE_TEX)
    st.markdown(text("style_transfer.idea_after"))
for part in ("layers", "optimise", "context"):
    with st.expander(text(f"style_transfer.{part}_title")):
        st.markdown(text(f"style_transfer.{part}"))
        if part == "layers":
            st.markdown(receptive_field_table())
            st.markdown(text("style_transfer.layers_after"))

cards_section("style_transfer", style_transfer_cards)
misconceptions("style_transfer")
show_source(style_transfer.transfer, style_transfer.Objective, style_transfer.Pyramid, style_transfer.BestSoFar,
            style_transfer.gram_matrix, vgg.load_features, vgg.Preprocess, vgg.with_pooling)
