"""65 · Adversarial examples and adversarial training, on real digits."""

import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from engine import adversarial, images
from engine.cards import adversarial as adversarial_cards
from ui.canvas import upload_or_draw
from ui.cards import cards_section
from ui.charts import NEUTRAL, bars_figure, lines_figure, show, with_previous
from ui.data_widgets import dataset_ui
from ui.experiment import RunRecord, TakeHome, Training, experiment, lab
from ui.fields import Form
from ui.hosted import cap, image_limits
from ui.i18n import option_labels, text
from ui.links import linked
from ui.settings.adversarial import ATTACK_STEPS, TRAIN
from ui.widgets import alt_of, clamp_state, lab_columns, misconceptions, page_title, show_source

FGSM_TEX = (r"\tilde{x} = \operatorname{clip}_{[0,1]}\!\big(x + \epsilon\,"
            r"\operatorname{sign}(\nabla_x \mathcal{L}(f_\theta(x), y))\big)")
TARGETED_TEX = (r"x_{k+1} = \Pi_{\lVert x' - x \rVert_\infty \le \epsilon,\; x' \in [0,1]}"
                r"\big(x_k - \alpha\,\operatorname{sign}(\nabla_x \mathcal{L}(f_\theta(x_k), t))\big)")
MINMAX_TEX = (r"\min_\theta\; \mathbb{E}_{(x,y)} \Big[\max_{\lVert \delta \rVert_\infty \le \epsilon}"
              r" \mathcal{L}(f_\theta(x + \delta), y)\Big]")
MODELS = ("standard", "robust")
GALLERY = 300              # test digits the gallery attacks, 30 of each class
GALLERY_SHOWN = 16         # attacked digits shown per model
LAB_EPSILON = 0.2          # the lab's default attack: one untargeted FGSM step of this size
TARGET_DIGITS = 20         # test digits (two of each class) aimed at each of their 9 wrong classes
INDEX_FOR = "_adversarial_index_for"   # Session State: the report the lab's default digit was picked for


def settings_ui(form: Form) -> tuple[adversarial.AdversarialConfig, str]:
    """The run's settings (the dataset is drawn above, by `dataset_ui`); the config and the data's
    source, as the cards build them."""
    form("epsilon")
    form("steps")
    with st.expander(text("adversarial.more_training")):
        form("defence")
        form("share")
    return form.config()


def curves_figure(step) -> go.Figure:
    """Accuracy against ε of both models under both attacks (PGD dashed) at report `step`."""
    lines = [(name, attack) for name in MODELS for attack in adversarial.ATTACKS]
    curves = {text(f"adversarial.curve_{attack}", model=text(f"adversarial.{name}")):
              step.extras["curves"][name][attack] for name, attack in lines}
    figure = lines_figure(step.extras["epsilons"], curves,
                          text("adversarial.curve_title", step=step.step, total=step.total),
                          text("adversarial.curve_x"), text("adversarial.curve_y"), (0, 1.03))
    for trace, (_, attack) in zip(figure.data, lines, strict=True):
        trace.line.dash = "dash" if attack == "pgd" else "solid"
    return figure.update_layout(height=340, yaxis_tickformat=".0%", margin_t=60)


def draw(record: RunRecord) -> None:
    """The accuracy-vs-epsilon curves (the previous run's faint) and the six metrics of the latest report."""
    step, config = record.step, record.config
    figure = curves_figure(step)
    if record.previous is not None:
        with_previous(figure, curves_figure(record.previous.step))
    show(figure)
    scored = step.extras.get("scored", config.eval_size)
    st.caption(text("adversarial.curve_caption", count=scored, per_class=scored // 10, total=config.eval_size,
                    live=config.live_count, steps=config.eval_pgd_steps))
    for name in MODELS:                          # one row per model: clean, FGSM and PGD at the training epsilon
        model, columns = text(f"adversarial.{name}"), st.columns(3)
        columns[0].metric(text("adversarial.metric_clean", model=model), f"{step.metrics[f'{name}_clean']:.1%}")
        for column, attack in zip(columns[1:], adversarial.ATTACKS, strict=True):
            column.metric(text(f"adversarial.metric_{attack}", model=model, epsilon=config.epsilon),
                          f"{step.metrics[f'{name}_{attack}']:.1%}")


@st.cache_data(max_entries=16, show_spinner=False)
def untrained_step(config: adversarial.AdversarialConfig, source: str, _data):
    """The untrained network on test digits of `source` (the digits themselves are not hashed on every rerun)."""
    return adversarial.step_zero(config, _data)


def digit_row(digits, labels: list[int], answers: list[int], epsilon: float | None = None) -> None:
    """Digits in one row (wrapping on a phone), each captioned "true → answered", as the gallery does;
    `epsilon`: these are the digits attacked by FGSM at that budget (their alt text says so)."""
    st.image([images.to_image(d).resize((56, 56), Image.Resampling.NEAREST) for d in digits], width=56,
             caption=[f"{label} → {answer}" for label, answer in zip(labels, answers, strict=True)],
             alt=[text("common.alt_digit_answer", label=label, answer=answer) if epsilon is None else
                  text("adversarial.alt_attacked_digit", epsilon=f"{epsilon:g}", label=label, answer=answer)
                  for label, answer in zip(labels, answers, strict=True)])


def preview(config: adversarial.AdversarialConfig, data) -> None:
    """Before a run: test digits with the untrained network's answers, and the same digits moved by
    the training ε along its gradient's sign (what the budget allows)."""
    step = untrained_step(config, data.source, data)
    extras, labels = step.extras, step.extras["labels"].tolist()
    digit_row(extras["digits"], labels, extras["clean_answers"].tolist())
    digit_row(extras["attacked"], labels, extras["attacked_answers"].tolist(), epsilon=config.epsilon)
    st.caption(text("adversarial.preview", count=len(labels), clean=step.metrics["clean"], epsilon=config.epsilon))


def upload_digit(raw: bytes):
    """An uploaded image as an MNIST-like (1, 28, 28) digit; InputError if it is not a usable image."""
    return images.to_digit(images.load_image(raw, limits=image_limits()).image).tensor


def first_flip(record: RunRecord, data) -> int | None:
    """The lab's default digit: the first test digit the standard model reads right when clean and
    wrong under the lab's default attack (None if there is none)."""
    return adversarial.first_fooled(record.model["standard"], data.test_x, data.test_y, LAB_EPSILON)


def chosen_image(record: RunRecord, data) -> tuple:
    """The lab's input: a test digit with its label, or an upload labelled by the standard model;
    and what identifies it, for the cache. The digit number is exploration, not a setting: it is
    kept out of links, and each new report of a run starts it on a digit the attack flips."""
    source = linked(st.radio, text("adversarial.input"), ["test", "upload"], key="adversarial_input", horizontal=True,
                    format_func=option_labels("adversarial.input_"))
    if source == "test":
        default = record.cached("first_flip", lambda _: first_flip(record, data), data.source)
        report = (record.started, record.job.version)
        if st.session_state.get(INDEX_FOR) != report:
            st.session_state[INDEX_FOR], st.session_state["adversarial_index"] = report, default or 0
        clamp_state("adversarial_index", 0, len(data.test_x) - 1)
        index = st.number_input(text("adversarial.index"), 0, len(data.test_x) - 1, key="adversarial_index")
        if default is not None:
            st.caption(text("adversarial.index_default", index=default, epsilon=LAB_EPSILON))
        return data.test_x[index], int(data.test_y[index]), ("test", index)
    kept = upload_or_draw("adversarial_upload", text("adversarial.upload"), upload_digit, list(images.UPLOAD_TYPES))
    if kept is None:
        return None, None, ()
    name, digit = kept
    label = adversarial.predict(record.model["standard"], digit)
    st.caption(text("adversarial.upload_label", label=label))
    return digit, label, ("upload", name, hash(digit.numpy().tobytes()))


def answer(probabilities: list[float]) -> int:
    return probabilities.index(max(probabilities))


def outcome(result: adversarial.AttackResult, label: int, goal: int | None) -> str:
    """'Attack succeeded / failed' for one model, as a coloured badge (red: the model was fooled)."""
    clean, attacked = answer(result.original_probabilities), answer(result.adversarial_probabilities)
    if goal is not None and goal == label:
        key = "target_is_label"                     # nothing to attack: the digit already is the target
    elif goal is not None:
        key = "targeted_success" if attacked == goal else \
            "targeted_failure" if attacked == clean else "targeted_elsewhere"
    elif clean != label:
        key = "misread_clean"
    else:
        key = "untargeted_success" if attacked != label else "untargeted_failure"
    colour = {"targeted_success": "red", "untargeted_success": "red", "targeted_elsewhere": "orange",
              "misread_clean": "gray", "target_is_label": "gray"}.get(key, "green")
    return f":{colour}-badge[{text(f'adversarial.{key}', label=label, clean=clean, answer=attacked, target=goal)}]"


def probability_bars(result: adversarial.AttackResult, goal: int | None) -> go.Figure:
    """Both probability vectors as grouped bars; a targeted attack's target outlined and named."""
    figure = bars_figure([str(d) for d in range(10)], {text("adversarial.before"): result.original_probabilities,
                                                       text("adversarial.after"): result.adversarial_probabilities},
                         text("adversarial.probabilities"))
    figure.update_layout(height=250, xaxis_title_text=text("adversarial.bars_x"),
                         yaxis_title_text=text("adversarial.bars_y"))
    if goal is not None:
        figure.update_xaxes(tickvals=[str(d) for d in range(10)],
                            ticktext=[text("adversarial.target_tick", digit=d) if d == goal else str(d)
                                      for d in range(10)])
        figure.add_shape(type="rect", xref="x", yref="paper", x0=goal - 0.5, x1=goal + 0.5, y0=0, y1=1,
                         line={"color": NEUTRAL, "width": 2, "dash": "dot"})
    return figure


def targeted_rates(record: RunRecord, data, epsilon: float, method: str, steps: int, size: float) -> dict:
    """Per model: the share of (digit, target) pairs this targeted attack makes the model answer."""
    x, labels = adversarial.evaluation_set(data, TARGET_DIGITS)
    return {name: adversarial.targeted_success(record.model[name], x, labels, epsilon, method, steps, size * epsilon)
            for name in MODELS}


@lab
def attack_lab(record: RunRecord, data) -> None:
    """A slider here reruns only this lab; each attack is made once per input, setting and report."""
    st.header(text("adversarial.lab_title"))
    left, right = st.columns([1, 2])
    with left:
        image, label, identity = chosen_image(record, data)
        epsilon = linked(st.slider, text("adversarial.attack_epsilon"), 0.0, 0.5, LAB_EPSILON, 0.01,
                         key="adversarial_attack_epsilon")
        method = linked(st.radio, text("adversarial.method"), ["fgsm", "pgd"],
                        key="adversarial_method", horizontal=True,
                        format_func=option_labels("adversarial.method_"))
        steps, size = 10, 0.25
        if method == "pgd":
            steps = linked(st.slider, text("adversarial.pgd_steps"), key="adversarial_pgd_steps", cap=cap(ATTACK_STEPS),
                           **ATTACK_STEPS.widget_arguments())
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
            st.markdown(f"**{text(f'adversarial.{name}')}** · {outcome(result, label, goal)}")
            before, after = result.original_probabilities, result.adversarial_probabilities
            size_max = float(result.perturbation.abs().max())
            scale = 0.5 / max(size_max, 1e-6)
            pictures = [image, result.perturbation * scale + 0.5, result.adversarial]     # one row, even on a phone
            captions = [text("adversarial.original", label=answer(before), p=max(before)),
                        text("adversarial.perturbation", scale=scale, size=size_max),
                        text("adversarial.adversarial", label=answer(after), p=max(after))]
            st.image([images.to_image(p).resize((112, 112)) for p in pictures], width=112, caption=captions,
                     alt=alt_of(text("adversarial.alt_attack", model=text(f"adversarial.{name}")), captions))
            show(probability_bars(result, goal), key=f"bars_{name}")
    if goal is not None and epsilon > 0:
        rates = record.cached("targeted", lambda *_: targeted_rates(record, data, epsilon, method, steps, size),
                              data.source, epsilon, method, steps, size)
        st.info(text("adversarial.targeted_rates", pairs=9 * TARGET_DIGITS, digits=TARGET_DIGITS,
                     standard=rates["standard"], robust=rates["robust"], epsilon=epsilon))


def fooled_digits(record: RunRecord, data) -> dict:
    """Per model: how many of the gallery's digits FGSM at the training epsilon turns wrong, and the
    first of them as attacked, each captioned "true → predicted"."""
    x, labels = adversarial.evaluation_set(data, GALLERY)          # all ten classes in turn, whatever the split's order
    shown = {}
    for name in MODELS:
        index, attacked, answers = adversarial.fooled_examples(record.model[name], x, labels, record.config.epsilon)
        pictures = [images.to_image(digit).resize((84, 84), Image.Resampling.NEAREST)
                    for digit in attacked[:GALLERY_SHOWN]]
        captions = [f"{int(labels[i])} → {int(a)}" for i, a in zip(index[:GALLERY_SHOWN], answers, strict=False)]
        shown[name] = (len(index), pictures, captions)
    return shown


@lab
def gallery(record: RunRecord, data) -> None:
    """The digits each model gets wrong under attack: computed once per report of the run."""
    st.header(text("adversarial.gallery_title", epsilon=record.config.epsilon))
    shown = record.cached("gallery", lambda _: fooled_digits(record, data), data.source)
    for name, (count, pictures, captions) in shown.items():
        st.caption(text("adversarial.gallery_caption" if count else "adversarial.gallery_none", count=count,
                        total=GALLERY, per_class=GALLERY // 10, model=text(f"adversarial.{name}"),
                        shown=len(pictures)))
        if pictures:
            st.image(pictures, caption=captions, width=84,
                     alt=[text("adversarial.alt_fooled", label=true, answer=answer)
                          for true, _, answer in (caption.partition(" → ") for caption in captions)])


page_title(65, "adversarial")
st.markdown(text("adversarial.intro"))

settings_column, run_column = lab_columns()
with settings_column:
    form = Form(TRAIN)
    data = dataset_ui(form)
    config, data_key = settings_ui(form)
with run_column:
    record = experiment(TRAIN.key,
                        Training(lambda: adversarial.train(config, data), config, data_key, form=form,
                                 take_home=TakeHome("adversarial", {"dataset": data_key, "config": config})),
                        draw=draw, idle=text("adversarial.press_train"), preview=lambda: preview(config, data))

if record is not None and record.usable(data.source):
    attack_lab(record, data)
    gallery(record, data)
else:
    st.caption(text("adversarial.need_models"))

st.header(text("adversarial.ideas_title"))
with st.expander(text("adversarial.why_title")):
    st.markdown(text("adversarial.why"))
    st.latex(FGSM_TEX)
with st.expander(text("adversarial.attacks_title")):
    st.markdown(text("adversarial.attacks"))
    st.latex(TARGETED_TEX)
with st.expander(text("adversarial.training_title")):
    st.latex(MINMAX_TEX)
    st.markdown(text("adversarial.training"))

cards_section("adversarial", adversarial_cards)
misconceptions("adversarial")
show_source(adversarial.fgsm, adversarial.pgd, adversarial.train, adversarial.SmallCNN)
