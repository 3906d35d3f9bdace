"""Page 65's settings: a standard and an adversarially trained model on the same digits (one
experiment, `adversarial_train`), and the attack lab's PGD iterations, declared for their hosted cap."""

from typing import Any

from engine import adversarial
from ui.settings import Experiment, Setting, dataset


def build(s: dict[str, Any]) -> tuple[adversarial.AdversarialConfig, str]:
    """The config and, as the run's data key, the dataset the run trains on (the page records the
    source it really loaded: the bundled subset when a download failed)."""
    return adversarial.AdversarialConfig(defence=s["defence"], epsilon=s["epsilon"], adversarial_share=s["share"],
                                         steps=s["steps"]), s["dataset"]


TRAIN = Experiment("adversarial_train", "adversarial", (
    # drawn by ui.data_widgets.dataset_ui (which offers only the subset when hosted); the page records its source
    dataset(),
    Setting("epsilon", "slider", 0.25, 0.05, 0.35, 0.05),
    Setting("steps", "slider", adversarial.AdversarialConfig.steps, 50, 2000, 50, cap=800),
    Setting("defence", "radio", "fgsm_rs", options=("fgsm_rs", "pgd"), choices="adversarial.defence_"),
    Setting("share", "slider", 0.5, 0.0, 1.0, 0.1),
), build)

# The attack lab's PGD iterations attack the trained models, so they are no setting of the run; they
# are declared for their range and their hosted cap (each iteration is a forward and backward pass).
ATTACK_STEPS = Setting("pgd_steps", "slider", 10, 1, 50, cap=20)

EXPERIMENTS = (TRAIN,)
LAB = (ATTACK_STEPS,)
