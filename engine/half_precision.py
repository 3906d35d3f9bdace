"""Number formats and mixed precision: what fp32, fp16 and bf16 can hold, and training in each.

The facts shown on the page come from `torch.finfo`, not from a table typed by hand. Mixed
precision: Micikevicius et al. (2018), "Mixed Precision Training" (loss scaling, fp32 master weights).
"""

import struct
from dataclasses import dataclass

import torch

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
LAYOUT = {"fp32": (1, 8, 23), "fp16": (1, 5, 10), "bf16": (1, 8, 7)}     # sign, exponent, mantissa bits


@dataclass(frozen=True)
class FormatFacts:
    name: str
    sign_bits: int
    exponent_bits: int
    mantissa_bits: int
    largest: float                 # finfo.max
    smallest_normal: float         # finfo.smallest_normal
    smallest_subnormal: float      # 2 ** (min exponent - mantissa bits)
    epsilon: float                 # finfo.eps: the gap between 1 and the next number


def facts(name: str) -> FormatFacts:
    """The format's layout and limits, read from torch.finfo."""
    info = torch.finfo(DTYPES[name])
    sign, exponent, mantissa = LAYOUT[name]
    assert info.bits == sign + exponent + mantissa
    subnormal = info.smallest_normal * 2.0 ** -mantissa
    return FormatFacts(name, sign, exponent, mantissa, info.max, info.smallest_normal, subnormal, info.eps)


@dataclass(frozen=True)
class Encoding:
    bits: str                      # the bit pattern, sign first
    stored: float                  # the value the format actually holds
    relative_error: float          # |stored - value| / |value| (0 for value 0)
    kind: str                      # "normal", "subnormal", "zero", "infinity" or "nan"


def encode(value: float, name: str) -> Encoding:
    """Round `value` to the format and show its bits."""
    dtype = DTYPES[name]
    stored_tensor = torch.tensor(value, dtype=torch.float64).to(dtype)
    width = torch.finfo(dtype).bits
    raw = stored_tensor.view({32: torch.int32, 16: torch.int16}[width]).item() & ((1 << width) - 1)
    bits = format(raw, f"0{width}b")
    stored = stored_tensor.item()
    _, exponent_bits, _ = LAYOUT[name]
    exponent = bits[1:1 + exponent_bits]
    if stored != stored:
        kind = "nan"
    elif abs(stored) == float("inf"):
        kind = "infinity"
    elif stored == 0:
        kind = "zero"
    else:
        kind = "subnormal" if set(exponent) == {"0"} else "normal"
    error = abs(stored - value) / abs(value) if value not in (0.0,) and kind not in ("nan", "infinity") else 0.0
    return Encoding(bits, stored, error, kind)


def decode(bits: str, name: str) -> float:
    """The value of a bit pattern in the format (the inverse of `encode(...).bits`)."""
    _, exponent_bits, mantissa_bits = LAYOUT[name]
    sign = -1.0 if bits[0] == "1" else 1.0
    exponent = int(bits[1:1 + exponent_bits], 2)
    mantissa = int(bits[1 + exponent_bits:], 2)
    bias = 2 ** (exponent_bits - 1) - 1
    if exponent == 2**exponent_bits - 1:
        return sign * float("inf") if mantissa == 0 else float("nan")
    if exponent == 0:                                           # subnormal: no implicit leading 1
        return sign * mantissa * 2.0 ** (1 - bias - mantissa_bits)
    return sign * (1 + mantissa / 2**mantissa_bits) * 2.0 ** (exponent - bias)


def spacing(value: float, name: str) -> float:
    """The gap between `value` (rounded to the format) and the next larger representable number."""
    dtype = DTYPES[name]
    x = torch.tensor(value, dtype=dtype)
    return (torch.nextafter(x, torch.tensor(float("inf"), dtype=dtype)) - x).item()


def accumulate(count: int, value: float, name: str) -> tuple[float, float]:
    """Add `value` `count` times, one step at a time, in the format (naive) and with an fp32 accumulator."""
    dtype = DTYPES[name]
    naive = torch.zeros((), dtype=dtype)
    step = torch.tensor(value, dtype=dtype)
    for _ in range(count):
        naive = naive + step
    wide = torch.full((count,), value, dtype=dtype).float().sum()
    return naive.item(), wide.item()


def float32_bits(value: float) -> str:
    """Python's own view of an fp32 bit pattern (an independent check of `encode`)."""
    return format(struct.unpack(">I", struct.pack(">f", value))[0], "032b")


def underflow_demo(scale: float = 1024.0, magnitude: float = 1e-8) -> dict[str, torch.Tensor]:
    """Gradients of size ~`magnitude` flowing back through an fp16 layer: exact in fp32, flushed to
    zero in fp16 (below fp16's smallest subnormal, about 6e-8), recovered by loss scaling.

    The layer y = w * x runs in the given dtype; the loss sum(y) * magnitude is formed in fp32, as
    under autocast. Returns each variant's gradient of w, in fp32 and divided by its scale."""
    results = {}
    for label, dtype, factor in (("fp32", torch.float32, 1.0), ("fp16", torch.float16, 1.0),
                                 ("fp16_scaled", torch.float16, scale)):
        w = torch.linspace(1.0, 2.0, 8, dtype=dtype).requires_grad_(True)
        y = w * torch.ones(8, dtype=dtype)
        loss = (y.float() * magnitude).sum() * factor          # the gradient reaching y is magnitude * factor
        loss.backward()
        results[label] = w.grad.float() / factor                # unscale in fp32, as GradScaler does
    return results
