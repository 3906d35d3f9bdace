"""UNet engine: exact generated masks, shapes for odd sizes, the skip-connection gap, and denoising."""

from dataclasses import replace

import pytest
import torch

from engine import images, unet


def test_generated_masks_match_the_drawn_shapes_exactly():
    config = unet.ShapesConfig(noise=0.0, blur=0.0, texture=0.0, objects=5, seed=3)
    shapes = unet.make_shapes(config, 16)
    side = config.size
    assert shapes.images.shape == (16, 1, side, side) and shapes.masks.shape == (16, side, side)
    for image, mask in zip(shapes.images[:, 0], shapes.masks, strict=True):
        background = image[mask == 0]
        assert background.numel() and (background == background[0]).all()     # one flat background
        foreground = mask > 0
        # Every labelled pixel differs from the background, and the label regions are the only
        # places that do: the mask is exactly what was drawn.
        assert ((image != background[0]) == foreground).all()
    assert set(shapes.masks.unique().tolist()) == {0, 1, 2, 3}
    again = unet.make_shapes(config, 16)
    assert torch.equal(again.masks, shapes.masks)                               # deterministic


@pytest.mark.parametrize(("height", "width"), [(64, 64), (37, 51), (29, 100)])
@pytest.mark.parametrize("skips", [True, False])
def test_output_has_the_input_size_for_odd_shapes(height, width, skips):
    model = unet.UNet(depth=3, base=4, skips=skips, upsampling="bilinear" if skips else "transpose").eval()
    with torch.no_grad():
        assert model(torch.rand(2, 1, height, width)).shape == (2, len(unet.CLASSES), height, width)
    maps = unet.feature_maps(model, torch.rand(1, height, width))
    assert list(maps) == ["encoder 1", "encoder 2", "encoder 3", "bottleneck", "decoder 3", "decoder 2", "decoder 1"]


def test_dice_and_iou_against_hand_counts():
    truth = torch.zeros(1, 4, 4, dtype=torch.int64)
    truth[0, :2, :2] = 1                                    # 4 pixels of class 1
    predicted = torch.zeros(1, 4, 4, dtype=torch.int64)
    predicted[0, :2, :3] = 1                                # 6 pixels, 4 of them right
    result = unet.scores(predicted, truth)
    assert result["dice"] == pytest.approx(2 * 4 / (6 + 4)) and result["iou"] == pytest.approx(4 / 6)
    perfect = torch.nn.functional.one_hot(truth, 4).permute(0, 3, 1, 2).float() * 50
    assert unet.dice_loss(perfect, truth).item() < 1e-3


@pytest.mark.slow
def test_default_training_segments_well():
    """That the skips matter is the skips card's claim, tested on three seeds with its margin
    (tests/test_claims.py)."""
    *_, last = unet.train(unet.SegmentationConfig())
    assert last.metrics["dice"] >= 0.87     # 48 px: the shapes' edges are a larger share of their pixels than at 64
    assert last.extras["predicted"].shape == (4, unet.ShapesConfig.size, unet.ShapesConfig.size)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["astronaut", "coffee"])
def test_denoiser_gains_at_least_3_db_on_sample_photos(name):
    clean = images.to_tensor(images.fit_within(images.load_sample(name), 256))
    *_, last = unet.denoise(unet.DenoiseConfig(), clean)
    assert last.metrics["denoised_psnr"] >= last.metrics["noisy_psnr"] + 3
    assert last.extras["denoised"].shape == clean.shape


def test_skip_partner_changes_the_skips_and_nothing_else():
    config = unet.SegmentationConfig(depth=2, steps=60, loss="dice", shapes=unet.ShapesConfig(objects=2))
    partner = unet.skip_partner(config)
    assert partner.skips is not config.skips and unet.skip_partner(partner) == config
    assert unet.skip_partner(unet.SegmentationConfig(depth=3)) != partner      # another depth is another run


def test_transposed_convolution_tiles_without_overlap():
    """Odena et al.'s checkerboard comes from uneven overlap (kernel not a multiple of the stride). The
    engine's 2x2 stride-2 kernels cover every output pixel exactly once; a 3x3 stride-2 kernel does not."""
    model = unet.UNet(depth=2, base=4, upsampling="transpose")
    ones = torch.ones(1, 1, 6, 6)
    for layer in model.up:
        assert layer.kernel_size == layer.stride == (2, 2)
        coverage = torch.nn.functional.conv_transpose2d(ones, torch.ones(1, 1, *layer.kernel_size),
                                                        stride=layer.stride)
        assert (coverage == 1).all()                                        # each output pixel: one tap
    uneven = torch.nn.functional.conv_transpose2d(ones, torch.ones(1, 1, 3, 3), stride=2)
    assert set(uneven[0, 0, 1:-1, 1:-1].unique().tolist()) == {1.0, 2.0, 4.0}    # the checkerboard


def test_denoiser_trains_on_the_clipped_noise_it_is_scored_on(monkeypatch):
    seen = []

    class Recording(unet.UNet):
        def forward(self, x, features=None):
            if self.training:
                seen.append((x.min().item(), x.max().item()))
            return super().forward(x, features)

    monkeypatch.setattr(unet, "UNet", Recording)
    clean = torch.full((1, 24, 24), 0.97)
    clean[:, :, :12] = 0.03                               # near both ends: unclipped noise would leave [0, 1]
    *_, last = unet.denoise(unet.DenoiseConfig(sigma=0.3, steps=4, patch=16, batch_size=4), clean)
    assert len(seen) == 4 and all(low >= 0 and high <= 1 for low, high in seen)
    noisy = last.extras["noisy"]
    assert noisy.min() >= 0 and noisy.max() <= 1 and (noisy == 0).any() and (noisy == 1).any()


TINY = unet.SegmentationConfig(shapes=unet.ShapesConfig(size=32, objects=2), depth=2, base=4, steps=6,
                               batch_size=4, train_images=16, val_images=4, shown=2)


def test_the_run_owned_initialisation_is_pytorchs_own():
    """Figures measured when the engine seeded torch globally stay valid: the same weights."""
    for settings in ({"depth": 2, "base": 4}, {"depth": 3, "upsampling": "bilinear", "skips": False},
                     {"in_channels": 3, "out_channels": 3, "depth": 2, "base": 16}):
        torch.manual_seed(7)
        reference = unet.UNet(**settings)
        built = unet.build_unet(torch.Generator().manual_seed(7), **settings)
        assert all(torch.equal(a, b) for a, b in zip(reference.state_dict().values(),
                                                     built.state_dict().values(), strict=True)), settings


def test_both_experiments_train_on_the_run_device(picked_device):
    picked = picked_device               # engine.device.pick_device, spied: returns the CPU
    *_, last = unet.train(TINY)
    assert picked and last.extras["device"] == "cpu"
    assert all(p.device.type == "cpu" for p in last.extras["model"]["unet"].parameters())
    picked.clear()
    *_, last = unet.denoise(unet.DenoiseConfig(steps=2, patch=16, batch_size=2, depth=1, base=4), torch.rand(1, 20, 20))
    assert picked and last.extras["device"] == "cpu"
    assert all(p.device.type == "cpu" for p in last.extras["model"].parameters())


def test_an_early_report_holds_a_usable_model_and_training_goes_on_after_a_lab():
    run = unet.train(replace(TINY, steps=8))
    first = next(run)                                   # step 1 of 8: what a Pause or Stop keeps
    assert first.step < first.total
    model, validation = first.extras["model"]["unet"], first.extras["model"]["validation"]
    maps = unet.feature_maps(model, validation.images[0])                   # the lab, while paused
    assert maps["encoder 1"].shape == (4, 32, 32)                            # base 4: four channels
    assert unet.predict(model, validation.images).shape == validation.masks.shape
    assert model.training                              # the lab leaves the mode as it found it
    rest = list(run)
    assert rest[-1].finished and rest[-1].extras["model"]["unet"] is model
    stopped = unet.denoise(unet.DenoiseConfig(steps=6, patch=16, batch_size=2, depth=1, base=4), torch.rand(1, 20, 20))
    early = next(stopped)
    stopped.close()                                    # Stop: the generator closes at its yield
    assert early.step < early.total and early.extras["denoised"].shape == (1, 20, 20)
