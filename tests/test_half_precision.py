"""Number formats (groundwork for page 68): facts from torch.finfo, exact bit round trips, underflow."""

import math
import random

import pytest
import torch

from engine import half_precision as hp


@pytest.mark.parametrize("name", list(hp.DTYPES))
def test_format_facts_equal_torch_finfo(name):
    info, facts = torch.finfo(hp.DTYPES[name]), hp.facts(name)
    assert (facts.largest, facts.smallest_normal, facts.epsilon) == (info.max, info.smallest_normal, info.eps)
    assert facts.sign_bits + facts.exponent_bits + facts.mantissa_bits == info.bits
    assert facts.epsilon == 2.0 ** -facts.mantissa_bits
    smallest = torch.tensor(facts.smallest_subnormal, dtype=hp.DTYPES[name])
    assert smallest.item() == facts.smallest_subnormal and (smallest / 2).item() == 0.0


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
    assert hp.encode(70000.0, "fp16").kind == "infinity"                    # above 65504
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
