"""67 · Autoencoder: squeeze real digits through a bottleneck, explore the latent space, compare with PCA."""

import streamlit as st

from engine import autoencoder, images
from engine.cards import autoencoder as autoencoder_cards
from ui.canvas import upload_or_draw
from ui.cards import cards_section
from ui.charts import histogram_with_marker, history_figure, latent_scatter, show, update_history, with_previous
from ui.data_widgets import dataset_ui
from ui.experiment import RunRecord, TakeHome, Training, experiment, lab
from ui.fields import Form
from ui.hosted import image_limits
from ui.i18n import text
from ui.settings.autoencoder import TRAIN
from ui.widgets import alt_of, clamp_state, lab_columns, misconceptions, number_format, page_title, show_source

OBJECTIVE_TEX = (r"\hat x = g_\phi(f_\theta(x)), \qquad "
                 r"\min_{\theta,\phi}\; \frac{1}{N}\sum_i \lVert \hat x_i - x_i \rVert^2")


def says(key: str, source: str, **params: object) -> str:
    """`key` worded for the chosen data: its `_fashion` entry for Fashion-MNIST, else the digits' one."""
    return text(f"{key}_fashion" if source == "FashionMNIST" else key, **params)


def settings_ui(form: Form) -> tuple[autoencoder.AutoencoderConfig, str]:
    """The run's settings (the dataset is drawn above, by `dataset_ui`); the config and the data's
    source, as the cards build them. A setting the model does not use is hidden or switched off."""
    model = form("model")
    if model != "classic":                       # the classic model's code has three numbers by definition
        form("latent")
    form("steps")
    with st.expander(text("autoencoder.more_training")):
        if form("variational", disabled=model == "linear") and model != "linear":
            form("beta")
        form("noise")
        form("learning_rate")
    return form.config()


def loss_chart(pca: float, history: dict[str, list[float]]):
    """Training and test MSE per pixel on a log axis, with PCA's error at the same k as a reference."""
    series = {"train": text("autoencoder.curve_train"), "test": text("autoencoder.curve_test")}
    figure = history_figure(series, text("autoencoder.losses_title"), text("autoencoder.step_axis"),
                            {text("autoencoder.pca_line"): pca}, y_title=text("autoencoder.loss_axis"), quantity=None)
    return update_history(figure, history).update_layout(height=300)


def draw(record: RunRecord) -> None:
    """The metrics, the loss curves (the previous run's faint) and the input/reconstruction grid of
    the run's latest report."""
    step, config, source = record.step, record.config, record.data_key
    columns = st.columns(3)
    columns[0].metric(text("autoencoder.metric_test"), number_format(step.metrics["test_mse"]))
    columns[1].metric(text("autoencoder.metric_pca"), number_format(step.metrics["pca_mse"]))
    if "kl" in step.metrics:
        columns[2].metric(text("autoencoder.metric_kl"), number_format(step.metrics["kl"]))
    figure = loss_chart(step.metrics["pca_mse"], step.extras["history"])
    before = record.previous.step if record.previous is not None else None
    if before is not None:
        with_previous(figure, loss_chart(before.metrics["pca_mse"], before.extras["history"]))
    show(figure)
    reconstructions(step, config, source)


def reconstructions(step, config: autoencoder.AutoencoderConfig, source: str) -> None:
    """The report's test digits above and their reconstructions below, as one picture."""
    pairs = autoencoder.comparison_grid(step.extras["inputs"], step.extras["outputs"])
    with st.container(width=560):
        noisy = text("autoencoder.noisy") if config.noise else ""
        st.image(images.to_image(pairs), width="stretch",
                 caption=says("autoencoder.grid_caption", source, step=step.step, noisy=noisy),
                 alt=says("autoencoder.alt_grid", source, step=step.step, noisy=noisy))


@st.cache_data(max_entries=16, show_spinner=False)
def untrained_step(config: autoencoder.AutoencoderConfig, source: str, _data):
    """The untrained autoencoder on test digits of `source` (the digits are not hashed on every rerun)."""
    return autoencoder.step_zero(config, _data)


def preview(config: autoencoder.AutoencoderConfig, data) -> None:
    """Before a run: the digits the run shows and what the untrained network makes of them."""
    step = untrained_step(config, data.source, data)
    reconstructions(step, config, data.source)
    st.caption(says("autoencoder.preview", data.source, mse=number_format(step.metrics["test_mse"])))


def latent_view(model, data) -> dict:
    """What the latent tools need from the test digits, computed once per report: their codes,
    the plotted points (a projection by SVD above three dimensions) and each unit's range."""
    codes = autoencoder.encode(model, data.test_x)
    return {"codes": codes, "points": autoencoder.project(codes), "low": codes.min(0).values.tolist(),
            "high": codes.max(0).values.tolist(), "middle": codes.median(0).values.tolist()}


def latent_figure(points, data, k: int):
    """The test codes (or their first three principal components) with translated axes and classes."""
    figure = latent_scatter(points.tolist(), data.test_y.tolist(),
                            says("autoencoder.latent_caption", data.source, count=len(points)))
    figure.update_layout(height=460)                       # with its legend, it fits a phone's screen
    titles = [text(f"autoencoder.axis_{kind}", index=i) for kind, i in autoencoder.plotted_axes(k)]
    if len(titles) == 3:
        figure.update_scenes(xaxis_title_text=titles[0], yaxis_title_text=titles[1], zaxis_title_text=titles[2])
    else:                                                   # a 2-D scatter; a 1-D code is drawn at y = 0
        figure.update_layout(xaxis_title_text=titles[0], yaxis_title_text=titles[1] if len(titles) == 2 else "")
    if data.source == "FashionMNIST":
        figure.for_each_trace(lambda trace: trace.update(name=text(f"autoencoder.fashion_class_{trace.name}")))
    return figure


def latent_section(record: RunRecord, data) -> None:
    model = record.model
    view = record.cached("latent", lambda _: latent_view(model, data), data.source)
    k = view["codes"].shape[1]
    st.header(text("autoencoder.latent_title"))
    show(latent_figure(view["points"], data, k))
    if k > 3:
        st.caption(text("autoencoder.latent_projected", k=k))
    explorer(record, view)
    interpolation(record, data)
    if model.variational:
        st.subheader(says("autoencoder.samples_title", data.source))
        samples = record.cached("samples", lambda: images.to_image(images.tile(autoencoder.sample(model, 32), 16)))
        with st.container(width=700):
            st.image(samples, width="stretch", alt=says("autoencoder.alt_samples", data.source))


@lab
def explorer(record: RunRecord, view: dict) -> None:
    """Slide along each latent unit and decode: a slider here reruns only this part of the page.
    The sliders are exploration, not settings: plain widgets, kept out of links."""
    st.subheader(text("autoencoder.explorer_title"))
    low, high, middle = view["low"], view["high"], view["middle"]
    picture, sliders = st.columns([1, 2])             # on a phone: the decoded image first, then its sliders
    chosen = []
    with sliders:
        for i in range(min(len(middle), 8)):
            lo, hi = float(low[i]), max(float(high[i]), float(low[i]) + 1e-3)     # a dead unit has no range
            clamp_state(f"autoencoder_z{i}", lo, hi)
            chosen.append(st.slider(text("autoencoder.coordinate", index=i + 1), lo, hi,
                                    min(max(float(middle[i]), lo), hi), key=f"autoencoder_z{i}"))
    picture.image(images.to_image(autoencoder.decode_point(record.model, chosen + middle[len(chosen):])), width=196,
                  alt=says("autoencoder.alt_decoded", record.data_key))


@lab
def interpolation(record: RunRecord, data) -> None:
    """Decode the straight line between two codes: picking a digit reruns only this part."""
    st.subheader(says("autoencoder.interpolation_title", data.source))
    a, b = st.columns(2)
    for key in ("autoencoder_first", "autoencoder_second"):
        clamp_state(key, 0, len(data.test_x) - 1)
    first = a.number_input(says("autoencoder.first_digit", data.source), 0, len(data.test_x) - 1, 3,
                           key="autoencoder_first")
    second = b.number_input(says("autoencoder.second_digit", data.source), 0, len(data.test_x) - 1, 2,
                            key="autoencoder_second")
    frames = autoencoder.interpolate(record.model, data.test_x[first], data.test_x[second], steps=10)
    with st.container(width=700):
        st.image(images.to_image(images.tile(frames, 10)), width="stretch",
                 alt=says("autoencoder.alt_interpolation", data.source, first=first, second=second))


def upload_digit(raw: bytes):
    """An uploaded image and its steps to an MNIST-like digit; InputError if it is not a usable image."""
    return images.to_digit(images.load_image(raw, limits=image_limits()).image)


@lab
def upload_section(record: RunRecord, data) -> None:
    """Score your own image against the test digits; an upload reruns only this part."""
    model = record.model
    st.header(text("autoencoder.upload_title"))
    kept = upload_or_draw("autoencoder_upload", says("autoencoder.upload", data.source), upload_digit,
                          list(images.UPLOAD_TYPES))
    if kept is None:
        return
    digit = kept[1]
    columns = st.columns(len(digit.stages) + 1)
    for column, (name, picture) in zip(columns, digit.stages.items(), strict=False):
        column.image(picture, caption=text(f"autoencoder.stage_{name}"), width=112,
                     alt=alt_of(text("autoencoder.alt_yours"), text(f"autoencoder.stage_{name}")))
    reconstruction = autoencoder.reconstruct(model, digit.tensor)
    columns[-1].image(images.to_image(reconstruction).resize((112, 112)), caption=text("autoencoder.reconstruction"),
                      alt=text("autoencoder.alt_reconstruction"))
    st.caption(says("autoencoder.stages_caption", data.source))
    errors = record.cached("errors", lambda _: autoencoder.reconstruction_errors(model, data.test_x), data.source)
    error = autoencoder.reconstruction_errors(model, digit.tensor.unsqueeze(0))[0].item()
    st.markdown(says("autoencoder.anomaly", data.source, error=error,
                     percentile=autoencoder.percentile_of(error, errors)))
    figure = histogram_with_marker(errors.tolist(), error, says("autoencoder.anomaly_chart", data.source))
    show(figure.update_layout(xaxis_title_text=text("autoencoder.error_axis"),
                              yaxis_title_text=says("autoencoder.count_axis", data.source)))


page_title(67, "autoencoder")
intro = st.empty()                                   # its wording follows the dataset chosen below
settings_column, run_column = lab_columns()
with settings_column:
    form = Form(TRAIN)
    data = dataset_ui(form)
    config, data_key = settings_ui(form)
intro.markdown(says("autoencoder.intro", data.source))
with run_column:
    record = experiment(TRAIN.key,
                        Training(lambda: autoencoder.train(config, data), config, data_key, form=form,
                                 take_home=TakeHome("autoencoder", {"dataset": data_key, "config": config})),
                        draw=draw, idle=text("autoencoder.press_train"), preview=lambda: preview(config, data))

if record is not None and record.usable(data.source):
    latent_section(record, data)
    upload_section(record, data)
else:
    st.caption(text("autoencoder.need_model"))

st.header(text("autoencoder.ideas_title"))
with st.expander(text("autoencoder.pca_title")):
    st.latex(OBJECTIVE_TEX)
    st.markdown(text("autoencoder.pca"))
with st.expander(text("autoencoder.variants_title")):
    st.markdown(text("autoencoder.variants"))

cards_section("autoencoder", autoencoder_cards)
misconceptions("autoencoder")
show_source(autoencoder.train, autoencoder.Autoencoder, autoencoder.loss_terms, autoencoder.pca_error)
