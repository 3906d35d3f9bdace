"""A lesson's plan and the secrets that open it: steps, names, codes and tokens, each checked.

Streamlit-free and torch-free: the store (`ui.lesson_store`) and the pages (`ui.lessons`) both use it.

A lesson is a name and a list of steps. A step is a page, optionally one of its cards, the settings
its experiment starts at, and what the learner may change:

- `open`: every setting, starting from the step's values;
- `locked`: none (the controls are shown, disabled, at the step's values; the learner can still run);
- `only`: the named settings (`shown`); the others are not drawn and stay at the step's values.

Three secrets, each drawn from `secrets` and checked against its format before anything reads it:

- the class code (`new_code`): 13 characters of Crockford's base 32, 65 random bits, shown in groups
  and typed back forgivingly (any case, dashes or spaces, `o` for 0, `i`/`l` for 1);
- the teacher's token (`new_token`): 192 random bits, only its SHA-256 is stored;
- the learner's id (`new_learner`): 128 random bits, kept in the learner's browser for one class; the
  store keeps only a hash of the class code and the id, so the database never holds the id itself.
"""

import hashlib
import json
import re
import secrets
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

LESSON_PARAM, TEACHER_PARAM = "lesson", "teacher"        # in the URL: the class link, the teacher's link
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"       # Crockford's base 32: no i, l, o, u
CODE_LENGTH = 13                                     # 65 random bits
CODE = re.compile(f"[{ALPHABET}]{{{CODE_LENGTH}}}")
TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")             # token_urlsafe(24): 192 bits
LEARNER = re.compile(r"[A-Za-z0-9_-]{22}")           # token_urlsafe(16): 128 bits
NAME_LIMIT = 120                                     # characters in a lesson's name
STEP_LIMIT = 12                                      # steps in a lesson
MODES = ("open", "locked", "only")
JOINERS = {"\u200c", "\u200d"}    # zero-width (non-)joiners: part of some emoji and of Persian or Hindi text


class PlanError(ValueError):
    """Input that cannot make a lesson; `key` is the locale entry that says why, `params` fill it."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key, self.params = key, params


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def new_token() -> str:
    return secrets.token_urlsafe(24)


def new_learner() -> str:
    return secrets.token_urlsafe(16)


def spaced(code: str) -> str:
    """"7k3m-q9xa-2bcd-e": a code in groups of four, easier to read from a projector."""
    return "-".join(code[start:start + 4] for start in range(0, len(code), 4))


def read_code(typed: object) -> str | None:
    """A class code as typed or linked, normalised; None when it cannot be one."""
    if not isinstance(typed, str) or len(typed) > 4 * CODE_LENGTH:
        return None
    code = re.sub(r"[\s-]", "", typed).lower().translate(str.maketrans("oil", "011"))
    return code if CODE.fullmatch(code) else None


def read_token(typed: object) -> str | None:
    return typed if isinstance(typed, str) and TOKEN.fullmatch(typed) else None


def read_learner(typed: object) -> str | None:
    return typed if isinstance(typed, str) and LEARNER.fullmatch(typed) else None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def learner_key(code: str, learner: str) -> str:
    """What the store keeps for a learner of a class: not their id, a hash of the class and the id."""
    return hashlib.sha256(f"{code}:{learner}".encode()).hexdigest()


def read_name(typed: object) -> str:
    """A lesson's name: any script, 1 to NAME_LIMIT characters once trimmed, no control characters
    (a tab, a newline, a NUL, a bidirectional override; the zero-width joiners that emoji and some
    scripts need are kept). Raises PlanError."""
    if not isinstance(typed, str):
        raise PlanError("lesson.error_name_empty")
    name = unicodedata.normalize("NFC", typed).strip()
    if not name:
        raise PlanError("lesson.error_name_empty")
    if len(name) > NAME_LIMIT:
        raise PlanError("lesson.error_name_long", limit=NAME_LIMIT, length=len(name))
    if any(unicodedata.category(character) in ("Cc", "Cf", "Cs", "Co", "Cn") and character not in JOINERS
           for character in name):
        raise PlanError("lesson.error_name_control")
    return name


@dataclass(frozen=True)
class Step:
    """One step: `page` (a concept's slug), `card` (one of its cards' ids, or None for the whole
    page), `settings` (name -> value of the step's experiment, the rest at their defaults), `mode`
    (one of MODES) and, with `only`, the settings the learner may change."""

    page: str
    card: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    mode: str = "open"
    shown: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"page": self.page, "card": self.card, "settings": dict(self.settings), "mode": self.mode,
                "shown": list(self.shown)}

    def fixed(self, name: str) -> bool:
        """Whether the learner may not change setting `name` in this step."""
        return self.mode == "locked" or (self.mode == "only" and name not in self.shown)

    def drawn(self, name: str) -> bool:
        """Whether setting `name`'s control appears in this step."""
        return self.mode != "only" or name in self.shown


# What a plan may name, given from outside (`ui.lessons` reads the pages' declarations): page ->
# (its cards' ids, setting name -> a check that the setting's widget can hold a value).
Catalogue = Mapping[str, tuple[Sequence[str], Mapping[str, Callable[[Any], bool]]]]


def check_step(step: Step, catalogue: Catalogue) -> Step:
    """`step`, checked against the pages that exist: a known page and card, known settings at values
    their widgets can hold, a known mode. Raises PlanError."""
    if step.page not in catalogue:
        raise PlanError("lesson.error_page")
    cards, checks = catalogue[step.page]
    if step.card is not None and step.card not in cards:
        raise PlanError("lesson.error_card")
    if step.mode not in MODES:
        raise PlanError("lesson.error_mode")
    for name, value in step.settings.items():
        if name not in checks or not checks[name](value):
            raise PlanError("lesson.error_setting", name=str(name)[:40])
    if any(name not in checks for name in step.shown):
        raise PlanError("lesson.error_setting", name=next(n for n in step.shown if n not in checks)[:40])
    if step.mode == "only" and not step.shown:
        raise PlanError("lesson.error_only_none")
    return step


def check_plan(steps: Sequence[Step], catalogue: Catalogue) -> list[Step]:
    if not steps:
        raise PlanError("lesson.error_no_steps")
    if len(steps) > STEP_LIMIT:
        raise PlanError("lesson.error_too_many_steps", limit=STEP_LIMIT)
    return [check_step(step, catalogue) for step in steps]


def dump_plan(steps: Sequence[Step]) -> str:
    return json.dumps([step.as_dict() for step in steps], ensure_ascii=False, separators=(",", ":"))


def load_plan(stored: str) -> list[Step]:
    """The steps as stored (written by `dump_plan` from a checked plan)."""
    return [Step(item["page"], item.get("card"), item.get("settings") or {}, item.get("mode", "open"),
                 tuple(item.get("shown") or ())) for item in json.loads(stored)]
