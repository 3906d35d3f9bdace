"""Page 66, default settings: the segmentation run and the denoising run (time to the first
prediction shown, and to the end).

    python benchmarks/unet_speed.py [--repeats 2]
"""

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from timing import timed_run

from engine import images, unet
from engine.device import set_cpu_threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(f"{set_cpu_threads()} threads, median of {args.repeats}")
    clean = images.to_tensor(images.fit_within(images.load_sample("astronaut"), 256))
    for name, make in (("segmentation", lambda: unet.train(unet.SegmentationConfig())),
                       ("segmentation, skips off", lambda: unet.train(unet.SegmentationConfig(skips=False))),
                       ("denoising (astronaut, 256 px)", lambda: unet.denoise(unet.DenoiseConfig(), clean))):
        runs = [timed_run(make()) for _ in range(args.repeats)]
        metrics = ", ".join(f"{k} {v:.3f}" for k, v in runs[-1][2].metrics.items())
        print(f"  {name}: first prediction after {statistics.median(r[0] for r in runs):.2f} s (target 2 s), "
              f"done in {statistics.median(r[1] for r in runs):.1f} s (target 30 s); {metrics}")


if __name__ == "__main__":
    main()
