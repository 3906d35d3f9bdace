"""Pages 61 (multi-task) and 62 (LSTM), default settings: time to the first chart update and to the
end of each default run, with all cores and as the app runs them (one core left to the server and
the browser, PTLAB_RESERVE_CORES=1).

    python benchmarks/sequence_pages.py [--repeats 3]
"""

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from timing import timed_run

from engine import data, lstm, multitask
from engine.device import RESERVE_ENV, set_cpu_threads


def runs(split: data.ImageSplit):
    series = lstm.synthetic_series(lstm.SeriesConfig())
    return (("61 multi-task (multi-head + separate baselines)",
             lambda: multitask.train(multitask.MultitaskConfig(), split),
             lambda last: f"digit {last.metrics['multihead/digit']:.3f}, "
                          f"parity {last.metrics['multihead/parity']:.3f}, ink R2 {last.metrics['multihead/ink']:.3f}"),
            ("62 forecasting", lambda: lstm.train_forecaster(lstm.ForecastConfig(), series),
             lambda last: f"one-step RMSE {last.metrics['one_step_rmse']:.3f} (naive {last.metrics['naive_rmse']:.3f}, "
                          f"linear {last.metrics['linear_rmse']:.3f})"),
            ("62 memory race (RNN, GRU, LSTM; length 50)", lambda: lstm.train_adding(lstm.AddingConfig()),
             lambda last: ", ".join(f"{cell} MSE {error:.4f}" for cell, error in last.metrics.items())),
            ("62 digits row by row", lambda: lstm.train_rows(lstm.RowsConfig(), split),
             lambda last: f"accuracy {last.metrics['accuracy']:.3f}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    split = data.load_digits()
    for reserve in ("0", "1"):
        os.environ[RESERVE_ENV] = reserve
        threads = set_cpu_threads(small_ops=True)
        print(f"{threads} thread(s){' (as in the app)' if reserve == '1' else ''}, median of {args.repeats}:")
        for name, start, describe in runs(split):
            results = [timed_run(start()) for _ in range(args.repeats)]
            first = statistics.median(r[0] for r in results)
            total = statistics.median(r[1] for r in results)
            print(f"  {name}: first chart update after {first:.2f} s (target 1 s), whole run {total:.1f} s "
                  f"(target 20 s); {describe(results[-1][2])}")


if __name__ == "__main__":
    main()
