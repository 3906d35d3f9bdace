"""Page 68's engine: number formats from torch.finfo, exact bit round trips, underflow, the training race."""

import copy
import math
import random

import pytest
import torch

from engine import data
from engine import half_precision as hp
from engine.data import minibatches
from engine.rng import build


@pytest.mark.parametrize("name", list(hp.DTYPES))
def test_every_bit_pattern_round_trips(name):
    width = torch.finfo(hp.DTYPES[name]).bits
    rng = random.Random(0)
    patterns = [format(rng.getrandbits(width), f"0{width}b") for _ in range(2000)]
    if width == 16:
        patterns = [format(i, "016b") for i in range(0, 1 << 16, 7)]        # a wide sweep of all 65,536
    for bits in patterns:
        value = hp.decode(bits, name)
        if math.isnan(value):
            continue
        assert hp.encode(value, name).bits == bits
        assert hp.encode(value, name).stored == value


def test_fp32_bits_agree_with_python_struct_and_rounding_is_reported():
    for value in (0.1, -2.5, 1e-40, 3.0e38, 1 / 3):
        assert hp.encode(value, "fp32").bits == hp.float32_bits(value)
    assert hp.encode(70000.0, "fp16").kind == "overflow"                    # above 65504
    assert hp.encode(1e-9, "fp16").kind == "zero" and hp.encode(1e-9, "bf16").kind == "normal"
    assert hp.encode(6e-8, "fp16").kind == "subnormal"
    assert hp.encode(0.1, "bf16").relative_error > hp.encode(0.1, "fp16").relative_error
    assert hp.spacing(1.0, "fp16") == hp.facts("fp16").epsilon and hp.spacing(1024.0, "fp16") == 1.0


def test_small_gradients_vanish_in_fp16_and_come_back_with_loss_scaling():
    grads = hp.underflow_demo()
    assert (grads["fp32"] > 0).all() and (grads["fp16"] == 0).all()
    assert torch.allclose(grads["fp16_scaled"], grads["fp32"], rtol=1e-2)


def test_accumulating_in_fp16_stalls_where_an_fp32_accumulator_does_not():
    naive, wide = hp.accumulate(5000, 0.01, "fp16")
    assert abs(wide - 50) < 0.1 and naive < 40        # once the sum reaches 32, adding 0.01 rounds away


@pytest.mark.parametrize("name", list(hp.FACT_DTYPES))
def test_the_page_table_equals_torch_finfo_for_every_format(name):
    info, facts = torch.finfo(hp.FACT_DTYPES[name]), hp.format_facts(name)
    assert (facts.largest, facts.smallest_normal, facts.epsilon) == (info.max, info.smallest_normal, info.eps)
    assert facts.sign_bits + facts.exponent_bits + facts.mantissa_bits == info.bits
    assert facts.epsilon == 2.0 ** -facts.mantissa_bits
    smallest = torch.tensor(facts.smallest_subnormal).to(hp.FACT_DTYPES[name])
    assert smallest.float().item() == facts.smallest_subnormal                   # representable
    assert torch.tensor(facts.smallest_subnormal / 4).to(hp.FACT_DTYPES[name]).float().item() == 0.0
    if name in hp.DTYPES:                                   # the bit lab's formats: arithmetic underflows too
        assert (smallest / 2).item() == 0.0 and hp.facts(name) == facts


def test_overflow_and_underflow_examples_are_computed_by_torch():
    rows = dict(hp.examples())
    assert rows["300 × 300"]["fp16"] == math.inf and rows["300 × 300"]["fp32"] == 90000.0
    assert rows["1e-8"]["fp16"] == 0.0 and rows["1e-8"]["bf16"] > 0.0
    assert rows["2048 + 1"]["fp16"] == 2048.0                                  # spacing 2 above 2048
    assert rows["1 + 1e-3"]["bf16"] == 1.0                                     # below bf16's epsilon / 2


def test_every_mode_runs_on_the_cpu_and_the_notes_are_right():
    checks = hp.availability("cpu", bf16_fast_cpu=False)
    assert all(check.runs for check in checks.values())                          # recent PyTorch: all on CPU
    assert checks["bf16"].note == "cpu_bf16_slow" and checks["fp16_scaler"].note == "cpu_fp16_slow"
    assert checks["fp16_naive"].note == "naive" and checks["fp32"].note == "ok"
    assert hp.availability("cpu", bf16_fast_cpu=True)["bf16"].note == "cpu_bf16_fast"


def test_mode_notes_for_cuda_and_refused_modes():
    assert hp.mode_note("cuda", "fp16_scaler", True) == "cuda_tensor_cores"
    assert hp.mode_note("cuda", "bf16", False) == "cuda_bf16_unavailable"         # pre-Ampere GPUs
    assert hp.mode_note("cuda", "fp32", True) == "ok"
    assert hp.mode_note("cpu", "fp16_scaler", False) == "unavailable"
    assert hp.mode_note("mps", "fp16_naive", False) == "unavailable"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (CI is CPU-only)")
def test_cuda_modes_match_the_hardware():
    checks = hp.availability("cuda")
    assert checks["fp32"].runs and checks["fp16_scaler"].runs and checks["fp16_autocast"].runs
    assert checks["bf16"].runs == torch.cuda.is_bf16_supported()


@pytest.fixture(scope="module")
def default_race():
    *_, last = hp.train_race(hp.RaceConfig(), data.load_digits())
    return last


@pytest.mark.slow
def test_low_precision_modes_reach_fp32_accuracy_and_pure_fp16_fails(default_race):
    metrics = default_race.metrics
    assert metrics["fp32/accuracy"] > 0.9
    for mode in ("bf16", "fp16_scaler"):
        assert abs(metrics[f"{mode}/accuracy"] - metrics["fp32/accuracy"]) <= 0.02
    assert math.isnan(metrics["fp16_naive/loss"]) and metrics["fp16_naive/accuracy"] < 0.2


@pytest.mark.slow
def test_race_reports_time_memory_and_scale(default_race):
    extras = default_race.extras
    assert set(extras["seconds_per_step"]) == set(hp.RaceConfig().modes)
    assert all(seconds > 0 for seconds in extras["seconds_per_step"].values())
    memory = extras["memory"]
    assert memory["fp16_naive"] < 0.6 * memory["fp32"]                          # every tensor half the bytes
    assert memory["bf16"] < memory["fp32"]                                      # 16-bit activations saved
    assert extras["history"]["scale/fp16_scaler"][0] == 2.0**16 and extras["skipped"]["fp16_scaler"] >= 0
    assert len(extras["gradients"]) > 1000 and all(v < 0 for v in extras["gradients"])


@pytest.mark.slow
def test_tiny_gradients_vanish_without_a_scaler_and_come_back_with_one():
    config = hp.RaceConfig(modes=("fp32", "fp16_scaler", "fp16_autocast"), loss_factor=2.0**-20, steps=60)
    *_, last = hp.train_race(config, data.load_digits())
    assert last.extras["zero_gradients"]["fp16_autocast"] == 1.0                # every gradient underflowed
    assert last.extras["zero_gradients"]["fp16_scaler"] < 0.5
    assert last.metrics["fp16_autocast/accuracy"] < 0.2
    assert last.metrics["fp16_scaler/accuracy"] > 0.3
    assert abs(last.metrics["fp16_scaler/accuracy"] - last.metrics["fp32/accuracy"]) < 0.05
    below, _ = last.extras["fp16_shares"]
    assert below > 0.9


def test_training_bytes_counts_saved_activations():
    model = hp.DigitMLP(64)
    optimizer = torch.optim.Adam(model.parameters())
    x, labels = torch.rand(32, 1, 28, 28), torch.zeros(32, dtype=torch.long)
    measured = hp.training_bytes("fp32", model, optimizer, x, labels)
    assert measured["weights"] == 4 * sum(p.numel() for p in model.parameters())
    assert measured["optimizer"] == 0                                            # Adam's state comes with step 1
    # Saved for backward: the flattened input (32 x 784), the two hidden pre/post activations
    # (4 x 32 x 64) and the logits' softmax for cross-entropy (32 x 10), all fp32 — at least these.
    assert measured["activations"] >= 4 * (32 * 784 + 2 * 32 * 64)


@pytest.mark.parametrize("mode", ["fp32", "fp16_naive"])
def test_weights_saved_for_backward_are_not_counted_twice(mode):
    """Autograd saves the hidden layers' weights themselves (not copies) in fp32 and pure fp16: they are
    already counted as weights. One digit, 256 hidden units: the activations are a few kB, the
    256 x 256 and 256 x 10 weights it would add 270 kB (fp32)."""
    model = hp.DigitMLP(256)
    if mode == "fp16_naive":
        model = model.half()
    measured = hp.training_bytes(mode, model, torch.optim.Adam(model.parameters()), torch.rand(1, 1, 28, 28),
                                 torch.zeros(1, dtype=torch.long))
    assert measured["activations"] < 4 * (784 + 2 * 256 + 10) + 1024
    # Under autocast the saved 16-bit copies of the weights are new tensors: they do count.
    autocast = hp.training_bytes("bf16", hp.DigitMLP(256), torch.optim.Adam(model.parameters()),
                                 torch.rand(1, 1, 28, 28), torch.zeros(1, dtype=torch.long))
    assert autocast["activations"] > 2 * (256 * 256 + 256 * 10)


@pytest.mark.slow
def test_speed_run_reports_each_format_as_it_is_timed():
    steps = list(hp.speed_run(hp.SpeedConfig(size=128, repeats=2, device="cpu")))
    assert [len(step.extras["results"]) for step in steps] == [1, 2, 3] and steps[-1].finished
    results = steps[-1].extras["results"]
    assert [r.name for r in results] == ["fp32", "bf16", "fp16"] and steps[-1].extras["device"] == "cpu"
    assert results[0].matmul_speedup == 1.0 and all(r.matmul_gflops > 0 and r.conv_ms > 0 for r in results)
    fp32, bf16 = results[0], results[1]
    assert bf16.matmul_speedup == pytest.approx(bf16.matmul_gflops / fp32.matmul_gflops)


@pytest.mark.parametrize("value", [65520.0, 70000.0, -1e5])
def test_a_value_that_overflows_is_reported_as_overflow_not_as_exact(value):
    assert torch.tensor(value, dtype=torch.float64).to(torch.float16).isinf()      # torch: fp16 overflows here
    encoding = hp.encode(value, "fp16")
    assert encoding.kind == "overflow" and math.isinf(encoding.stored) and encoding.relative_error == math.inf
    assert hp.encode(value, "fp32").kind == "normal" and hp.encode(value, "bf16").kind == "normal"


def test_exact_values_infinity_and_nan_are_not_overflow():
    assert hp.encode(65504.0, "fp16").kind == "normal" and hp.encode(65504.0, "fp16").relative_error == 0.0
    assert hp.encode(65519.0, "fp16").stored == 65504.0                          # rounds down, below the midpoint
    assert hp.encode(math.inf, "fp16").kind == "infinity" and hp.encode(math.inf, "fp16").relative_error == 0.0
    assert hp.encode(math.nan, "bf16").kind == "nan" and math.isnan(hp.encode(math.nan, "bf16").relative_error)


def test_bf16_swamps_small_updates_so_it_needs_fp32_master_weights():
    assert hp.spacing(1.0, "bf16") == 2.0**-7 and hp.spacing(1.0, "fp16") == 2.0**-10
    row = dict(hp.examples())["1 + 2⁻⁹"]
    assert row["bf16"] == 1.0 and row["fp16"] == row["fp32"] == 1.0 + 2.0**-9
    # The page's claim, with torch's own Adam: a weight near 1 stored in bf16 never moves at lr 1e-3,
    # the same weight kept in fp32 (a master weight) does.
    moved = {}
    for dtype in (torch.bfloat16, torch.float32):
        weight = torch.nn.Parameter(torch.ones(4, dtype=dtype))
        optimizer = torch.optim.Adam([weight], lr=1e-3)
        for _ in range(50):
            weight.grad = torch.full_like(weight, 0.3)
            optimizer.step()
        moved[dtype] = (1.0 - weight.detach().float()).max().item()
    assert moved[torch.bfloat16] == 0.0 and moved[torch.float32] == pytest.approx(0.05, rel=0.02)


def test_the_loss_scale_grows_within_the_race():
    """The race's scaler doubles its scale every `growth_interval` clean steps, so the chart can show growth
    (PyTorch's default interval, 2,000, is longer than the longest race: the scale could never grow)."""
    config = hp.RaceConfig(modes=("fp16_scaler",), hidden=32, steps=110, loss_factor=2.0**-20)
    assert config.growth_interval * 2 <= config.steps < 1000
    *_, last = hp.train_race(config, data.load_digits())
    assert last.extras["skipped"]["fp16_scaler"] == 0                           # tiny gradients: nothing overflows
    assert last.extras["history"]["scale/fp16_scaler"][-1] == 2.0**16 * 2 ** (config.steps // config.growth_interval)


def test_the_scaler_halves_at_each_overflow_and_never_grows_with_the_default_interval():
    generator = torch.Generator().manual_seed(0)
    model = torch.nn.Linear(8, 4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = hp.make_scaler("fp16_scaler", torch.device("cpu"))                  # PyTorch's default interval
    x, labels = torch.randn(16, 8, generator=generator), torch.zeros(16, dtype=torch.long)
    scales = []
    for factor in [1e4] * 3 + [1.0] * 60:           # a huge loss overflows fp16 at scale 2^16: skip, halve
        hp.step_once("fp16_scaler", model, optimizer, scaler, x, labels, factor)
        scales.append(scaler.get_scale())
    assert scales[:3] == [2.0**15, 2.0**14, 2.0**13]
    assert max(scales) == 2.0**15 and scales[-1] == 2.0**13


def _race_metrics(config: hp.RaceConfig) -> dict[str, float]:
    *_, last = hp.train_race(config, data.load_digits())
    return last.metrics


def test_the_race_starts_from_the_weights_the_old_global_seed_gave():
    """The figures in docs/benchmarks.md stay valid: the run's generator gives the start
    `torch.manual_seed(seed)` gave."""
    config = hp.RaceConfig(modes=("fp32",), hidden=32, steps=1, seed=3)
    first = next(hp.train_race(config, data.load_digits()))
    state = torch.random.get_rng_state()
    torch.manual_seed(3)
    expected = hp.DigitMLP(32)
    torch.random.set_rng_state(state)
    model = first.extras["model"]["fp32"]
    optimizer = torch.optim.Adam(expected.parameters(), lr=config.learning_rate)
    index = next(data.minibatches(len(data.load_digits().train_x), config.batch_size,
                                  torch.Generator().manual_seed(3)))
    split = data.load_digits()
    hp.step_once("fp32", expected, optimizer, hp.make_scaler("fp32", torch.device("cpu")), split.train_x[index],
                 split.train_y[index], 1.0)
    for mine, theirs in zip(model.parameters(), expected.parameters(), strict=True):
        assert torch.equal(mine, theirs)


def test_the_race_trains_on_run_device(picked_device):
    calls = picked_device               # engine.device.pick_device, spied: returns the CPU
    first = next(hp.train_race(hp.RaceConfig(modes=("fp32", "fp16_naive"), hidden=16, steps=3), data.load_digits()))
    assert calls and first.extras["device"] == "cpu"
    for model in first.extras["model"].values():
        assert all(p.device.type == "cpu" for p in model.parameters())
    assert first.extras["model"]["fp16_naive"].net[1].weight.dtype == torch.float16


def test_a_report_before_the_end_holds_models_a_lab_can_use():
    split = data.load_digits()
    config = hp.RaceConfig(modes=("fp32", "bf16"), hidden=32, steps=40)
    run = hp.train_race(config, split)
    early = next(run)
    run.close()                                                                  # stopped after the first report
    assert early.step < early.total and set(early.extras["model"]) == {"fp32", "bf16"}
    model = early.extras["model"]["fp32"]
    with torch.no_grad():
        logits = model(split.test_x[:50])
    assert logits.shape == (50, 10) and model.training                           # left in training mode


@pytest.fixture(scope="module")
def short_naive_race():
    config = hp.RaceConfig(modes=("fp32", "fp16_naive"), hidden=32, steps=20, seed=3, device="cpu")
    *_, last = hp.train_race(config, data.load_digits())
    return config, last.extras["history"]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_race_chart_marks_pure_fp16_where_its_loss_first_stops_being_finite(short_naive_race, lang, monkeypatch):
    """Page 68's loss chart of a short CPU race: one ✕, in pure fp16's colour, at the first report whose
    loss the engine gave as NaN or ∞ (found in the engine's own history), labelled in the learner's language."""
    from ui import charts, i18n
    from ui.i18n import translate

    monkeypatch.setattr(i18n, "language", lambda: lang)
    config, history = short_naive_race
    step, value = charts.first_non_finite(history["step"], history["loss/fp16_naive"])
    figure = charts.history_figure({f"loss/{mode}": mode for mode in config.modes}, "loss", "step")
    charts.finish(charts.update_history(figure, history))
    crosses = [t for t in figure.data if t.meta == charts.DIVERGED]
    assert [t.x[0] for t in crosses] == [step]
    assert crosses[0].marker.color == next(t.line.color for t in figure.data if t.name == "fp16_naive")
    shown = "NaN" if math.isnan(value) else "∞"
    labels = {translate("common.diverged", lang, line="fp16_naive", quantity=translate("common.diverged_loss", lang),
                        value=shown, when=translate(f"common.diverged_{when}_step", lang, step=step))
              for when in ("at", "by")}
    assert crosses[0].hovertemplate.removesuffix("<extra></extra>") in labels
    assert charts.first_non_finite(history["step"], history["loss/fp32"]) is None


def test_pure_fp16_adam_breaks_mostly_by_underflow_to_infinity_not_by_zero_over_zero():
    """The page's reason pure fp16 fails: Adam's (1 - beta2) g^2 underflows to 0 in fp16 for small
    gradients, and eps = 1e-8 is stored as 0, so m / (sqrt(v) + eps) is +-inf; 0/0 = NaN only where
    (1 - beta1) g is 0 too. One step of the race's pure fp16 model, from its start on its first batch:
    every weight that broke did so by exactly this rule, and more became +-inf than NaN."""
    assert torch.tensor(1e-8, dtype=torch.float16).item() == 0.0
    config = hp.RaceConfig()
    digits = data.load_digits()
    model = copy.deepcopy(build(lambda: hp.DigitMLP(config.hidden), torch.Generator().manual_seed(config.seed))).half()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    index = next(minibatches(len(digits.train_x), config.batch_size, torch.Generator().manual_seed(config.seed)))
    hp.step_once("fp16_naive", model, optimizer, hp.make_scaler("fp16_naive", torch.device("cpu")),
                 digits.train_x[index], digits.train_y[index], config.loss_factor)
    weights = torch.cat([p.detach().flatten() for p in model.parameters()])
    gradient = torch.cat([p.grad.flatten() for p in model.parameters()]).float()
    beta1, beta2 = optimizer.defaults["betas"]
    no_moment = ((1 - beta1) * gradient).half() == 0
    no_second = ((1 - beta2) * gradient * gradient).half() == 0
    assert torch.equal(weights.isinf(), no_second & ~no_moment)
    assert torch.equal(weights.isnan(), no_second & no_moment)
    assert weights.isinf().sum() > weights.isnan().sum() > 0
