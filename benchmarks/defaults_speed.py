"""Every page's default experiment and every card's and challenge's runs, at the engine level, one
thread: seconds to the first report and to the end, with the CPU they ran on.

    python benchmarks/defaults_speed.py [--pages unet adversarial] [--cards] [--threads 1]

A run is what `engine/cards/<page>.py` trains for the page's declared settings (`ui/settings/<page>.py`;
seed 0; the cards' runs on the CPU).
The cards' modules keep finished runs, so a run that equals one timed before is listed as shared
(it costs nothing the second time, on the page as in the claims tests). Run it on a quiet machine:
another busy process on a 2-core box skews every figure.
"""

import argparse
import importlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.device import cpu_flags, cpu_name, set_cpu_threads, warm_up
from ui.settings import experiments

PAGES = ("multitask", "lstm", "regression", "optimizers", "adversarial", "unet", "autoencoder",
         "half_precision", "distributed", "style_transfer")
TIMES: list[tuple[float, float, float]] = []    # (first report, first report with numbers, end) of each run


def timed_to_the_end(steps: Iterator):
    """engine.cards.to_the_end, keeping the run's times in TIMES. A step-0 report (pages 69 and 70:
    the plan or the starting image, before anything is measured) is a first report, not numbers."""
    start = time.perf_counter()
    first, numbers, last = None, None, None
    for step in steps:
        if first is None:
            first = time.perf_counter() - start
        if numbers is None and step.metrics:
            numbers = time.perf_counter() - start
        last = step
    TIMES.append((first, numbers, time.perf_counter() - start))
    return last


def timed(module, experiment, settings: dict) -> str:
    before, start = len(TIMES), time.perf_counter()
    module.run(experiment.config(settings), 0)
    if len(TIMES) == before:          # no generator: computed at once (page 64's race), or kept from above
        seconds = time.perf_counter() - start
        return f"computed at once, {seconds:6.2f} s" if seconds > 0.01 else "shared with a run above"
    first, numbers, end = TIMES[-1]
    return f"first report {first:5.2f} s, first numbers {numbers:5.2f} s, end {end:6.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", nargs="*", default=list(PAGES), choices=PAGES)
    parser.add_argument("--cards", action="store_true", help="also every card's and the challenge's runs")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    flags = cpu_flags()
    print(f"{cpu_name()}; AVX-512 {'yes' if 'avx512f' in flags else 'no'}, "
          f"native bf16 {'yes' if flags & {'avx512_bf16', 'amx_bf16'} else 'no'}; "
          f"{set_cpu_threads(args.threads)} thread(s)")
    started = time.perf_counter()
    warm_up()                      # as the app does when a training page first opens
    print(f"warm-up (PyTorch's lazy imports, the first convolution): {time.perf_counter() - started:.2f} s")
    for page in args.pages:
        module = importlib.import_module(f"engine.cards.{page}")
        module.to_the_end = timed_to_the_end        # every module calls its own imported name
        declared = experiments(page)
        print(f"{page:15s} default            {timed(module, declared[None], {})}")
        if not args.cards:
            continue
        for card in module.CARDS:
            for index, settings in enumerate(card.runs):
                print(f"{'':15s} card {card.id:12s} {index + 1}  {timed(module, declared[card.experiment], settings)}")
        challenge = module.CHALLENGE
        print(f"{'':15s} challenge          {timed(module, declared[challenge.experiment], challenge.solution)}")


if __name__ == "__main__":
    main()
