"""Shared helper for the benchmark scripts."""

import time
from collections.abc import Iterable


def timed_run(run: Iterable) -> tuple[float, float, object]:
    """Consume a training generator: seconds to its first step, seconds to its end, and the last step."""
    start = time.perf_counter()
    steps = iter(run)
    last = next(steps)
    first = time.perf_counter() - start
    for last in steps:            # noqa: B007 - only the final step is needed
        pass
    return first, time.perf_counter() - start, last
