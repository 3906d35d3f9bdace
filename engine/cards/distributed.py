"""Page 69's cards and challenge: DDP's exact properties, measured on real worker processes. The
ranks stay identical at every step, the all-reduce averages the gradients, and DDP ends where one
process training on the global batch ends. Runs are tiny (2 ranks, 10 steps): every card starts
processes, and their start-up is most of the time."""

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from engine import distributed
from engine.cards import Card, Challenge, exceeds, smallest, to_the_end
from engine.training import TrainingStep


def steps(built: tuple[distributed.DDPConfig, None], seed: int = 0) -> Iterator[TrainingStep]:
    """The page's DDP training of `built` (config, no data key) on the CPU (Gloo); `seed` draws the
    initial weights and the shuffles."""
    config, _ = built
    return distributed.train(replace(config, seed=seed, device="cpu"))


def run(built: tuple[distributed.DDPConfig, None], seed: int = 0) -> TrainingStep:
    return to_the_end(steps(built, seed))


def measure(step: TrainingStep) -> dict[str, float]:
    """spread: the largest difference between the ranks' parameter checksums over every step;
    loss_gap: the largest difference between two ranks' losses at one step; average / total / own:
    how far the watched gradient entries after the all-reduce lie from the mean, the sum and each
    rank's own value before it (largest difference), and `size` the largest of those values;
    difference: the largest parameter difference from one process on the global batch (-1 without)."""
    history = step.extras["history"]
    ranks = [key for key in history if key.startswith("rank")]
    losses = list(zip(*(history[key] for key in ranks), strict=False))
    records = list(step.extras["ranks"].values())
    befores = [record["before"] for record in records]
    after = records[0]["after"]
    count = len(records)
    mean = [sum(values) / count for values in zip(*befores, strict=False)]
    total = [sum(values) for values in zip(*befores, strict=False)]
    reference = step.extras.get("reference")

    def gap(a: list[float], b: list[float]) -> float:
        return max(abs(x - y) for x, y in zip(a, b, strict=False))

    return {"spread": max(history["spread"]), "loss_gap": max(max(ls) - min(ls) for ls in losses),
            "average": max(gap(record["after"], mean) for record in records),
            "total": gap(after, total), "own": max(gap(after, before) for before in befores),
            "size": max(abs(v) for before in befores for v in before),
            "difference": reference["difference"] if reference else -1.0, "world": float(count)}


TOLERANCE = 1e-5     # float32 sums in another order differ by ~1e-7 relative; a real difference is far larger


def _sync(runs: list[dict]) -> str:
    spread = runs[0]["spread"]
    return "identical" if spread == 0 else "apart" if exceeds(spread, TOLERANCE) else "close"


def _average(runs: list[dict]) -> str:
    run = runs[0]
    fits = {"mean": run["average"], "sum": run["total"], "own": run["own"]}
    best = smallest(fits, 1.0)
    return "none" if exceeds(fits[best], TOLERANCE * max(run["size"], 1e-12) * 10) else best


def _equal(runs: list[dict]) -> str:
    difference = runs[0]["difference"]
    if difference < 0:
        return "apart"
    if not exceeds(difference, TOLERANCE):
        return "equal"
    return "apart" if exceeds(difference, 1e-2) else "close"


TINY = {"world": 2, "steps": 10, "hidden": 32}      # batch 32 per rank (the default)
CARDS = (
    Card("sync", (TINY,), ("identical", "close", "apart"), "identical", measure, _sync),
    Card("average", (TINY,), ("mean", "sum", "own"), "mean", measure, _average),
    Card("equal", (TINY,), ("equal", "close", "apart"), "equal", measure, _equal),
)


def challenge_measure(step: TrainingStep) -> dict[str, float]:
    """The mean training loss over the ranks and the last five steps, and the steps run."""
    history = step.extras["history"]
    last = [value for key in history if key.startswith("rank") for value in history[key][-5:]]
    return {"loss": sum(last) / len(last), "steps": float(step.total)}


CHALLENGE_LOSS = 0.55
CHALLENGE_STEPS = 30


def _challenge(measures: dict, settings: Mapping[str, Any]) -> bool:
    return settings.get("steps", 0) <= CHALLENGE_STEPS and measures["loss"] <= CHALLENGE_LOSS


CHALLENGE = Challenge(challenge_measure, _challenge, {"steps": 30, "learning_rate": 0.1})
