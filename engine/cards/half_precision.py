"""Page 68's cards and challenge: pure fp16 turns to NaN, tiny gradients underflow in fp16 without a
scaler, bf16 needs no scaler, and mixed precision matches fp32. Every claim is a fact of the number
formats (range, underflow, ε = 1e-8 rounding to 0), never of the CPU's speed in bf16 or fp16."""

import math
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from engine import half_precision as hp
from engine.cards import Card, Challenge, exceeds, to_the_end
from engine.data import load_digits
from engine.training import TrainingStep


def steps(built: tuple[hp.RaceConfig, None], seed: int = 0) -> Iterator[TrainingStep]:
    """The race on the bundled digits, on the CPU; `seed` draws the initial weights and the batches."""
    race, _ = built
    return hp.train_race(replace(race, seed=seed, device="cpu"), load_digits())


def run(built: tuple[hp.RaceConfig, None], seed: int = 0) -> TrainingStep:
    return to_the_end(steps(built, seed))


def measure(step: TrainingStep) -> dict[str, float]:
    """Per racing mode: held-out accuracy (%), the last training loss, and the share (%) of gradient
    entries exactly 0 after the last step."""
    measures = {}
    for mode in hp.MODES:
        if f"{mode}/accuracy" in step.metrics:
            measures |= {mode: 100 * step.metrics[f"{mode}/accuracy"], f"{mode}_loss": step.metrics[f"{mode}/loss"],
                         f"{mode}_zero": 100 * step.extras["zero_gradients"][mode]}
    return measures


CHANCE = 10.0        # accuracy (%) of a guess: ten classes
LEARNED = 10.0       # points above chance from which a mode has learned something (the cards say "20 %")
CLOSE = 2.0          # accuracy points within which a mode matches fp32


def _naive(runs: list[dict]) -> str:
    run = runs[0]
    if math.isnan(run["fp16_naive_loss"]):
        return "nan"
    return "worse" if exceeds(run["fp32"] - run["fp16_naive"], CLOSE) else "close"


def _underflow(runs: list[dict]) -> str:
    run = runs[0]
    plain, scaled = (exceeds(run[mode] - CHANCE, LEARNED) for mode in ("fp16_autocast", "fp16_scaler"))
    return {(True, True): "both", (False, True): "scaler", (True, False): "plain", (False, False): "neither"}[
        (plain, scaled)]


def _bf16(runs: list[dict]) -> str:
    run = runs[0]
    if not exceeds(run["bf16"] - CHANCE, LEARNED):
        return "nothing"
    return "differs" if exceeds(abs(run["bf16"] - run["fp32"]), CLOSE) else "same"


def _match(runs: list[dict]) -> str:
    run = runs[0]
    bf16, fp16 = (not exceeds(abs(run[mode] - run["fp32"]), CLOSE) for mode in ("bf16", "fp16_scaler"))
    return {(True, True): "both", (True, False): "bf16", (False, True): "fp16", (False, False): "neither"}[(bf16, fp16)]


SMALL = {"hidden": 64}
TINY = {**SMALL, "factor": "small"}
CARDS = (
    Card("naive", ({**SMALL, "modes": ["fp32", "fp16_naive"], "steps": 20},),
         ("close", "worse", "nan"), "nan", measure, _naive),
    Card("underflow", ({**TINY, "modes": ["fp16_scaler", "fp16_autocast"], "steps": 40},),
         ("both", "scaler", "plain", "neither"), "scaler", measure, _underflow),
    Card("bf16", ({**TINY, "modes": ["fp32", "bf16"], "steps": 60},),
         ("same", "differs", "nothing"), "same", measure, _bf16),
    Card("match", ({**SMALL, "modes": ["fp32", "bf16", "fp16_scaler"], "steps": 60},),
         ("both", "bf16", "fp16", "neither"), "both", measure, _match),
)


def challenge_measure(step: TrainingStep) -> dict[str, float]:
    """The best held-out accuracy (%) of the fp16 modes in the race (0 with none), and the steps."""
    fp16 = [100 * step.metrics[f"{mode}/accuracy"] for mode in ("fp16_scaler", "fp16_autocast", "fp16_naive")
            if f"{mode}/accuracy" in step.metrics]
    return {"fp16": max(fp16, default=0.0), "steps": float(step.total)}


CHALLENGE_ACCURACY = 75.0
CHALLENGE_STEPS = 200


def _challenge(measures: dict, settings: Mapping[str, Any]) -> bool:
    return (settings.get("factor") == "small" and settings.get("steps", 0) <= CHALLENGE_STEPS
            and measures["fp16"] >= CHALLENGE_ACCURACY)


CHALLENGE = Challenge(challenge_measure, _challenge, {**TINY, "modes": ["fp16_scaler"], "steps": CHALLENGE_STEPS})
