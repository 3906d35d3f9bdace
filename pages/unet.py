"""66 · UNet: train a segmentation network live, switch its skips off, and denoise your own photo."""

import streamlit as st

from engine import images, unet
from engine.cards import unet as unet_cards
from ui.cards import cards_section
from ui.charts import lines_figure, show, watch_divergence, with_previous
from ui.data_widgets import kept_upload
from ui.experiment import RunRecord, TakeHome, Training, experiment, lab
from ui.fields import Form
from ui.hosted import image_limits
from ui.i18n import text
from ui.settings.unet import DENOISE, TRAIN
from ui.widgets import alt_of, lab_columns, misconceptions, number_format, page_title, show_source

ROWS = ("input", "truth", "prediction")       # the prediction grid's rows, one labelled image each


def settings_ui(form: Form) -> unet.SegmentationConfig:
    """The segmentation experiment's settings: the network's main knobs first, the rest in expanders."""
    st.subheader(text("unet.model_header"))
    for name in ("skips", "depth", "loss", "steps"):
        form(name)
    with st.expander(text("unet.more_model")):
        form("base")
        form("upsampling")
    with st.expander(text("unet.data_header")):
        for name in ("size_range", "objects", "overlap", "texture", "noise", "blur"):
            form(name)
    return form.config()[0]


def scores_figure(history: dict[str, list[float]]):
    """Held-out Dice and IoU over the training steps."""
    figure = lines_figure(history["step"], {"Dice": history["dice"], "IoU": history["iou"]},
                          text("unet.curves_title"), text("regression.step_axis"), text("unet.score_axis"), (0, 1))
    watch_divergence(figure, quantity=None)
    return figure.update_layout(height=330)


def prediction_rows(extras: dict, step: int) -> None:
    """The held-out images, their true masks and the predictions: one labelled image per row, as wide
    as the column (so the grid fits a phone)."""
    rows = unet.panel_rows(extras["images"], extras["masks"], extras["predicted"])
    for name, row in zip(ROWS, rows, strict=True):
        caption = text(f"unet.row_{name}", step=step)
        described = caption if name == "input" else f"{caption}. {text('unet.row_colours')}"    # masks: the colours
        st.image(images.to_image(images.tile(row, len(row))), width="stretch", caption=caption,
                 alt=alt_of(text("unet.alt_shapes"), described))
    st.caption(text("unet.row_colours"))


def predictions_and_scores(step) -> "st.delta_generator.DeltaGenerator":
    """A report's predictions beside its Dice and IoU (a run's, or the untrained network's at step 0);
    returns the column under the scores, for what follows them."""
    grid, scores = st.columns([1, 1.2])
    with grid:
        prediction_rows(step.extras, step.step)
    columns = scores.columns(2)
    columns[0].metric(text("unet.metric_dice"), number_format(step.metrics["dice"]))
    columns[1].metric(text("unet.metric_iou"), number_format(step.metrics["iou"]))
    return scores


def draw(record: RunRecord) -> None:
    """The predictions so far beside the Dice and IoU curves (this run's, and the previous run's faintly)."""
    step = record.step
    curves = predictions_and_scores(step)
    figure = scores_figure(step.extras["history"])
    if record.previous is not None:
        with_previous(figure, scores_figure(record.previous.step.extras["history"]))
    show(figure, curves)


@st.cache_data(max_entries=16, show_spinner=False)
def untrained_step(config: unet.SegmentationConfig):
    return unet.step_zero(config)


def preview(config: unet.SegmentationConfig) -> None:
    """Before a run: the generated shapes, their true masks and the untrained network's masks, laid
    out as a run draws its predictions."""
    step = untrained_step(config)
    scores = predictions_and_scores(step)
    scores.caption(text("unet.preview", count=len(step.extras["images"])))


def skips_comparison(record: RunRecord | None, config: unet.SegmentationConfig) -> None:
    """The final Dice of this setting against the same setting with the skips switched, when both ran to the end."""
    dice = st.session_state.setdefault("unet_dice", {})     # final Dice of every finished run, keyed by its settings
    if record is not None and record.complete:
        dice[record.config] = record.step.metrics["dice"]
    if config in dice and unet.skip_partner(config) in dice:
        with_skips, without = sorted((config, unet.skip_partner(config)), key=lambda c: not c.skips)
        st.markdown(text("unet.compare", with_skips=number_format(dice[with_skips]),
                         without_skips=number_format(dice[without])))
    elif dice:
        st.caption(text("unet.compare_hint"))


def read_picture(data: bytes):
    return images.load_image(data, limits=image_limits()).image


def level_image(maps: dict, name: str, column) -> None:
    """One level's feature maps as one image in a row, as wide as its column."""
    kind, _, level = name.partition(" ")                     # "encoder 2" -> the encoder's level 2
    level_maps = maps[name]
    caption = text(f"unet.level_{kind}", level=level)
    column.image(images.to_image(images.tile(level_maps.unsqueeze(1), len(level_maps))), width="stretch",
                 caption=caption, alt=alt_of(text("unet.alt_maps"), caption))


@lab
def inside_and_upload(record: RunRecord) -> None:
    """The lab on the trained (or paused, or stopped) network: a slider or an upload here reruns only this part."""
    model, validation = record.model["unet"], record.model["validation"]
    st.subheader(text("unet.features_title"))
    index = st.slider(text("unet.feature_image"), 0, len(validation.images) - 1, 0, key="unet_feature_image")
    maps = record.cached("feature_maps", lambda i: unet.feature_maps(model, validation.images[i]), index)
    for level in range(1, record.config.depth + 1):          # the U: each encoder level beside its decoder level
        encoder, decoder = st.columns(2)
        level_image(maps, f"encoder {level}", encoder)
        level_image(maps, f"decoder {level}", decoder)
    level_image(maps, "bottleneck", st.columns([1, 2, 1])[1])
    st.caption(text("unet.features_caption"))
    upload = kept_upload("unet_shapes", text("unet.shapes_upload"), read_picture, list(images.UPLOAD_TYPES))
    if upload is None:
        return
    name, picture = upload
    size = record.config.shapes.size
    prepared = unet.shapes_input(picture, size)
    predicted = record.cached("shapes", lambda _: unet.predict(model, prepared.unsqueeze(0)), (name, size))
    left, middle, right = st.columns(3)
    left.image(picture, width="stretch", alt=text("unet.alt_picture"))
    middle.image(images.to_image(prepared).resize((256, 256)), width="stretch",
                 alt=text("unet.alt_prepared", size=size))
    right.image(images.to_image(unet.colour_masks(predicted)[0]).resize((256, 256)), width="stretch",
                alt=text("unet.alt_mask", colours=text("unet.row_colours")))
    st.caption(text("unet.shapes_caption", size=size))


def read_photo(data: bytes):
    return images.to_tensor(images.fit_within(read_picture(data), 256))


def draw_denoised(record: RunRecord) -> None:
    step = record.step
    columns = st.columns(3)
    noisy = text("unet.noisy", psnr=step.metrics["noisy_psnr"])
    columns[0].image(images.to_image(step.extras["noisy"]), width="stretch", caption=noisy,
                     alt=alt_of(text("unet.alt_photo"), noisy))
    denoised = text("unet.denoised", psnr=step.metrics["denoised_psnr"])
    columns[1].image(images.to_image(step.extras["denoised"]), width="stretch", caption=denoised,
                     alt=alt_of(text("unet.alt_photo"), denoised))
    columns[2].image(images.to_image(step.extras["clean"]), width="stretch", caption=text("unet.original"),
                     alt=alt_of(text("unet.alt_photo"), text("unet.original")))


@st.cache_data(max_entries=8, show_spinner=False)
def noisy_start(config: unet.DenoiseConfig, digest: str, _clean):
    """The run's noisy picture from the photo `digest` names (the photo is not hashed on every rerun)."""
    return unet.denoise_step_zero(config, _clean)


def denoise_preview(config: unet.DenoiseConfig, clean, digest: str) -> None:
    """Before a run: the noisy picture the network will clean, beside the original, as a run lays them out."""
    step = noisy_start(config, digest, clean)
    columns = st.columns(3)
    noisy = text("unet.noisy", psnr=step.metrics["noisy_psnr"])
    columns[0].image(images.to_image(step.extras["noisy"]), width="stretch", caption=noisy,
                     alt=alt_of(text("unet.alt_photo"), noisy))
    columns[1].caption(text("unet.denoised_here"))
    columns[2].image(images.to_image(step.extras["clean"]), width="stretch", caption=text("unet.original"),
                     alt=alt_of(text("unet.alt_photo"), text("unet.original")))


def denoise_section() -> None:
    """The second experiment: its settings on the left, its run on the right."""
    st.header(text("unet.denoise_title"))
    st.caption(text("unet.denoise_caption"))
    settings_column, run_column = lab_columns()
    with settings_column:
        form = Form(DENOISE)
        source = form("denoise_source")
        if source == "upload":
            upload = kept_upload("unet_denoise_upload", text("style_transfer.upload"), read_photo,
                                 list(images.UPLOAD_TYPES))
            clean = None if upload is None else upload[1]
        else:
            clean = images.to_tensor(images.fit_within(images.load_sample(source), 256))
        form("sigma")
        form("denoise_steps")
        config, _ = form.config()
    with run_column:
        digest = None if clean is None else images.digest(clean)
        experiment(DENOISE.key,
                   Training(lambda: unet.denoise(config, clean), config, digest, ready=clean is not None, form=form),
                   draw=draw_denoised, idle=text("style_transfer.need_upload") if clean is None else None,
                   run_label=text("unet.denoise_run"),
                   preview=None if clean is None else lambda: denoise_preview(config, clean, digest))


page_title(66, "unet")
st.markdown(text("unet.intro"))

st.header(text("unet.segmentation_title"))     # a section of the page, as "2 · Your image" is (headings in order)
settings_column, run_column = lab_columns()
with settings_column:
    form = Form(TRAIN)
    config = settings_ui(form)
with run_column:
    record = experiment(TRAIN.key,
                        Training(lambda: unet.train(config), config, form=form,
                                 take_home=TakeHome("unet", {"config": config})),
                        draw=draw, idle=text("unet.press_train"), preview=lambda: preview(config))
    skips_comparison(record, config)

if record is not None and record.usable():
    inside_and_upload(record)
else:
    st.caption(text("unet.need_model"))

denoise_section()

st.header(text("unet.ideas_title"))
for part in ("design", "facts"):
    with st.expander(text(f"unet.{part}_title")):
        st.markdown(text(f"unet.{part}"))
cards_section("unet", unet_cards)
misconceptions("unet")
show_source(unet.UNet, unet.train, unet.dice_loss, unet.denoise, unet.make_shapes)
