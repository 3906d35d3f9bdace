"""Adversarial examples and adversarial training on real digits.

Adversarial examples were found by Szegedy et al. (2014), "Intriguing Properties of Neural Networks".
FGSM: Goodfellow, Shlens & Szegedy (2015), "Explaining and Harnessing Adversarial Examples".
PGD and adversarial training as a min-max problem: Madry et al. (2018), "Towards Deep Learning
Models Resistant to Adversarial Attacks". FGSM with a random start ("fast is better than free"):
Wong, Rice & Kolter (2020). All attacks here are L-infinity bounded and keep pixels in [0, 1].
"""

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from engine.data import ImageSplit, minibatches
from engine.device import device_of, run_device
from engine.rng import RunRandom, build
from engine.training import Throttle, TrainingStep

EPSILONS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35)    # the curves' grid: covers the training slider
ATTACKS = ("fgsm", "pgd")                                   # the attacks each curve is measured under


@dataclass(frozen=True)
class AdversarialConfig:
    defence: Literal["fgsm_rs", "pgd"] = "fgsm_rs"   # how the robust model's training batches are attacked
    epsilon: float = 0.25           # L-infinity budget used in adversarial training
    adversarial_share: float = 0.5  # share of each robust-training batch that is attacked (rest clean)
    pgd_steps: int = 5              # PGD iterations when defence == "pgd"
    steps: int = 150                # minibatch steps for each model (the cards judge this run too)
    batch_size: int = 64
    learning_rate: float = 4e-3     # Adam, peak of a one-cycle schedule
    eval_size: int = 120            # test digits (all ten classes, in turn) for the final curves (was 200:
                                    # its PGD curves took 5 of the default run's 14 s on the CPU without AVX-512)
    live_size: int = 60             # the first of them, attacked at the reports during the run (the attacks
                                    # are a report's whole cost: half the digits, half the time)
    eval_pgd_steps: int = 10        # PGD iterations of the curves' attack (random start, step 0.25 epsilon)
    seed: int = 0
    device: str | None = None       # None: engine.device.pick_device()

    @property
    def live_count(self) -> int:
        """How many evaluation digits the reports during the run attack."""
        return min(self.live_size, self.eval_size)


class SmallCNN(nn.Module):
    """Two conv blocks and a small classifier: about 99 % on MNIST with enough data."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),          # 28 -> 14
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),         # 14 -> 7
            nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)                          # (N, 10) logits


def _input_gradient(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, target: bool) -> torch.Tensor:
    """d loss / d x; for a targeted attack the loss is towards `labels` and we will descend it."""
    x = x.detach().requires_grad_(True)
    loss = F.cross_entropy(model(x), labels)
    (gradient,) = torch.autograd.grad(loss, x)
    return -gradient if target else gradient


def fgsm(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, epsilon: float,
         target: torch.Tensor | None = None) -> torch.Tensor:
    """One step of size epsilon along the sign of the input gradient, clipped to [0, 1].
    Untargeted: raise the loss of the true `labels`; targeted: lower the loss of `target`."""
    direction = _input_gradient(model, x, labels if target is None else target, target is not None)
    return (x + epsilon * direction.sign()).clamp(0, 1).detach()


def pgd(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, epsilon: float, steps: int = 10,
        step_size: float | None = None, target: torch.Tensor | None = None, random_start: bool = True,
        generator: torch.Generator | None = None, stop_when_fooled: bool = False) -> torch.Tensor:
    """Projected gradient descent: repeated small sign steps, each projected back onto the
    epsilon-ball around x and the [0, 1] box. `generator` draws the random start (default: a fresh
    one seeded 0, so an attack repeats). `stop_when_fooled`: an image stops moving (and costs
    nothing more) at the first iterate the model misreads, or reads as `target`."""
    step_size = step_size if step_size is not None else 2.5 * epsilon / max(steps, 1)
    goal = labels if target is None else target
    adversarial = x.clone()
    if random_start:
        adversarial = adversarial + (uniform_noise(x, generator) * 2 - 1) * epsilon
    adversarial = adversarial.clamp(0, 1)
    active = torch.arange(len(x), device=x.device)
    for _ in range(steps):
        current = adversarial[active].requires_grad_(True)
        logits = model(current)
        (gradient,) = torch.autograd.grad(F.cross_entropy(logits, goal[active]), current)
        if stop_when_fooled:
            read = logits.argmax(1)
            moving = read == labels[active] if target is None else read != target[active]
            active, current, gradient = active[moving], current[moving], gradient[moving]
        direction = -gradient if target is not None else gradient          # targeted: descend the target's loss
        moved = current.detach() + step_size * direction.sign()
        moved = torch.max(torch.min(moved, x[active] + epsilon), x[active] - epsilon)   # project onto the ball
        adversarial[active] = moved.clamp(0, 1)                                           # and the box
    return adversarial.detach()


def uniform_noise(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """U[0, 1) noise shaped like `x`, drawn where `generator` lives (a fixed CPU generator for the
    curves and the lab, the run's own for training) and placed beside `x`."""
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    return torch.rand(x.shape, generator=generator, device=generator.device).to(x.device)


def fgsm_random_start(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, epsilon: float,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """Wong et al.'s FGSM-RS: a uniform random start, one step of 1.25 epsilon, projected."""
    return pgd(model, x, labels, epsilon, steps=1, step_size=1.25 * epsilon, generator=generator)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, labels: torch.Tensor) -> float:
    return (model(x).argmax(1) == labels).float().mean().item()


def accuracy_under_attack(model: nn.Module, x: torch.Tensor, labels: torch.Tensor,
                          epsilons: tuple[float, ...] = EPSILONS, attack: str = "fgsm", steps: int = 10) -> list[float]:
    """Accuracy on FGSM (or `steps`-step PGD) examples for each epsilon. FGSM's direction, the sign of
    the input gradient at the clean digits, is the same for every epsilon: computed once."""
    model.eval()
    if attack == "fgsm":
        direction = _input_gradient(model, x, labels, False).sign()
        return [accuracy(model, (x + epsilon * direction).clamp(0, 1) if epsilon else x, labels)
                for epsilon in epsilons]
    results = []
    for epsilon in epsilons:
        if epsilon == 0:
            attacked = x
        else:
            attacked = pgd(model, x, labels, epsilon, steps, generator=torch.Generator().manual_seed(0))
        results.append(accuracy(model, attacked, labels))
    return results


def pgd_robust_accuracy(model: nn.Module, x: torch.Tensor, labels: torch.Tensor,
                        epsilons: tuple[float, ...] = EPSILONS, steps: int = 10) -> list[float]:
    """Share of digits that PGD breaks at no epsilon up to each one of `epsilons` (ascending).

    A ball contains every smaller one, so a digit misread clean or broken at a smaller epsilon is
    broken at all larger ones. So only the digits still standing are attacked, each only until its
    first misread iterate: the evaluation costs a fraction of attacking every digit at every epsilon."""
    model.eval()
    standing = torch.arange(len(x), device=x.device)
    results = []
    for epsilon in sorted(epsilons):
        if len(standing):
            inputs, truth = x[standing], labels[standing]
            if epsilon > 0:
                inputs = pgd(model, inputs, truth, epsilon, steps, generator=torch.Generator().manual_seed(0),
                             stop_when_fooled=True)
            with torch.no_grad():
                standing = standing[model(inputs).argmax(1) == truth]
        results.append(len(standing) / len(x))
    return results


def attack_curves(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, epsilons: tuple[float, ...] = EPSILONS,
                  pgd_steps: int = 10) -> dict[str, list[float]]:
    """The page's two curves: accuracy under FGSM and under PGD (random start, `pgd_steps` steps of
    0.25 epsilon) at each of `epsilons` (ascending)."""
    return {"fgsm": accuracy_under_attack(model, x, labels, epsilons, "fgsm"),
            "pgd": pgd_robust_accuracy(model, x, labels, epsilons, pgd_steps)}


def curve_epsilons(epsilon: float) -> tuple[float, ...]:
    """The curves' grid, with the training epsilon added if it falls between grid points."""
    return tuple(sorted(set(EPSILONS) | {round(epsilon, 4)}))


def balanced_indices(labels: torch.Tensor, count: int) -> torch.Tensor:
    """`count` indices taking each class in turn (the first 0, the first 1, ..., then the second 0, ...),
    so that every prefix of ten or more holds all ten classes however the split is ordered."""
    rank = torch.zeros_like(labels)
    for label in labels.unique():
        members = labels == label
        rank[members] = torch.arange(int(members.sum()))
    return torch.argsort(rank * (int(labels.max()) + 1) + labels, stable=True)[:count]


def evaluation_set(data: ImageSplit, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` test digits, all ten classes in turn: the curves' and the gallery's digits."""
    index = balanced_indices(data.test_y, count)
    return data.test_x[index], data.test_y[index]


def _robust_batch(config: AdversarialConfig, model: nn.Module, x: torch.Tensor, labels: torch.Tensor,
                  generator: torch.Generator) -> torch.Tensor:
    """The robust model's batch: the first `adversarial_share` of it attacked, the rest clean."""
    count = round(config.adversarial_share * len(x))
    if count == 0:
        return x
    model.eval()                   # attack the current model without touching any training state
    if config.defence == "pgd":
        attacked = pgd(model, x[:count], labels[:count], config.epsilon, steps=config.pgd_steps, generator=generator)
    else:
        attacked = fgsm_random_start(model, x[:count], labels[:count], config.epsilon, generator)
    model.train()
    return torch.cat([attacked, x[count:]])


def train(config: AdversarialConfig, data: ImageSplit) -> Iterator[TrainingStep]:
    """Train a standard and an adversarially trained CNN side by side on the same batches.

    Metrics: clean accuracy of each, and its accuracy under FGSM and PGD at the training epsilon;
    extras: `epsilons`, `curves` {model: {"fgsm": [...], "pgd": [...]}} over those epsilons (on the
    first `live_size` of the `eval_size` test digits during the run, on all of them at the last step;
    `scored` says how many), `history`, `device`, and `model`: {"standard": ..., "robust": ...},
    the models as trained so far (in every report, so a paused or stopped run has them).
    """
    device = run_device(config.device)
    rng = RunRandom(config.seed, device)
    order = torch.Generator().manual_seed(config.seed)     # batch order; on the CPU also the attacks' starts
    attack_starts = order if device.type == "cpu" else rng.device
    standard = build(SmallCNN, rng.cpu, device).to(memory_format=torch.channels_last)   # oneDNN's fast layout:
                                                                                       # 1.3x a step on the CPU
    models = {"standard": standard, "robust": copy.deepcopy(standard)}                # same start
    optimizers = {name: torch.optim.Adam(m.parameters(), lr=config.learning_rate, fused=True)
                  for name, m in models.items()}
    # One learning-rate cycle (Smith & Topin's super-convergence), as Wong et al. trained FGSM-RS: the same
    # accuracy in fewer steps than a constant rate. Theirs rose linearly to the peak at 2/5 of training and
    # fell to 0; PyTorch's OneCycleLR is cosine, peaks at 30 % and also cycles Adam's beta1 (0.95 -> 0.85 -> 0.95).
    schedules = [torch.optim.lr_scheduler.OneCycleLR(optimizer, config.learning_rate, total_steps=config.steps)
                 for optimizer in optimizers.values()]
    batches = minibatches(len(data.train_x), config.batch_size, order)
    train_x, train_y = data.train_x.to(device), data.train_y.to(device)               # once per run
    eval_x, eval_y = (t.to(device) for t in evaluation_set(data, config.eval_size))
    epsilons = curve_epsilons(config.epsilon)
    trained_at = epsilons.index(round(config.epsilon, 4))
    history: dict[str, list[float]] = {"step": [], "standard": [], "robust": []}
    throttle = Throttle(config.steps, max_share=0.12)   # the curves are the point of this page: report often
    for step in range(config.steps):
        index = next(batches).to(device)
        x, labels = train_x[index], train_y[index]
        inputs = {"standard": x, "robust": _robust_batch(config, models["robust"], x, labels, attack_starts)}
        for name, model in models.items():
            model.train()
            loss = F.cross_entropy(model(inputs[name]), labels)
            optimizers[name].zero_grad(set_to_none=True)
            loss.backward()
            optimizers[name].step()
        for schedule in schedules:
            schedule.step()
        if throttle.due(step):             # the attack evaluation is the report's cost, so the throttle spaces it
            scored = config.eval_size if step == config.steps - 1 else config.live_count
            curves = {name: attack_curves(model, eval_x[:scored], eval_y[:scored], epsilons, config.eval_pgd_steps)
                      for name, model in models.items()}
            history["step"].append(step + 1)
            for name in models:
                history[name].append(curves[name]["fgsm"][0])
            metrics = {f"{name}_clean": curves[name]["fgsm"][0] for name in models}
            metrics |= {f"{name}_{attack}": curves[name][attack][trained_at] for name in models for attack in ATTACKS}
            extras = {"epsilons": list(epsilons), "curves": curves, "device": str(device), "scored": scored,
                      "history": {k: list(v) for k, v in history.items()}, "model": dict(models)}
            with throttle.reporting():     # the loop sets train() again, whatever a lab did meanwhile
                yield TrainingStep(step + 1, config.steps, metrics, extras, throttle.training_seconds)


def untrained(config: AdversarialConfig) -> nn.Module:
    """The network both models of a run start from (the robust one is a copy of it): built from the
    run's seed as `train` builds it, on the CPU."""
    return build(SmallCNN, RunRandom(config.seed).cpu)


def step_zero(config: AdversarialConfig, data: ImageSplit, count: int = 10) -> TrainingStep:
    """Before any run, on the CPU: `count` test digits (one class after another), the same digits
    under FGSM at the training epsilon against the untrained network (what a perturbation of that
    size looks like), and its answers to both. Extras: `digits`, `attacked` (count, 1, 28, 28),
    `labels`, `clean_answers`, `attacked_answers` (count,); metrics: its accuracy on both."""
    model = untrained(config).eval()
    x, labels = evaluation_set(data, count)
    attacked = fgsm(model, x, labels, config.epsilon)
    with torch.inference_mode():
        clean, fooled = model(x).argmax(1), model(attacked).argmax(1)
    metrics = {"clean": (clean == labels).float().mean().item(), "fgsm": (fooled == labels).float().mean().item()}
    extras = {"digits": x, "attacked": attacked, "labels": labels, "clean_answers": clean, "attacked_answers": fooled}
    return TrainingStep(0, config.steps, metrics, extras)


@dataclass(frozen=True)
class AttackResult:
    adversarial: torch.Tensor          # (1, 28, 28)
    perturbation: torch.Tensor         # (1, 28, 28), adversarial - original, within [-epsilon, epsilon]
    original_probabilities: list[float]
    adversarial_probabilities: list[float]


def attack_one(model: nn.Module, image: torch.Tensor, label: int, epsilon: float,
               method: Literal["fgsm", "pgd"] = "fgsm", steps: int = 10, step_size: float | None = None,
               target: int | None = None) -> AttackResult:
    """Attack one (1, 28, 28) image; `label` is its true class (or the model's guess for uploads).
    The attack runs on the model's device; the result is on the CPU, for drawing."""
    model.eval()
    device = device_of(model)
    x = image.unsqueeze(0).to(device)
    labels = torch.tensor([label], device=device)
    goal = None if target is None else torch.tensor([target], device=device)
    if method == "pgd":
        adversarial = pgd(model, x, labels, epsilon, steps, step_size, goal)
    else:
        adversarial = fgsm(model, x, labels, epsilon, goal)
    with torch.no_grad():
        before, after = F.softmax(model(x), 1)[0].tolist(), F.softmax(model(adversarial), 1)[0].tolist()
    return AttackResult(adversarial[0].cpu(), (adversarial - x)[0].cpu(), before, after)


@torch.no_grad()
def fooled_examples(model: nn.Module, x: torch.Tensor, labels: torch.Tensor,
                    epsilon: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """FGSM at epsilon on the (N, 1, 28, 28) digits `x`: the indices of those classified correctly
    when clean but wrongly when attacked, their attacked images (K, 1, 28, 28) and the model's
    answers on them (K,); all on the CPU, in the order of `x`."""
    model.eval()
    device = device_of(model)
    x, labels = x.to(device), labels.to(device)
    with torch.enable_grad():
        attacked = fgsm(model, x, labels, epsilon)
    answers = model(attacked).argmax(1)
    index = torch.nonzero((model(x).argmax(1) == labels) & (answers != labels)).flatten()
    return index.cpu(), attacked[index].cpu(), answers[index].cpu()


def fooled(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, epsilon: float) -> torch.Tensor:
    """Indices (on the CPU) of test digits classified correctly when clean but wrongly under FGSM at epsilon."""
    return fooled_examples(model, x, labels, epsilon)[0]


def first_fooled(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, epsilon: float,
                 chunk: int = 250) -> int | None:
    """The first index, in the order of `x`, of a digit the model reads correctly when clean and
    wrongly under FGSM at epsilon (None if there is none); attacks `chunk` digits at a time."""
    for start in range(0, len(x), chunk):
        found = fooled(model, x[start:start + chunk], labels[start:start + chunk], epsilon)
        if len(found):
            return start + int(found[0])
    return None


def targeted_success(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, epsilon: float,
                     method: Literal["fgsm", "pgd"] = "pgd", steps: int = 10,
                     step_size: float | None = None) -> float:
    """Share of (digit, target) pairs, each of the N digits aimed at each of its 9 wrong classes,
    for which a targeted attack makes the model answer the target: 9N attacks in one batch."""
    model.eval()
    device = device_of(model)
    x, labels = x.to(device), labels.to(device)
    targets = torch.cat([(labels + shift) % 10 for shift in range(1, 10)])      # (9N,)
    inputs, truth = x.repeat(9, 1, 1, 1), labels.repeat(9)
    if method == "pgd":
        attacked = pgd(model, inputs, truth, epsilon, steps, step_size, targets)
    else:
        attacked = fgsm(model, inputs, truth, epsilon, targets)
    with torch.no_grad():
        return (model(attacked).argmax(1) == targets).float().mean().item()


@torch.no_grad()
def predict(model: nn.Module, image: torch.Tensor) -> int:
    return model.eval()(image.unsqueeze(0).to(device_of(model))).argmax(1).item()
