"""66 · UNet: train a segmentation network live, switch its skips off, and denoise your own photo."""

import streamlit as st

from engine import images, unet
from engine.errors import InputError
from ui.charts import lines_figure
from ui.hosted import image_limits, upload_note
from ui.i18n import option_labels, text
from ui.links import linked
from ui.widgets import misconceptions_and_prompts, number_format, page_title, show_input_error, show_source


def settings_ui() -> unet.SegmentationConfig:
    st.subheader(text("unet.data_header"))
    low, high = linked(st.slider, text("unet.size_range"), 0.04, 0.3, (0.08, 0.2), 0.01, key="unet_size_range")
    shapes = unet.ShapesConfig(
        objects=linked(st.slider, text("unet.objects"), 1, 8, 4, key="unet_objects"), min_radius=low, max_radius=high,
        overlap=linked(st.toggle, text("unet.overlap"), True, key="unet_overlap"),
        texture=linked(st.slider, text("unet.texture"), 0.0, 1.0, 0.3, 0.1, key="unet_texture"),
        noise=linked(st.slider, text("unet.noise"), 0.0, 0.3, 0.1, 0.02, key="unet_noise"),
        blur=linked(st.slider, text("unet.blur"), 0.0, 2.0, 0.5, 0.25, key="unet_blur"))
    st.subheader(text("unet.model_header"))
    return unet.SegmentationConfig(
        shapes=shapes, depth=linked(st.slider, text("unet.depth"), 1, 4, 3, key="unet_depth"),
        base=linked(st.select_slider, text("unet.base"), (4, 8, 16), 8, key="unet_base"),
        skips=linked(st.toggle, text("unet.skips"), True, key="unet_skips"),
        upsampling=linked(st.radio, text("unet.upsampling"), ["transpose", "bilinear"], key="unet_upsampling",
                          format_func=option_labels("unet.upsampling_")),
        loss=linked(st.radio, text("unet.loss"), ["both", "ce", "dice"], key="unet_loss",
                    format_func=option_labels("unet.loss_")),
        steps=linked(st.slider, text("unet.steps"), 20, 1500, 400, 20, key="unet_steps"))


def draw(step, panel_slot, metrics_slot, chart_slot) -> None:
    extras = step.extras
    panel_slot.image(images.to_image(unet.panel(extras["images"], extras["masks"], extras["predicted"])), width=640,
                     caption=text("unet.row_images", step=step.step))
    with metrics_slot.container():
        columns = st.columns(2)
        columns[0].metric(text("unet.metric_dice"), number_format(step.metrics["dice"]))
        columns[1].metric(text("unet.metric_iou"), number_format(step.metrics["iou"]))
    history = extras["history"]
    chart_slot.plotly_chart(lines_figure(history["step"], {"Dice": history["dice"], "IoU": history["iou"]},
                                         text("unet.curves_title"), text("regression.step_axis"), "", (0, 1)),
                            width="stretch")


def inside_and_upload(result) -> None:
    model, validation = result["step"].extras["model"], result["step"].extras["validation"]
    st.subheader(text("unet.features_title"))
    index = linked(st.slider, text("unet.feature_image"), 0, len(validation.images) - 1, 0, key="unet_feature_image")
    for name, maps in unet.feature_maps(model, validation.images[index]).items():
        kind, _, level = name.partition(" ")                 # "encoder 2" -> the encoder's level 2
        st.image(images.to_image(images.tile(maps.unsqueeze(1), len(maps))), width=min(8 * 72, 640),
                 caption=text(f"unet.level_{kind}", level=level))
    st.caption(text("unet.features_caption"))
    st.subheader(text("unet.shapes_upload"))
    upload = st.file_uploader(text("unet.shapes_upload"), type=list(images.UPLOAD_TYPES), key="act_unet_shapes",
                              label_visibility="collapsed")
    upload_note()
    if upload is not None:
        try:
            picture = images.load_image(upload.getvalue(), limits=image_limits()).image
        except InputError as error:
            show_input_error(error)
            return
        size = result["config"].shapes.size
        prepared = unet.shapes_input(picture, size)
        predicted = unet.predict(model, prepared.unsqueeze(0))
        left, middle, right = st.columns(3)
        left.image(picture, width="stretch")
        middle.image(images.to_image(prepared).resize((256, 256)), width="stretch")
        right.image(images.to_image(unet.colour_masks(predicted)[0]).resize((256, 256)), width="stretch")
        st.caption(text("unet.shapes_caption", size=size))


def denoise_section() -> None:
    st.header(text("unet.denoise_title"))
    st.caption(text("unet.denoise_caption"))
    left, right = st.columns([1, 2])
    with left:
        names = {name: text(f"style_transfer.sample_{name}") for name in images.PHOTOS}
        names["upload"] = text("style_transfer.source_upload")
        source = linked(st.selectbox, text("unet.denoise_source"), list(names), key="unet_denoise_source",
                        format_func=names.__getitem__)
        clean = None
        if source == "upload":
            upload = st.file_uploader(text("style_transfer.upload"), type=list(images.UPLOAD_TYPES),
                                      key="act_unet_denoise_upload")
            upload_note()
            if upload is not None:
                try:
                    picture = images.load_image(upload.getvalue(), limits=image_limits()).image
                    clean = images.to_tensor(images.fit_within(picture, 256))
                except InputError as error:
                    show_input_error(error)
        else:
            clean = images.to_tensor(images.fit_within(images.load_sample(source), 256))
        config = unet.DenoiseConfig(sigma=linked(st.slider, text("unet.sigma"), 0.05, 0.4, 0.15, 0.05,
                                                 key="unet_sigma"),
                                    steps=linked(st.slider, text("unet.denoise_steps"), 50, 1000, 300, 50,
                                                 key="unet_denoise_steps"))
        run = st.button(text("unet.denoise_run"), type="primary", key="act_unet_denoise", disabled=clean is None)
    with right:
        progress, pictures = st.empty(), st.empty()
        if run and clean is not None:
            for step in unet.denoise(config, clean):
                st.session_state.unet_denoised = {"step": step, "clean": clean}
                progress.progress(step.fraction_done, text=text("common.progress", step=step.step, total=step.total))
                show_denoised(st.session_state.unet_denoised, pictures)
        elif "unet_denoised" in st.session_state:
            show_denoised(st.session_state.unet_denoised, pictures)


def show_denoised(result, slot) -> None:
    step = result["step"]
    with slot.container():
        columns = st.columns(3)
        columns[0].image(images.to_image(step.extras["noisy"]), width="stretch",
                         caption=text("unet.noisy", psnr=step.metrics["noisy_psnr"]))
        columns[1].image(images.to_image(step.extras["denoised"]), width="stretch",
                         caption=text("unet.denoised", psnr=step.metrics["denoised_psnr"]))
        columns[2].image(images.to_image(result["clean"]), width="stretch", caption=text("unet.original"))


page_title(66, "unet")
st.markdown(text("unet.intro"))
for part in ("design", "facts"):
    with st.expander(text(f"unet.{part}_title")):
        st.markdown(text(f"unet.{part}"))

with st.sidebar:
    config = settings_ui()

st.header(text("unet.segmentation_title"))
train_clicked = st.button(text("common.train"), type="primary", key="act_unet_train")
progress_slot, panel_slot, metrics_slot, chart_slot = st.empty(), st.empty(), st.empty(), st.empty()
if train_clicked:
    for step in unet.train(config):
        st.session_state.unet_result = {"step": step, "config": config}
        progress_slot.progress(step.fraction_done, text=text("common.progress", step=step.step, total=step.total))
        draw(step, panel_slot, metrics_slot, chart_slot)
    st.session_state.setdefault("unet_dice", {})[config] = step.metrics["dice"]
elif "unet_result" in st.session_state:
    if st.session_state.unet_result["config"] != config:
        progress_slot.caption(text("common.stale_result"))
    draw(st.session_state.unet_result["step"], panel_slot, metrics_slot, chart_slot)
else:
    progress_slot.info(text("unet.press_train"))
dice = st.session_state.get("unet_dice", {})             # final Dice of every finished run, keyed by its settings
if config in dice and unet.skip_partner(config) in dice:
    with_skips, without = sorted((config, unet.skip_partner(config)), key=lambda c: not c.skips)
    st.markdown(text("unet.compare", with_skips=number_format(dice[with_skips]),
                     without_skips=number_format(dice[without])))
elif dice:
    st.caption(text("unet.compare_hint"))

result = st.session_state.get("unet_result")
if result is not None and "model" in result["step"].extras:
    inside_and_upload(result)
else:
    st.caption(text("unet.need_model"))

denoise_section()
misconceptions_and_prompts("unet")
show_source(unet.UNet, unet.train, unet.dice_loss, unet.denoise, unet.make_shapes)
