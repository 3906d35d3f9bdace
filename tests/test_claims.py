"""Every experiment card's claim, run: each card at its own settings on three seeds must give the
answer the card states, judged strictly (every comparison at least twice its threshold away from the
other side, `engine.cards.strictly`), so no CPU's rounding can flip it; each challenge is reached by
its solution and missed with the defaults. A run trains what the page's declared settings give
(`ui.settings.Experiment.config`, the page's own function); runs are shared through a cache keyed
by (page, config, seed): cards whose runs equal another card's (or a challenge's) reuse them.
Marked `claims` (a developer's fast suite: `pytest -m "not claims and not slow and not browser"`)."""

import contextlib
import importlib
import string

import pytest

from engine.cards import Card, Undecided, numbers, strictly
from ui.catalog import CONCEPTS
from ui.i18n import catalog
from ui.settings import experiment_of

SEEDS = (0, 1, 2)
SLUGS = [concept.slug for concept in CONCEPTS]
MODULES = {}
for slug in SLUGS:
    with contextlib.suppress(ModuleNotFoundError):
        MODULES[slug] = importlib.import_module(f"engine.cards.{slug}")
CASES = [(slug, card) for slug, module in MODULES.items() for card in module.CARDS]
_RUNS: dict = {}


def run(slug: str, name: str | None, settings: dict, seed: int):
    """The page's experiment `name` at `settings` (the rest at their declared defaults) with `seed`,
    once per test process: keyed by what it trains (the declaration's config) and the seed."""
    built = experiment_of(slug, name).config(settings)
    key = (slug, repr(built), seed)
    if key not in _RUNS:
        _RUNS[key] = MODULES[slug].run(built, seed)
    return _RUNS[key]


def test_every_page_has_three_to_six_cards_and_a_challenge():
    assert sorted(MODULES) == sorted(SLUGS), f"pages without cards: {sorted(set(SLUGS) - set(MODULES))}"
    for slug, module in MODULES.items():
        assert 3 <= len(module.CARDS) <= 6, slug
        assert len({card.id for card in module.CARDS}) == len(module.CARDS), slug
        assert module.CHALLENGE is not None, slug
    assert len(CASES) >= 35


def _fields(message: str) -> set[str]:
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(message) if name}


@pytest.mark.parametrize(("slug", "card"), CASES, ids=[f"{slug}-{card.id}" for slug, card in CASES])
def test_every_card_speaks_both_languages(slug: str, card: Card):
    entries = catalog()
    keys = [f"{slug}.card_{card.id}_{part}" for part in ("title", "question", "result", "why")]
    keys += [f"{slug}.card_{card.id}_answer_{code}" for code in card.answers]
    for key in keys:
        assert key in entries and entries[key].get("en") and entries[key].get("zh"), key
    result = entries[f"{slug}.card_{card.id}_result"]
    assert _fields(result["en"]) == _fields(result["zh"]), f"{slug}.{card.id}: the languages quote other numbers"


@pytest.mark.claims
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("slug", "card"), CASES, ids=[f"{slug}-{card.id}" for slug, card in CASES])
def test_every_card_claim_holds(slug: str, card: Card, seed: int):
    measures = [card.measure(run(slug, card.experiment, settings, seed)) for settings in card.runs]
    said = card.judge(measures)
    assert said == card.answer, f"{slug}.{card.id}, seed {seed}: the runs say {said!r} ({measures})"
    try:
        with strictly():
            strict = card.judge(measures)
    except Undecided as close:
        pytest.fail(f"{slug}.{card.id}, seed {seed}: within the margin of a threshold ({close}; {measures})")
    assert strict == card.answer, f"{slug}.{card.id}, seed {seed}: strictly the runs say {strict!r}"
    values = numbers(measures)
    for language in ("en", "zh"):            # the verdict's numbers are all measured
        catalog()[f"{slug}.card_{card.id}_result"][language].format(**values)


CHALLENGES = [slug for slug, module in MODULES.items() if getattr(module, "CHALLENGE", None) is not None]


@pytest.mark.claims
@pytest.mark.parametrize("slug", CHALLENGES)
def test_each_challenge_is_reachable_and_not_met_by_the_defaults(slug: str):
    module = MODULES[slug]
    challenge = module.CHALLENGE
    declared = experiment_of(slug, challenge.experiment)
    defaults = declared.defaults()
    solved = declared.complete(challenge.solution)
    reached = challenge.measure(run(slug, challenge.experiment, dict(challenge.solution), 0))
    assert challenge.met(reached, solved), f"{slug}: the solution misses the goal ({reached})"
    if challenge.met(reached, defaults):     # the rules alone do not exclude the defaults: run them
        missed = challenge.measure(run(slug, challenge.experiment, {}, 0))
        assert not challenge.met(missed, defaults), f"{slug}: the defaults already meet it ({missed})"
    for language in ("en", "zh"):
        catalog()[f"{slug}.challenge_result"][language].format(**reached)
