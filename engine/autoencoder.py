"""Autoencoders on real digits: squeeze 784 pixels through a small bottleneck and back.

A linear autoencoder trained with MSE spans the same subspace as the top principal components
(Baldi & Hornik 1989), so PCA is the best any linear model can do; non-linear encoders can beat it.
Denoising: Vincent et al. (2008). Variational autoencoder: Kingma & Welling (2014); the loss here,
MSE + beta * KL / 784, is the beta-VAE objective (Higgins et al. 2017) for a Gaussian decoder: times 784
it is the negative ELBO, up to a constant, of a decoder with fixed variance beta / 2 per pixel.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from engine.data import ImageSplit, minibatches
from engine.device import device_of, run_device
from engine.rng import RunRandom, build
from engine.training import Throttle, TrainingStep

PIXELS = 28 * 28
CLASSIC = (128, 64, 12)          # hidden sizes of the classic 784-128-64-12-3 autoencoder


@dataclass(frozen=True)
class AutoencoderConfig:
    model: Literal["classic", "mlp", "conv", "linear"] = "classic"
    latent: int = 3                  # bottleneck size ("classic" is 3 by definition)
    hidden: int = 256                # width of the "mlp" model's hidden layer
    variational: bool = False        # a VAE: the encoder gives a mean and a variance per latent unit
    beta: float = 1.0                # weight of the VAE's KL term
    noise: float = 0.0               # denoising: std of Gaussian noise added to the inputs
    steps: int = 1000                # minibatch steps
    batch_size: int = 128
    learning_rate: float = 2e-3      # Adam
    seed: int = 0
    grid: int = 8                    # test digits shown as input / reconstruction pairs
    device: str | None = None        # None: engine.device.pick_device()


class Autoencoder(nn.Module):
    """Encoder -> latent (N, k) -> decoder. For a VAE the encoder outputs 2k numbers (mean, log variance)."""

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        self.variational = config.variational
        latent = 3 if config.model == "classic" else config.latent
        out = 2 * latent if config.variational else latent
        if config.model == "conv":
            self.encoder = nn.Sequential(
                nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(),               # 28 -> 14
                nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),              # 14 -> 7
                nn.Flatten(), nn.Linear(16 * 7 * 7, out))
            self.decoder = nn.Sequential(
                nn.Linear(latent, 16 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (16, 7, 7)),
                nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1), nn.ReLU(),     # 7 -> 14
                nn.ConvTranspose2d(8, 1, 4, stride=2, padding=1), nn.Sigmoid())   # 14 -> 28
            return
        if config.model == "linear":           # no non-linearity anywhere: the PCA comparison
            self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(PIXELS, out))
            self.decoder = nn.Sequential(nn.Linear(latent, PIXELS), nn.Unflatten(1, (1, 28, 28)))
            return
        hidden = CLASSIC if config.model == "classic" else (config.hidden,)
        sizes = (PIXELS, *hidden)
        encoder: list[nn.Module] = [nn.Flatten()]
        for a, b in pairwise(sizes):
            encoder += [nn.Linear(a, b), nn.ReLU()]
        self.encoder = nn.Sequential(*encoder, nn.Linear(sizes[-1], out))
        decoder: list[nn.Module] = []
        for a, b in pairwise((latent, *hidden[::-1])):
            decoder += [nn.Linear(a, b), nn.ReLU()]
        self.decoder = nn.Sequential(*decoder, nn.Linear(hidden[0], PIXELS), nn.Sigmoid(),
                                     nn.Unflatten(1, (1, 28, 28)))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(N, 1, 28, 28) -> mean (N, k) and, for a VAE, log variance (N, k)."""
        code = self.encoder(x)
        if self.variational:
            mean, log_var = code.chunk(2, dim=1)
            return mean, log_var.clamp(-10, 10)
        return code, None

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """A VAE in training mode samples its code from `generator` (the run's, on the device);
        otherwise, and without a generator, the code is the mean."""
        mean, log_var = self.encode(x)
        z = mean
        if log_var is not None and self.training and generator is not None:   # reparameterisation: mu + sigma * eps
            eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
            z = mean + eps * torch.exp(0.5 * log_var)
        return self.decoder(z), mean, log_var


def kl_divergence(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(log_var)) || N(0, I)) per sample, summed over latent units: (N,)."""
    return 0.5 * (mean.pow(2) + log_var.exp() - 1 - log_var).sum(dim=1)


def loss_terms(model: Autoencoder, config: AutoencoderConfig, clean: torch.Tensor, noisy: torch.Tensor,
               generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Reconstruction MSE per pixel (against the *clean* input), plus the VAE's KL per pixel (KL / 784).
    `generator`: the VAE's sampling noise (on the model's device)."""
    reconstruction, mean, log_var = model(noisy, generator)
    terms = {"mse": F.mse_loss(reconstruction, clean)}
    if log_var is not None:
        terms["kl"] = kl_divergence(mean, log_var).mean() / PIXELS
        terms["total"] = terms["mse"] + config.beta * terms["kl"]
    else:
        terms["total"] = terms["mse"]
    return terms


def corrupt(x: torch.Tensor, noise: float, generator: torch.Generator) -> torch.Tensor:
    """Gaussian noise drawn where `generator` lives, added beside `x`, clipped back to [0, 1]
    (the denoising autoencoder's input)."""
    if noise <= 0:
        return x
    drawn = torch.randn(x.shape, generator=generator, device=generator.device).to(x.device)
    return (x + noise * drawn).clamp(0, 1)


def fixed_noise() -> torch.Generator:
    """The noise of every evaluation: the same corrupted test digits at every report and in every run."""
    return torch.Generator().manual_seed(1)


@torch.no_grad()
def evaluate(model: Autoencoder, x: torch.Tensor, noise: float = 0.0) -> float:
    """Mean squared reconstruction error per pixel on `x` (noise added with a fixed seed)."""
    model.eval()
    reconstruction, _, _ = model(corrupt(x, noise, fixed_noise()))
    return F.mse_loss(reconstruction, x).item()


def pca_error(train: torch.Tensor, test: torch.Tensor, components: int) -> float:
    """Test MSE per pixel of the best rank-k linear reconstruction fitted on `train` (PCA). The
    principal directions are the top eigenvectors of the 784 x 784 scatter matrix, in double
    precision: the same directions as an SVD of the centred data, in 0.2 s instead of 4 s for the
    4,000 training digits on one core of the CPU without AVX-512 (it held up every run's first report)."""
    x = train.flatten(1).double()
    mean = x.mean(0)
    centred = x - mean
    _, vectors = torch.linalg.eigh(centred.T @ centred)      # eigenvalues ascending
    basis = vectors[:, -components:].T if components > 0 else vectors[:, :0].T   # (k, 784) principal directions
    y = test.flatten(1).double() - mean
    return ((y @ basis.T @ basis - y) ** 2).mean().item()


def train(config: AutoencoderConfig, data: ImageSplit) -> Iterator[TrainingStep]:
    """Adam on minibatches; yields TrainingSteps with train loss, test MSE, the PCA reference and
    `extras`: `inputs` / `outputs` (grid, 1, 28, 28) for fixed test digits, `history`, `device`, and
    `model`, the autoencoder as trained so far (in every report, so a paused or stopped run has it)."""
    device = run_device(config.device)
    rng = RunRandom(config.seed, device)
    model = build(lambda: Autoencoder(config), rng.cpu, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    order = torch.Generator().manual_seed(config.seed)     # batch order; on the CPU also the denoising noise
    input_noise = order if device.type == "cpu" else rng.device
    batches = minibatches(len(data.train_x), config.batch_size, order)
    latent = 3 if config.model == "classic" else config.latent
    reference = pca_error(data.train_x, data.test_x, latent)
    train_x, test_x = data.train_x.to(device), data.test_x.to(device)                # once per run
    shown = corrupt(test_x[: config.grid], config.noise, fixed_noise())
    history: dict[str, list[float]] = {"step": [], "train": [], "test": []}
    throttle = Throttle(config.steps)
    for step in range(config.steps):
        model.train()
        clean = train_x[next(batches).to(device)]
        terms = loss_terms(model, config, clean, corrupt(clean, config.noise, input_noise), rng.device)
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        optimizer.step()
        if throttle.due(step):       # evaluation is the report's cost, so the throttle spaces it too
            test_mse = evaluate(model, test_x, config.noise)
            history["step"].append(step + 1)
            history["train"].append(terms["mse"].item())
            history["test"].append(test_mse)
            with torch.no_grad():
                outputs = model(shown)[0]
            metrics = {"train_mse": terms["mse"].item(), "test_mse": test_mse, "pca_mse": reference}
            if "kl" in terms:
                metrics["kl"] = terms["kl"].item()
            extras = {"inputs": shown.cpu(), "outputs": outputs.cpu(), "device": str(device), "model": model,
                      "history": {k: list(v) for k, v in history.items()}}
            with throttle.reporting():   # the loop sets train() again, whatever a lab did meanwhile
                yield TrainingStep(step + 1, config.steps, metrics, extras, throttle.training_seconds)


def untrained(config: AutoencoderConfig) -> Autoencoder:
    """The autoencoder a run of `config` starts from: built from the run's seed as `train` builds it,
    on the CPU."""
    return build(lambda: Autoencoder(config), RunRandom(config.seed).cpu)


@torch.inference_mode()
def step_zero(config: AutoencoderConfig, data: ImageSplit) -> TrainingStep:
    """Before any run, on the CPU: the first `config.grid` test digits as a report shows them (noisy
    when denoising) and the untrained model's reconstructions (`inputs`, `outputs`), and its test MSE."""
    model = untrained(config).eval()
    # a copy, not a view of the dataset: the page caches the result, and a pickled view takes its whole storage
    shown = corrupt(data.test_x[: config.grid].clone(), config.noise, fixed_noise())
    metrics = {"test_mse": evaluate(model, data.test_x, config.noise)}
    return TrainingStep(0, config.steps, metrics, {"inputs": shown, "outputs": model(shown)[0]})


@torch.no_grad()
def encode(model: Autoencoder, x: torch.Tensor) -> torch.Tensor:
    """(N, 1, 28, 28) -> latent means (N, k), on the CPU (the model may be on another device)."""
    return model.eval().encode(x.to(device_of(model)))[0].cpu()


@torch.no_grad()
def decode(model: Autoencoder, z: torch.Tensor) -> torch.Tensor:
    """(N, k) -> images (N, 1, 28, 28) in [0, 1], on the CPU."""
    return model.eval().decoder(z.to(device_of(model))).clamp(0, 1).cpu()


@torch.no_grad()
def interpolate(model: Autoencoder, a: torch.Tensor, b: torch.Tensor, steps: int = 8) -> torch.Tensor:
    """Decode evenly spaced points on the line between the codes of images a and b: (steps, 1, 28, 28)."""
    codes = encode(model, torch.stack([a, b]))
    weights = torch.linspace(0, 1, steps).unsqueeze(1)
    return decode(model, codes[0] * (1 - weights) + codes[1] * weights)


@torch.no_grad()
def reconstruction_errors(model: Autoencoder, x: torch.Tensor) -> torch.Tensor:
    """Per-image reconstruction MSE (N,) on the CPU: high values flag inputs unlike the training digits."""
    x = x.to(device_of(model))
    reconstruction = model.eval()(x)[0]
    return (reconstruction - x).pow(2).flatten(1).mean(1).cpu()


@torch.no_grad()
def sample(model: Autoencoder, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """VAE samples: decode z ~ N(0, I) drawn from `generator` (default: seeded 0, so the same
    samples come back on every redraw): (count, 1, 28, 28)."""
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    latent = model.decoder[0].in_features
    return decode(model, torch.randn(count, latent, generator=generator))


@torch.no_grad()
def latent_points(model: Autoencoder, x: torch.Tensor) -> torch.Tensor:
    """Codes of `x` for plotting: (N, k) when k <= 3, else their first three principal components."""
    return project(encode(model, x))


def project(codes: torch.Tensor) -> torch.Tensor:
    """Codes (N, k) as they are plotted: unchanged when k <= 3, else their first three principal components."""
    if codes.shape[1] <= 3:
        return codes
    centred = codes - codes.mean(0)
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)
    return centred @ vh[:3].T


def plotted_axes(latent: int) -> list[tuple[str, int]]:
    """What `latent_points` puts on each axis for a k-dimensional code: ("z", i), the raw coordinate z_i
    (k <= 3), or ("pc", i), the codes' i-th principal component (k > 3)."""
    kind = "pc" if latent > 3 else "z"
    return [(kind, i + 1) for i in range(min(latent, 3))]


def comparison_grid(inputs: torch.Tensor, outputs: torch.Tensor) -> torch.Tensor:
    """Inputs on the top row, reconstructions below: one (1, H, W) image."""
    from engine.images import tile

    return tile(torch.cat([inputs, outputs]), len(inputs))


def percentile_of(value: float, population: torch.Tensor) -> float:
    """Share (in %) of `population` below `value`."""
    return 100.0 * (population < value).float().mean().item()


@torch.no_grad()
def decode_point(model: Autoencoder, code: list[float]) -> torch.Tensor:
    """One code (k numbers) -> one decoded image (1, 28, 28)."""
    return decode(model, torch.tensor([code], dtype=torch.float32))[0]


@torch.no_grad()
def reconstruct(model: Autoencoder, image: torch.Tensor) -> torch.Tensor:
    """(1, 28, 28) -> its reconstruction (1, 28, 28), on the CPU."""
    return model.eval()(image.unsqueeze(0).to(device_of(model)))[0][0].clamp(0, 1).cpu()
