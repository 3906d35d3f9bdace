"""Autoencoder engine: PCA as the reference, the VAE's KL term, and upload preprocessing."""

import dataclasses
import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from engine import autoencoder, data, images
from engine.rng import build


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


@pytest.mark.slow
def test_linear_autoencoder_matches_pca_and_no_better(digits):
    config = autoencoder.AutoencoderConfig(model="linear", latent=8, steps=1500, learning_rate=3e-3)
    *_, last = autoencoder.train(config, digits)
    pca = autoencoder.pca_error(digits.train_x, digits.test_x, 8)
    assert last.metrics["pca_mse"] == pytest.approx(pca)
    assert pca * 0.99 < last.metrics["test_mse"] < pca * 1.05


def test_pca_error_equals_a_direct_projection(digits):
    x = digits.train_x[:500].flatten(1).double()
    mean = x.mean(0)
    covariance = (x - mean).T @ (x - mean)
    _, vectors = torch.linalg.eigh(covariance)
    top = vectors[:, -5:]                                       # eigenvectors of the 5 largest eigenvalues
    y = digits.test_x[:200].flatten(1).double() - mean
    direct = ((y @ top @ top.T - y) ** 2).mean().item()
    assert autoencoder.pca_error(digits.train_x[:500], digits.test_x[:200], 5) == pytest.approx(direct, rel=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classic_model_beats_pca_clusters_digits_and_passes_a_photo(digits, seed):
    """Prompts 1, 2 and 5: measured 0.75-0.77 x PCA's error; 0-1 centroids 5-10x farther apart than 4-9;
    the astronaut photo at the 39th-68th percentile of the test digits' errors."""
    *_, last = autoencoder.train(autoencoder.AutoencoderConfig(model="classic", seed=seed), digits)
    assert last.metrics["test_mse"] < 0.85 * last.metrics["pca_mse"]
    model = last.extras["model"]
    codes = autoencoder.encode(model, digits.test_x)
    assert codes.shape == (len(digits.test_x), 3)
    centres = torch.stack([codes[digits.test_y == k].mean(0) for k in range(10)])
    assert (centres[0] - centres[1]).norm() > 3 * (centres[4] - centres[9]).norm()
    photo = images.to_digit(images.load_sample("astronaut")).tensor.unsqueeze(0)
    error = autoencoder.reconstruction_errors(model, photo)[0].item()
    assert autoencoder.percentile_of(error, autoencoder.reconstruction_errors(model, digits.test_x)) < 90


@pytest.mark.slow
def test_vae_kl_is_non_negative_and_samples_decode(digits):
    generator = torch.Generator().manual_seed(0)
    mean, log_var = torch.randn(64, 4, generator=generator) * 3, torch.randn(64, 4, generator=generator)
    assert (autoencoder.kl_divergence(mean, log_var) >= 0).all()
    assert autoencoder.kl_divergence(torch.zeros(2, 4), torch.zeros(2, 4)).abs().max() < 1e-7
    config = autoencoder.AutoencoderConfig(model="mlp", latent=4, variational=True, steps=200)
    *_, last = autoencoder.train(config, digits)
    assert last.metrics["kl"] >= 0
    samples = autoencoder.sample(last.extras["model"], 64, torch.Generator().manual_seed(0))
    noise = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    real = digits.test_x[:1000].flatten(1)

    def nearest(images):            # each image's mean squared distance to the closest real test digit
        return torch.cdist(images.flatten(1), real).min(1).values.pow(2).div(784).median().item()

    # Codes drawn from the prior decode to digit-like images, far closer to real digits than noise is
    # (measured 0.035 against 0.29), and to varied ones: a decoder that drew the mean digit every time
    # would be as close (0.039) but have no spread (measured: 0.09 per pixel, real digits 0.20).
    assert samples.shape == (64, 1, 28, 28)
    assert nearest(samples) < nearest(noise) / 4, (nearest(samples), nearest(noise))
    assert samples.flatten(1).std(0).mean() > real.std(0).mean() / 3


@pytest.mark.slow
def test_denoising_and_conv_models_train(digits):
    for config in (autoencoder.AutoencoderConfig(model="conv", latent=8, steps=150),
                   autoencoder.AutoencoderConfig(model="mlp", latent=16, noise=0.4, steps=300)):
        steps = list(autoencoder.train(config, digits))
        assert steps[-1].metrics["test_mse"] < steps[0].metrics["test_mse"]
        assert steps[-1].extras["outputs"].shape == (config.grid, 1, 28, 28)


def _seven(mode: str) -> bytes:
    canvas = Image.new("L", (120, 160), 255)
    ImageDraw.Draw(canvas).line([(25, 30), (95, 30), (50, 140)], fill=0, width=12)
    if mode == "RGBA":
        image = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
        image.paste((20, 20, 20, 255), mask=canvas.point(lambda v: 255 - v))   # ink only, transparent paper
    elif mode == "P":
        image = canvas.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    else:   # 16-bit greyscale
        image = Image.fromarray(np.asarray(canvas, dtype=np.uint16) * 257)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("mode", ["RGBA", "P", "I;16"])
def test_uploads_become_mnist_like_digits(mode, digits):
    digit = images.to_digit(images.load_image(_seven(mode)).image).tensor
    assert digit.shape == (1, 28, 28)
    assert digit[0, :3].max() < 0.05 and digit[0, :, :3].max() < 0.05   # dark border, like MNIST
    assert 0.05 < digit.mean() < 0.3 and digit.max() > 0.9               # a bright stroke
    rows, cols = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    centre = ((rows * digit[0]).sum() / digit.sum(), (cols * digit[0]).sum() / digit.sum())
    assert abs(centre[0] - 13.5) <= 1 and abs(centre[1] - 13.5) <= 1     # centred by mass
    sevens = digits.train_x[digits.train_y == 7].mean(0)
    others = digits.train_x[digits.train_y == 0].mean(0)
    assert (digit - sevens).pow(2).mean() < (digit - others).pow(2).mean()   # looks like a 7


@pytest.mark.parametrize(("latent", "kind"), [(1, "z"), (2, "z"), (3, "z"), (8, "pc")])
def test_plotted_axes_name_what_latent_points_returns(digits, latent, kind):
    config = autoencoder.AutoencoderConfig(model="mlp", latent=latent)
    model = build(lambda: autoencoder.Autoencoder(config), torch.Generator().manual_seed(0))
    codes = autoencoder.encode(model, digits.test_x[:300])
    points = autoencoder.latent_points(model, digits.test_x[:300])
    axes = autoencoder.plotted_axes(latent)
    assert axes == [(kind, i + 1) for i in range(points.shape[1])]
    if kind == "z":
        assert torch.equal(points, codes)                                   # raw coordinates z1..zk
    else:                                                                   # principal components, by variance
        centred = codes.double() - codes.double().mean(0)
        top = torch.linalg.eigh(centred.T @ centred).eigenvalues.flip(0)[:3]
        assert torch.allclose((points.double() ** 2).sum(0), top, rtol=1e-3)
        assert not torch.allclose(points, codes[:, :3], atol=1e-3)


SMALL = autoencoder.AutoencoderConfig(model="mlp", latent=4, hidden=64, variational=True, noise=0.2, steps=20)


def test_the_vae_samples_its_code_only_from_the_generator_it_is_given(digits):
    config = dataclasses.replace(SMALL, noise=0.0)
    model = build(lambda: autoencoder.Autoencoder(config), torch.Generator().manual_seed(0)).train()
    x = digits.test_x[:16]
    first, mean, _ = model(x, torch.Generator().manual_seed(5))
    again, _, _ = model(x, torch.Generator().manual_seed(5))
    other, _, _ = model(x, torch.Generator().manual_seed(6))
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert torch.equal(model(x)[0], model.decoder(mean))       # no generator: the mean, never the global one


def test_the_run_trains_on_the_device_pick_device_chooses(digits, picked_device):
    asked = picked_device                # engine.device.pick_device, spied: returns the CPU
    first = next(autoencoder.train(SMALL, digits))
    assert asked, "the run did not ask engine.device.pick_device for its device"
    assert first.extras["device"] == "cpu"
    assert {p.device for p in first.extras["model"].parameters()} == {torch.device("cpu")}


def test_an_early_report_holds_the_model_as_it_is_then(digits):
    """A run paused or stopped at step k < total is usable in the labs: the report carries the
    model in the state its test error was measured in, and closing the run keeps it."""
    config = dataclasses.replace(SMALL, variational=False, noise=0.0, steps=50)
    run = autoencoder.train(config, digits)
    first = next(run)
    assert first.step < first.total
    model = first.extras["model"]
    assert autoencoder.evaluate(model, digits.test_x) == pytest.approx(first.metrics["test_mse"])
    run.close()                                               # Stop: the generator ends at its yield
    codes = autoencoder.encode(model, digits.test_x[:10])
    assert codes.shape == (10, 4)
    assert autoencoder.interpolate(model, digits.test_x[0], digits.test_x[1], 5).shape == (5, 1, 28, 28)
