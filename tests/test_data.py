"""The bundled digits: both splits are fair samples from their first rows on."""

import torch

from engine.data import load_digits


def test_every_prefix_of_either_split_is_a_fair_sample():
    split = load_digits()
    for labels, per_class in ((split.train_y, 400), (split.test_y, 100)):
        assert torch.bincount(labels, minlength=10).tolist() == [per_class] * 10
        counts = torch.zeros(10, dtype=torch.int64)
        for n, label in enumerate(labels.tolist(), start=1):
            counts[label] += 1
            if n >= 100:
                assert (counts > 0).all(), f"the first {n} digits miss a class"
            if n == 500:
                assert counts.min() >= 40 and counts.max() <= 60, counts.tolist()


def test_train_and_test_hold_different_images():
    split = load_digits()
    train = {bytes(image.numpy()) for image in (split.train_x * 255).to(torch.uint8)}
    assert not any(bytes(image.numpy()) in train for image in (split.test_x * 255).to(torch.uint8))
