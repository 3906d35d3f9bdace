"""Pages 65 (adversarial) and 67 (autoencoder), default settings: time to the first chart update,
time to trained models, and the time of one attack in the attack lab.

    python benchmarks/digits_pages.py [--repeats 3]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from timing import timed_run

from engine import adversarial, autoencoder, data
from engine.device import set_cpu_threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    threads = set_cpu_threads()
    split = data.load_digits()
    print(f"bundled digits ({len(split.train_x)} train / {len(split.test_x)} test), {threads} threads, "
          f"median of {args.repeats}")
    for name, train, config in (("autoencoder (67)", autoencoder.train, autoencoder.AutoencoderConfig()),
                                ("adversarial (65)", adversarial.train, adversarial.AdversarialConfig())):
        runs = [timed_run(train(config, split)) for _ in range(args.repeats)]
        first = statistics.median(r[0] for r in runs)
        total = statistics.median(r[1] for r in runs)
        print(f"  {name}: first chart update after {first:.2f} s (target 1 s), trained in {total:.1f} s "
              f"(target 20 s); final metrics {', '.join(f'{k} {v:.3f}' for k, v in runs[-1][2].metrics.items())}")
    models = runs[-1][2].extras["model"]
    for method, steps in (("fgsm", 1), ("pgd", 10), ("pgd", 50)):
        times = []
        for index in range(20):
            start = time.perf_counter()
            for model in models.values():         # the lab attacks both models
                adversarial.attack_one(model, split.test_x[index], int(split.test_y[index]), 0.2, method, steps)
            times.append(time.perf_counter() - start)
        print(f"  attack lab, {method} with {steps} step(s), both models: {1000 * statistics.median(times):.0f} ms "
              f"(target 200 ms)")


if __name__ == "__main__":
    main()
