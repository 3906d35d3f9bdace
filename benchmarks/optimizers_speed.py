"""Page 64, default settings: a 6-optimizer x 500-step race, and the network comparison.

    python benchmarks/optimizers_speed.py [--repeats 5]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine import data, optimizers
from engine.device import set_cpu_threads

RACERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    threads = set_cpu_threads()
    print(f"{threads} threads, median of {args.repeats}")
    for surface in ("bowl", "rosenbrock"):
        settings = {name: optimizers.SURFACES[surface].recommended[name] for name in RACERS}
        optimizers.race(surface, settings, 20)                     # warm-up: first use of each optimizer class
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            optimizers.race(surface, settings, 500)
            times.append(time.perf_counter() - start)
        print(f"  race, 6 optimizers x 500 steps on {surface}: {statistics.median(times):.2f} s (target 0.5 s)")
    split = data.load_digits()
    times = []
    for _ in range(max(1, args.repeats // 2)):
        start = time.perf_counter()
        *_, last = optimizers.compare_on_network(optimizers.NetworkConfig(), split)
        times.append(time.perf_counter() - start)
    accuracy = ", ".join(f"{k.removesuffix('_accuracy')} {v:.1%}" for k, v in last.metrics.items())
    print(f"  network comparison, 6 optimizers x {optimizers.NetworkConfig().steps} steps: "
          f"{statistics.median(times):.1f} s (target 15 s); test accuracy: {accuracy}")


if __name__ == "__main__":
    main()
