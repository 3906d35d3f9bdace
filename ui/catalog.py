"""The ten concepts, their sections, and the pages that exist; the router and the home page read this."""

import re
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from ui.i18n import catalog, text

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Concept:
    number: int
    slug: str        # locale file and page file name: pages/<slug>.py, ui/locales/<slug>.toml
    section: str     # key in catalog.toml
    icon: str

    @property
    def page_path(self) -> str:
        return f"pages/{self.slug}.py"

    @property
    def available(self) -> bool:
        return (ROOT / self.page_path).exists()


CONCEPTS = (
    Concept(61, "multitask", "foundations", ":material/call_split:"),
    Concept(62, "lstm", "architectures", ":material/timeline:"),
    Concept(63, "regression", "foundations", ":material/show_chart:"),
    Concept(64, "optimizers", "foundations", ":material/speed:"),
    Concept(65, "adversarial", "robustness", ":material/shield:"),
    Concept(66, "unet", "architectures", ":material/grid_view:"),
    Concept(67, "autoencoder", "robustness", ":material/compress:"),
    Concept(68, "half_precision", "scale", ":material/memory:"),
    Concept(69, "distributed", "scale", ":material/hub:"),
    Concept(70, "style_transfer", "robustness", ":material/palette:"),
)
SECTIONS = ("foundations", "architectures", "robustness", "scale")


def concept_title(concept: Concept) -> str:
    return f"{concept.number} · {text(f'catalog.{concept.slug}')}"


def navigation() -> dict[str, list]:
    """Sections -> st.Page objects, only for pages that exist, titles in the current language."""
    pages = {"": [st.Page(str(ROOT / "pages" / "home.py"), title=text("catalog.home"),
                          icon=":material/home:", default=True)]}
    for section in SECTIONS:
        members = [c for c in CONCEPTS if c.section == section and c.available]
        if members:
            pages[text(f"catalog.section_{section}")] = [
                st.Page(str(ROOT / c.page_path), title=concept_title(c), icon=c.icon,
                        url_path=c.slug)
                for c in sorted(members, key=lambda c: c.number)
            ]
    return pages


# A suggested order: the foundations first, each page building on the ones before it.
SUGGESTED_PATH = (63, 64, 61, 62, 66, 67, 65, 70, 68, 69)
WORDS_PER_MINUTE = 200         # English prose read for understanding
CJK_CHARACTERS_PER_MINUTE = 300  # Chinese prose, characters
CJK = re.compile(r"[\u3400-\u9fff]")


def reading_words(slug: str, language: str) -> tuple[int, int]:
    """(Latin words, CJK characters) in all of a page's texts in `language` (its locale file)."""
    words = characters = 0
    for key, entry in catalog().items():
        if key.startswith(f"{slug}."):
            body = entry.get(language) or entry["en"]
            characters += len(CJK.findall(body))
            words += len(re.findall(r"[A-Za-z]+", CJK.sub(" ", body)))
    return words, characters


def reading_minutes(slug: str, language: str) -> int:
    """About how long reading everything on a page takes, from its word count, in whole minutes."""
    words, characters = reading_words(slug, language)
    return max(1, round(words / WORDS_PER_MINUTE + characters / CJK_CHARACTERS_PER_MINUTE))
