"""Adversarial engine: the attacks are exactly what the page says, and adversarial training works."""

import pytest
import torch
import torch.nn.functional as F

from engine import adversarial, data


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


@pytest.fixture(scope="module")
def trained(digits):
    *_, last = adversarial.train(adversarial.AdversarialConfig(), digits)
    return last.extras["models"]


def test_fgsm_is_epsilon_times_the_gradient_sign():
    torch.manual_seed(0)
    model = adversarial.SmallCNN().eval()
    x = torch.rand(8, 1, 28, 28) * 0.6 + 0.2          # away from 0 and 1, so nothing is clipped
    labels = torch.randint(10, (8,))
    x_grad = x.clone().requires_grad_(True)
    F.cross_entropy(model(x_grad), labels).backward()
    expected = x + 0.1 * x_grad.grad.sign()
    assert torch.allclose(adversarial.fgsm(model, x, labels, 0.1), expected, atol=1e-6)


def test_pgd_stays_in_the_ball_and_the_box(trained, digits):
    x, labels = digits.test_x[:64], digits.test_y[:64]
    for epsilon in (0.05, 0.3):
        attacked = adversarial.pgd(trained["standard"], x, labels, epsilon, steps=7, step_size=0.2,
                                   generator=torch.Generator().manual_seed(0))
        assert (attacked - x).abs().max() <= epsilon + 1e-6
        assert attacked.min() >= 0 and attacked.max() <= 1
    pgd_accuracy = adversarial.accuracy(trained["standard"], adversarial.pgd(
        trained["standard"], x, labels, 0.2, steps=20, generator=torch.Generator().manual_seed(0)), labels)
    fgsm_accuracy = adversarial.accuracy(trained["standard"], adversarial.fgsm(trained["standard"], x, labels, 0.2),
                                         labels)
    assert pgd_accuracy <= fgsm_accuracy                   # the iterative attack is at least as strong


def test_targeted_attack_raises_the_target_probability(trained, digits):
    """Aim each of 20 test digits at its runner-up class: the target's probability must rise for every
    one, and most must end up classified as the target."""
    model, hits = trained["standard"], 0
    for index in range(20):
        image, label = digits.test_x[index], int(digits.test_y[index])
        with torch.no_grad():
            target = int(model(image[None])[0].topk(2).indices[1])
        result = adversarial.attack_one(model, image, label, 0.25, "pgd", steps=30, target=target)
        assert result.adversarial_probabilities[target] > result.original_probabilities[target]
        assert result.perturbation.abs().max() <= 0.25 + 1e-6
        probabilities = result.adversarial_probabilities
        hits += probabilities.index(max(probabilities)) == target
    assert hits >= 12


def test_adversarial_training_buys_robustness_at_little_clean_cost(trained, digits):
    standard = adversarial.accuracy_under_attack(trained["standard"], digits.test_x, digits.test_y, (0.0, 0.25))
    robust = adversarial.accuracy_under_attack(trained["robust"], digits.test_x, digits.test_y, (0.0, 0.25))
    assert standard[1] <= standard[0] / 2                  # FGSM at 0.25 halves the standard model's accuracy
    assert robust[1] >= 2 * standard[1]                    # the adversarially trained one keeps twice as much
    assert robust[0] >= 0.90 and standard[0] >= 0.90       # and both still read clean digits


def test_gallery_lists_only_digits_fooled_by_the_attack(trained, digits):
    x, labels = digits.test_x[:200], digits.test_y[:200]
    wrong = adversarial.fooled(trained["standard"], x, labels, 0.25)
    assert len(wrong) > 0
    with torch.no_grad():
        assert (trained["standard"](x[wrong]).argmax(1) == labels[wrong]).all()
    attacked = adversarial.fgsm(trained["standard"], x[wrong], labels[wrong], 0.25)
    with torch.no_grad():
        assert (trained["standard"](attacked).argmax(1) != labels[wrong]).all()
