"""Page 68 on this machine: matrix-product and convolution speed in fp32, bf16 and fp16, the default
race model's time per training step in each mode, and the default training race's whole time.

    python benchmarks/half_precision_speed.py [--repeats 3]
"""

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from timing import timed_run

from engine import data, half_precision
from engine.device import describe, pick_device, set_cpu_threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    device = pick_device()
    threads = set_cpu_threads()
    info = describe(device)
    print(f"{info.name} ({device.type}, {threads} threads, native bf16 on the CPU: {info.bf16_fast}), "
          f"median of {args.repeats}")
    checks = [half_precision.speed_check(device) for _ in range(args.repeats)]
    for index, name in enumerate(("fp32", "bf16", "fp16")):
        gflops = statistics.median(c[index].matmul_gflops for c in checks)
        conv = statistics.median(c[index].conv_ms for c in checks)
        ratio = statistics.median(c[index].matmul_speedup for c in checks)
        conv_ratio = statistics.median(c[index].conv_speedup for c in checks)
        print(f"  {name}: 768x768 matrix product {gflops:.1f} GFLOP/s, 3x3 convolution {conv:.1f} ms; "
              f"speed vs fp32 {ratio:.2f}x (matrix), {conv_ratio:.2f}x (convolution)")
    split = data.load_digits()
    runs = [timed_run(half_precision.train_race(half_precision.RaceConfig(device=str(device)), split))
            for _ in range(args.repeats)]
    last = runs[-1][2]
    per_step = {mode: statistics.median(r[2].extras["seconds_per_step"][mode] for r in runs)
                for mode in last.extras["seconds_per_step"]}
    print("  default race model (784-128-128-10 MLP, batch 128), time per training step: "
          + ", ".join(f"{mode} {1000 * seconds:.1f} ms" for mode, seconds in per_step.items()))
    print(f"  fp32 vs bf16 autocast on that model: a bf16 step takes {per_step['bf16'] / per_step['fp32']:.2f}x "
          "as long as an fp32 step")
    print(f"  default training race: first chart after {statistics.median(r[0] for r in runs):.2f} s, "
          f"whole race {statistics.median(r[1] for r in runs):.1f} s (target 30 s); accuracy "
          + ", ".join(f"{k.split('/')[0]} {v:.3f}" for k, v in last.metrics.items() if k.endswith("accuracy")))


if __name__ == "__main__":
    main()
