"""Regression page, default settings: how long a run takes and how much of it is not training.

Runs, alternating in one process, (A) the default training consumed by a caller that draws nothing
and (B) the same training drawn the way the page draws it (both Plotly figures built and serialised
to JSON, as st.plotly_chart does, at every yielded step). Prints medians and ratios.

    python benchmarks/regression_default.py [--repeats 5]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import streamlit.logger

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # runnable from anywhere as a plain script
from engine import regression
from engine.device import set_cpu_threads
from ui.charts import history_figure, regression_fit_figure, update_history, update_regression_fit

streamlit.logger.set_log_level("error")   # chart labels are read outside a Streamlit session here


def undrawn(config, data) -> float:
    start = time.perf_counter()
    regression.least_squares(config, data)
    for _ in regression.train(config, data):
        pass
    return time.perf_counter() - start


def drawn(config, data) -> tuple[float, float, int]:
    """Returns total seconds, seconds inside the training generator, and the number of redraws."""
    start = time.perf_counter()
    fit = regression.least_squares(config, data)
    redraws, charts = 0, None
    for step in regression.train(config, data):
        charts = charts or (regression_fit_figure(data, fit),
                            history_figure({"train_mse": "train", "test_mse": "test"}, "loss", "step",
                                           {"least squares": fit.train_mse}))
        update_regression_fit(charts[0], step).to_json()
        update_history(charts[1], step.extras["history"]).to_json()
        redraws += 1
    total = time.perf_counter() - start
    return total, step.seconds, redraws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    threads = set_cpu_threads()
    data = regression.make_data(regression.DataConfig())
    config = regression.RegressionConfig()
    undrawn(config, data)                                   # warm-up: first-call initialisation
    plain, total, inside, redraws = [], [], [], []
    for _ in range(args.repeats):
        plain.append(undrawn(config, data))
        seconds, training, count = drawn(config, data)
        total.append(seconds)
        inside.append(training)
        redraws.append(count)
    median_total, median_plain = statistics.median(total), statistics.median(plain)
    outside = statistics.median(1 - t / s for t, s in zip(inside, total, strict=True))
    print(f"regression default run ({config.num_steps} steps, {len(data.x_train)} training points, "
          f"{threads} threads), median of {args.repeats}:")
    print(f"  drawn like the page : {median_total:.2f} s  (target <= 5 s), {statistics.median(redraws):.0f} redraws")
    print(f"  nothing drawn       : {median_plain:.2f} s")
    print(f"  share outside the training loop (drawing, figures, JSON): {100 * outside:.1f} %")
    print(f"  ratio drawn / not drawn: {median_total / median_plain:.2f}x")


if __name__ == "__main__":
    main()
