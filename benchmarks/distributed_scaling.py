"""Page 69 on this machine: DDP start-up time, time per step and scaling efficiency for 1, 2 and 4
worker processes (Gloo, one thread each, 32 digits per rank), and the two-stage pipeline's bubble.

    python benchmarks/distributed_scaling.py [--steps 60]
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import distributed
from engine.device import usable_cores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    print(f"{usable_cores()} usable CPU cores; each rank runs one thread")
    *_, last = distributed.scaling(distributed.ScalingConfig(worlds=(1, 2, 4), steps=args.steps))
    for row in last.extras["rows"]:
        print(f"  world size {row['world']}: start-up {row['startup']:.1f} s, {1000 * row['step_seconds']:.1f} ms "
              f"per step, {row['throughput']:.0f} images/s, scaling efficiency {row['efficiency']:.0%}")
    for micro in (1, 4, 16):
        timelines = distributed.pipeline_timeline(micro)
        print(f"  pipeline, 2 stages, {micro} micro-batch(es): bubble {distributed.bubble(timelines):.0%} "
              f"(equal stages would give {1 / (micro + 1):.0%})")


if __name__ == "__main__":
    main()
