"""The CUDA paths of page 68, for a machine with an NVIDIA GPU (CI is CPU-only and never runs this).

Checks which modes the GPU runs, times a matrix product and a convolution in each format, and runs
the training race on the GPU (fp32, bf16 autocast where supported, fp16 autocast + GradScaler, fp16
autocast without a scaler and pure fp16), once with normal and once with tiny gradients, printing
accuracy, time per step, the allocator's peak memory, the final loss scale and skipped steps.

    python benchmarks/cuda_mixed_precision.py
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from engine import data, half_precision


def main() -> None:
    if not torch.cuda.is_available():
        sys.exit("no CUDA device: this script checks the GPU paths only")
    device = torch.device("cuda")
    print(f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
          f"bf16 supported: {torch.cuda.is_bf16_supported()}")
    for mode, check in half_precision.availability(device).items():
        print(f"  {mode}: runs {check.runs} ({check.note})")
    for result in half_precision.speed_check(device, size=4096, repeats=10):
        print(f"  {result.name}: 4096x4096 matrix product {result.matmul_gflops / 1000:.1f} TFLOP/s "
              f"({result.matmul_speedup:.2f}x fp32), convolution {result.conv_ms:.2f} ms ({result.conv_speedup:.2f}x)")
    split = data.load_digits()
    modes = tuple(m for m, c in half_precision.availability(device).items() if c.runs)
    for factor in (1.0, 2.0**-20):
        config = half_precision.RaceConfig(modes=modes, loss_factor=factor, hidden=1024, steps=300,
                                           device=str(device))
        *_, last = half_precision.train_race(config, split)
        scale = last.extras["history"].get("scale/fp16_scaler", [None])[-1]
        print(f"  race, gradient factor {factor:g}, hidden 1024, 300 steps: final loss scale {scale}")
        for mode in modes:
            print(f"    {mode}: accuracy {last.metrics[f'{mode}/accuracy']:.3f}, "
                  f"{1000 * last.extras['seconds_per_step'][mode]:.2f} ms/step, "
                  f"peak {last.extras['memory'][mode] / 1e6:.1f} MB, skipped {last.extras['skipped'][mode]}, "
                  f"zero gradients {last.extras['zero_gradients'][mode]:.1%}")


if __name__ == "__main__":
    main()
