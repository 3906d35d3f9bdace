"""65 · Adversarial examples and adversarial training, on real digits."""

import streamlit as st

from engine import adversarial, images
from ui.charts import bars_figure, lines_figure
from ui.data_widgets import dataset_ui, kept_upload
from ui.experiment import RunRecord, experiment
from ui.hosted import image_limits
from ui.i18n import option_labels, text
from ui.links import linked
from ui.widgets import clamp_state, misconceptions_and_prompts, page_title, show_source

FGSM_TEX = (r"\tilde{x} = \operatorname{clip}_{[0,1]}\!\big(x + \epsilon\,"
            r"\operatorname{sign}(\nabla_x \mathcal{L}(f_\theta(x), y))\big)")
MINMAX_TEX = (r"\min_\theta\; \mathbb{E}_{(x,y)} \Big[\max_{\lVert \delta \rVert_\infty \le \epsilon}"
              r" \mathcal{L}(f_\theta(x + \delta), y)\Big]")
MODELS = ("standard", "robust")
COLORS = {"standard": "#636efa", "robust": "#ef553b"}     # one colour per model; PGD drawn dashed
GALLERY = 300                                              # test digits the gallery attacks, 30 of each class


def settings_ui() -> adversarial.AdversarialConfig:
    return adversarial.AdversarialConfig(
        defence=linked(st.radio, text("adversarial.defence"), ["fgsm_rs", "pgd"], key="adversarial_defence",
                       format_func=option_labels("adversarial.defence_")),
        epsilon=linked(st.slider, text("adversarial.epsilon"), 0.05, 0.35, 0.25, 0.05, key="adversarial_epsilon"),
        adversarial_share=linked(st.slider, text("adversarial.share"), 0.0, 1.0, 0.5, 0.1, key="adversarial_share"),
        steps=linked(st.slider, text("adversarial.steps"), 50, 2000, 400, 50, key="adversarial_steps"),
    )


def draw(record: RunRecord) -> None:
    """The six metrics and the accuracy-vs-epsilon curves of the run's latest report."""
    step, config = record.step, record.config
    for name in MODELS:                          # one row per model: clean, FGSM and PGD at the training epsilon
        model, columns = text(f"adversarial.{name}"), st.columns(3)
        columns[0].metric(text("adversarial.metric_clean", model=model), f"{step.metrics[f'{name}_clean']:.1%}")
        for column, attack in zip(columns[1:], adversarial.ATTACKS, strict=True):
            column.metric(text(f"adversarial.metric_{attack}", model=model, epsilon=config.epsilon),
                          f"{step.metrics[f'{name}_{attack}']:.1%}")
    lines = [(name, attack) for name in MODELS for attack in adversarial.ATTACKS]
    curves = {text(f"adversarial.curve_{attack}", model=text(f"adversarial.{name}")):
              step.extras["curves"][name][attack] for name, attack in lines}
    figure = lines_figure(step.extras["epsilons"], curves,
                          text("adversarial.curve_title", step=step.step, total=step.total),
                          text("adversarial.curve_x"), text("adversarial.curve_y"), (0, 1))
    for trace, (name, attack) in zip(figure.data, lines, strict=True):
        trace.line = {"color": COLORS[name], "dash": "dash" if attack == "pgd" else "solid"}
    st.plotly_chart(figure, width="stretch")
    st.caption(text("adversarial.curve_caption", count=config.eval_size, per_class=config.eval_size // 10,
                    steps=config.eval_pgd_steps))


def upload_digit(raw: bytes):
    """An uploaded image as an MNIST-like (1, 28, 28) digit; InputError if it is not a usable image."""
    return images.to_digit(images.load_image(raw, limits=image_limits()).image).tensor


def chosen_image(record: RunRecord, data) -> tuple:
    """The lab's input: a test digit with its label, or an upload labelled by the standard model;
    and what identifies it, for the cache."""
    source = linked(st.radio, text("adversarial.input"), ["test", "upload"], key="adversarial_input", horizontal=True,
                    format_func=option_labels("adversarial.input_"))
    if source == "test":
        clamp_state("adversarial_index", 0, len(data.test_x) - 1)
        index = linked(st.number_input, text("adversarial.index"), 0, len(data.test_x) - 1, 0, key="adversarial_index")
        return data.test_x[index], int(data.test_y[index]), ("test", index)
    kept = kept_upload("adversarial_upload", text("adversarial.upload"), upload_digit, list(images.UPLOAD_TYPES))
    if kept is None:
        return None, None, ()
    name, digit = kept
    label = adversarial.predict(record.model["standard"], digit)
    st.caption(text("adversarial.upload_label", label=label))
    return digit, label, ("upload", name, hash(digit.numpy().tobytes()))


@st.fragment
def attack_lab(record: RunRecord, data) -> None:
    """A slider here reruns only this lab; each attack is made once per input, setting and report."""
    st.header(text("adversarial.lab_title"))
    left, right = st.columns([1, 2])
    with left:
        image, label, identity = chosen_image(record, data)
        epsilon = linked(st.slider, text("adversarial.attack_epsilon"), 0.0, 0.5, 0.2, 0.01,
                         key="adversarial_attack_epsilon")
        method = linked(st.radio, text("adversarial.method"), ["fgsm", "pgd"],
                        key="adversarial_method", horizontal=True,
                        format_func=option_labels("adversarial.method_"))
        steps, size = 10, 0.25
        if method == "pgd":
            steps = linked(st.slider, text("adversarial.pgd_steps"), 1, 50, 10, key="adversarial_pgd_steps")
            size = linked(st.slider, text("adversarial.step_size"), 0.05, 1.0, 0.25, 0.05, key="adversarial_step_size")
        # "any" rather than None: a selectbox showing None shows its placeholder instead of the option's label
        goals = {"any": text("adversarial.untargeted")} | {d: text("adversarial.targeted", digit=d) for d in range(10)}
        goal = linked(st.selectbox, text("adversarial.target"), list(goals), key="adversarial_goal",
                      format_func=goals.__getitem__)
        goal = None if goal == "any" else goal
    if image is None:
        return
    results = record.cached("attack", lambda *_: {
        name: adversarial.attack_one(record.model[name], image, label, epsilon, method, steps, size * epsilon, goal)
        for name in MODELS}, identity, epsilon, method, steps, size, goal)
    with right:
        for name in MODELS:
            result = results[name]
            st.markdown(f"**{text(f'adversarial.{name}')}**")
            columns = st.columns(3)
            before, after = result.original_probabilities, result.adversarial_probabilities
            size_max = float(result.perturbation.abs().max())
            scale = 0.5 / max(size_max, 1e-6)
            columns[0].image(images.to_image(image).resize((112, 112)), caption=text(
                "adversarial.original", label=before.index(max(before)), p=max(before)))
            columns[1].image(images.to_image(result.perturbation * scale + 0.5).resize((112, 112)),
                             caption=text("adversarial.perturbation", scale=scale, size=size_max))
            columns[2].image(images.to_image(result.adversarial).resize((112, 112)), caption=text(
                "adversarial.adversarial", label=after.index(max(after)), p=max(after)))
            st.plotly_chart(bars_figure([str(d) for d in range(10)], {text("adversarial.before"): before,
                                                                       text("adversarial.after"): after},
                                        text("adversarial.probabilities")), width="stretch", key=f"bars_{name}")


def fooled_digits(record: RunRecord, data) -> dict:
    """Per model: how many of the gallery's digits FGSM at the training epsilon turns wrong, and a
    tile of the first 32 of them (None if none)."""
    x, labels = adversarial.evaluation_set(data, GALLERY)          # all ten classes in turn, whatever the split's order
    shown = {}
    for name in MODELS:
        wrong = adversarial.fooled(record.model[name], x, labels, record.config.epsilon)
        shown[name] = (len(wrong), images.to_image(images.tile(x[wrong[:32]], 16)) if len(wrong) else None)
    return shown


@st.fragment
def gallery(record: RunRecord, data) -> None:
    """The digits each model gets wrong under attack: computed once per report of the run."""
    st.header(text("adversarial.gallery_title", epsilon=record.config.epsilon))
    for name, (count, tile) in record.cached("gallery", lambda _: fooled_digits(record, data), data.source).items():
        st.caption(text("adversarial.gallery_caption", count=count, total=GALLERY, per_class=GALLERY // 10,
                        model=text(f"adversarial.{name}")))
        if tile is not None:
            st.image(tile, width=16 * 40)


page_title(65, "adversarial")
st.markdown(text("adversarial.intro"))
with st.expander(text("adversarial.why_title")):
    st.markdown(text("adversarial.why"))
    st.latex(FGSM_TEX)
with st.expander(text("adversarial.attacks_title")):
    st.markdown(text("adversarial.attacks"))
with st.expander(text("adversarial.training_title")):
    st.latex(MINMAX_TEX)
    st.markdown(text("adversarial.training"))

with st.sidebar:
    data = dataset_ui("adversarial")
    config = settings_ui()

st.header(text("common.experiment_title"))
record = experiment("adversarial_train", lambda: adversarial.train(config, data), config, data.source, draw=draw,
                    idle=text("adversarial.press_train"))
if record is not None and record.usable(data.source):
    attack_lab(record, data)
    gallery(record, data)
else:
    st.caption(text("adversarial.need_models"))

misconceptions_and_prompts("adversarial")
show_source(adversarial.fgsm, adversarial.pgd, adversarial.train, adversarial.SmallCNN)
