"""Shared check: a run's results depend only on its own settings.

Streamlit trains every learner's run in a thread of one process, so two runs started at once
must not change each other (no global seed, no global generator, no process-wide setting).
"""

import threading
from collections.abc import Callable

import torch

Run = Callable[[], dict[str, float]]


def _in_threads(first: Run, second: Run) -> tuple[dict, dict]:
    results: list = [None, None]
    errors: list = []
    barrier = threading.Barrier(2)

    def go(index: int, run: Run) -> None:
        try:
            barrier.wait()
            results[index] = run()
        except BaseException as error:      # noqa: BLE001 - re-raised in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=go, args=(i, run)) for i, run in enumerate((first, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results[0], results[1]


def assert_runs_independent(first: Run, second: Run) -> None:
    """`first` and `second` (two different settings) give exactly the same metrics when trained
    at the same time in two threads as each gives alone; a repeat with the same seed is identical;
    and neither touches torch's global generator."""
    state = torch.random.get_rng_state()
    alone = first(), second()
    assert torch.equal(torch.random.get_rng_state(), state), "a run drew from torch's global generator"
    assert alone[0] != alone[1], "the two settings should differ, or the test cannot see a leak"
    assert first() == alone[0], "the same settings and seed gave different metrics"
    torch.manual_seed(12345)              # any global seed a neighbour might set must not matter
    together = _in_threads(first, second)
    assert together == alone, f"runs changed each other: alone {alone}, together {together}"
