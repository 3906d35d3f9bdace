"""The shared engine pieces: device choice, the throttled step protocol, in-memory data."""

import time
import urllib.error

import pytest
import torch

from engine import data, device
from engine.errors import InputError
from engine.training import Throttle, TrainingStep


def test_device_override_and_threads(monkeypatch):
    monkeypatch.setenv(device.DEVICE_ENV, "cpu")
    assert device.pick_device() == torch.device("cpu")
    monkeypatch.setenv(device.THREADS_ENV, "1")
    previous = torch.get_num_threads()
    try:
        assert device.set_cpu_threads() == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(previous)
    monkeypatch.delenv(device.THREADS_ENV)
    monkeypatch.setenv(device.RESERVE_ENV, "1")                 # the app keeps a core for its UI
    monkeypatch.setattr(device, "usable_cores", lambda: 4)
    try:
        assert device.set_cpu_threads(small_ops=True) == 3
        assert device.set_cpu_threads() == 4                    # large kernels use every core
        monkeypatch.setattr(device, "usable_cores", lambda: 1)
        assert device.set_cpu_threads(small_ops=True) == 1      # never fewer than one thread
    finally:
        torch.set_num_threads(previous)
    info = device.describe(torch.device("cpu"))
    assert info.kind == "cpu" and info.threads >= 1 and info.name


def _slow_training(throttle: Throttle, steps: int, step_seconds: float, report_seconds: float = 0.0):
    for step in range(steps):
        time.sleep(step_seconds)
        if throttle.due(step):
            time.sleep(report_seconds)    # scoring held-out data for the report
            with throttle.reporting():
                yield TrainingStep(step + 1, steps, {"loss": 1.0 / (step + 1)})


def test_throttle_keeps_reporting_a_small_share_of_training():
    report_seconds, steps = 0.02, 150
    throttle = Throttle(steps, max_share=0.1)
    reports = []
    for step in _slow_training(throttle, steps, step_seconds=0.002, report_seconds=report_seconds):
        reports.append(step)
    assert reports[0].step == 1 and reports[-1].finished and reports[-1].fraction_done == 1.0
    assert 2 < len(reports) < steps / 5
    # Apart from the forced first and last reports, reporting stays within 10 % of training time.
    assert throttle.drawing_seconds - 2 * report_seconds <= 0.1 * throttle.training_seconds + report_seconds
    assert throttle.drawing_seconds >= len(reports) * report_seconds


def test_a_paused_consumer_counts_as_neither_training_nor_reporting():
    throttle = Throttle(10, min_interval=0.0)
    run = _slow_training(throttle, 10, 0.0)
    next(run)
    time.sleep(0.3)                        # the learner pressed Pause with the run at its first report
    *_, last = run
    assert throttle.training_seconds < 0.1 and throttle.drawing_seconds < 0.1 and last.finished


def test_caller_stops_early_by_not_asking():
    throttle = Throttle(1000, min_interval=0.0)
    run = _slow_training(throttle, 1000, 0.0)
    first = next(run)
    run.close()
    assert first.step == 1 and throttle.reports == 1


def test_minibatches_cover_every_item_once_per_epoch():
    generator = torch.Generator().manual_seed(0)
    stream = data.minibatches(10, 3, generator)
    epoch = torch.cat([next(stream) for _ in range(3)])       # 3 full batches, last partial dropped
    assert len(epoch) == 9 and len(set(epoch.tolist())) == 9
    assert len(next(data.minibatches(2, 8, generator))) == 2  # smaller than a batch: one short batch


def test_bundled_digits_are_real_balanced_mnist():
    split = data.load_digits()
    assert split.train_x.shape == (4000, 1, 28, 28) and split.test_x.shape == (1000, 1, 28, 28)
    assert split.train_x.dtype == torch.float32 and split.train_x.min() >= 0.0 and split.train_x.max() <= 1.0
    assert torch.bincount(split.train_y).tolist() == [400] * 10
    assert torch.bincount(split.test_y).tolist() == [100] * 10
    # Real digits, not noise: dark borders, and a nearest-class-mean classifier, which scores
    # about 80 % on MNIST, works on the held-out split.
    assert split.train_x[:, :, :2, :].mean() < 0.01 < split.train_x[:, :, 10:18, 10:18].mean()
    centroids = torch.stack([split.train_x[split.train_y == k].mean(0).flatten() for k in range(10)])
    predicted = torch.cdist(split.test_x.flatten(1), centroids).argmin(1)
    assert (predicted == split.test_y).float().mean() > 0.75


def test_download_offline_gives_a_clear_error(monkeypatch, tmp_path):
    from torchvision import datasets

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(datasets, "MNIST", offline)
    with pytest.raises(InputError) as error:
        data.download_dataset("MNIST", tmp_path)
    assert error.value.key == "download_failed" and "no network" in error.value.params["reason"]
    with pytest.raises(InputError, match="unknown_dataset"):
        data.download_dataset("CIFAR10", tmp_path)
    fallback, error = data.load_dataset("MNIST", tmp_path)        # what a page uses: subset + reason
    assert fallback.source == "subset" and len(fallback.train_x) == 4000 and error.key == "download_failed"
    assert data.load_dataset("subset", tmp_path)[1] is None


def test_fingerprint_sees_any_change_to_a_shared_object():
    from torch import nn

    from engine.fingerprint import fingerprint

    data = {"x": torch.arange(12.0).reshape(3, 4), "labels": torch.tensor([1, 2, 3]), "name": "subset"}
    model = nn.Linear(4, 2)
    before = fingerprint((data, model))
    assert fingerprint(({k: v.clone() if hasattr(v, "clone") else v for k, v in data.items()}, model)) == before
    data["x"][1, 2] += 1e-6                                          # one element, in place
    assert fingerprint((data, model)) != before
    data["x"][1, 2] -= 1e-6
    assert fingerprint((data, model)) == before
    with torch.no_grad():
        model.bias[0] = 5.0
    assert fingerprint((data, model)) != before
    assert fingerprint(torch.zeros(2, dtype=torch.bfloat16)) != fingerprint(torch.ones(2, dtype=torch.bfloat16))


def test_fingerprint_sees_a_stateless_layer_swapped_in_place():
    from torch import nn

    from engine.fingerprint import fingerprint

    network = nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2))
    before = fingerprint(network)
    network[1] = nn.AvgPool2d(2)                                     # no parameters, no buffers: only its type
    assert fingerprint(network) != before


def _assorted() -> torch.nn.Module:
    from torch import nn

    return nn.Sequential(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8), nn.ConvTranspose2d(8, 4, 2, 2), nn.Flatten(),
                         nn.LSTM(4, 6, 2), nn.Linear(4, 3), nn.Embedding(5, 2), nn.LayerNorm(3))


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_run_owned_initialisation_equals_pytorchs_own(seed):
    """rng.build draws what PyTorch's reset_parameters draws, from the run's generator only."""
    from engine import rng

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        reference = _assorted()
    state = torch.random.get_rng_state()
    built = rng.build(_assorted, torch.Generator().manual_seed(seed))
    assert torch.equal(torch.random.get_rng_state(), state)          # the global generator is untouched
    for (name, expected), actual in zip(reference.state_dict().items(), built.state_dict().values(), strict=True):
        assert torch.equal(expected, actual), name


def test_a_module_with_parameters_of_its_own_must_say_how_to_initialise_them():
    from torch import nn

    from engine import rng

    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.gain = nn.Parameter(torch.ones(3))

    with pytest.raises(TypeError, match="Scale"):
        rng.build(Scale, torch.Generator().manual_seed(0))


def test_no_engine_changes_process_wide_state():
    """Runs share one process: no engine seeds a global generator, draws from one, or sets the
    thread count (the distributed worker is a process of its own and may set its threads)."""
    import re
    from pathlib import Path

    forbidden = re.compile(r"torch\.manual_seed\(|torch\.set_num_threads\(|random\.seed\(|np\.random\.seed\("
                           r"|set_cpu_threads\(|configure_threads\(|torch\.randn_like\(|torch\.rand_like\("
                           r"|F\.dropout\(|nn\.Dropout\(")
    for path in sorted((Path(__file__).resolve().parents[1] / "engine").glob("*.py")):
        if path.name in ("device.py", "distributed_worker.py"):
            continue
        found = [m.group(0) for m in forbidden.finditer(_code_only(path))]
        assert not found, (path.name, found)


def _code_only(path) -> str:
    """The file's code without its comments and strings (docstrings may name what they avoid)."""
    import io
    import tokenize

    tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    return "".join(t.string for t in tokens if t.type not in (tokenize.COMMENT, tokenize.STRING))
