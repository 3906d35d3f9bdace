"""Bilingual text: every entry in both languages, every key the code uses exists, and the engine stays UI-free."""

import ast
import re
import subprocess
import sys
from pathlib import Path

from ui.catalog import CONCEPTS
from ui.i18n import LANGUAGES, catalog, translate

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u4e00-\u9fff]")
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def test_every_entry_has_both_languages():
    for key, entry in catalog().items():
        assert set(entry) == set(LANGUAGES), key
        assert entry["en"].strip() and entry["zh"].strip(), key
        if len(entry["en"]) > 25:                           # prose, not a technical name like "Adam"
            assert CJK.search(entry["zh"]), f"{key}: the Chinese text is not Chinese"
            assert not CJK.search(entry["en"]), f"{key}: the English text has Chinese in it"


def test_placeholders_agree_between_languages():
    for key, entry in catalog().items():
        assert set(PLACEHOLDER.findall(entry["en"])) == set(PLACEHOLDER.findall(entry["zh"])), key


def _python_files(*folders: str) -> list[Path]:
    return [path for folder in folders for path in (ROOT / folder).rglob("*.py")] + [ROOT / "streamlit_app.py"]


def test_every_literal_key_used_in_the_ui_exists():
    used = set()
    for path in _python_files("pages", "ui"):
        used |= set(re.findall(r"""\btext\(\s*["']([a-z_]+\.[a-z0-9_]+)["']""", path.read_text()))
    assert used, "no text() calls found"
    missing = sorted(used - set(catalog()))
    assert not missing, missing


def test_every_engine_error_and_note_has_a_message():
    engine_source = "\n".join(path.read_text() for path in (ROOT / "engine").glob("*.py"))
    for key in re.findall(r'InputError\(\s*"([a-z_]+)"', engine_source):
        assert f"errors.{key}" in catalog(), key
    for note in re.findall(r'notes\.append\("([a-z0-9_]+)"\)', engine_source):
        assert f"errors.note_{note}" in catalog(), note


def test_every_concept_has_a_name_and_a_summary():
    for concept in CONCEPTS:
        assert f"catalog.{concept.slug}" in catalog() and f"home.summary_{concept.slug}" in catalog()


def test_translate_fills_placeholders_and_falls_back():
    assert translate("common.progress", "zh", step=3, total=9) == "第 3 / 9 步"
    assert translate("no.such_key", "zh") == "no.such_key"


def test_engine_never_imports_streamlit():
    for path in (ROOT / "engine").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(name.split(".")[0] == "streamlit" for name in names), path
    modules = [f"engine.{path.stem}" for path in (ROOT / "engine").glob("*.py") if path.stem != "__init__"]
    script = (f"import sys, importlib\nfor m in {modules!r}: importlib.import_module(m)\n"
              "print('streamlit' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_pages_and_ui_do_not_import_torch():
    """Tensor math lives in engine/; pages and UI helpers draw plain numbers."""
    for path in _python_files("pages", "ui"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(name.split(".")[0] == "torch" for name in names), path


def test_private_streamlit_apis_are_the_listed_ones():
    """App code imports Streamlit only through its public API, except the private modules listed
    with their reasons in docs/architecture.md; and every one listed is still in use."""
    public = {"streamlit", "streamlit.testing.v1", "streamlit.components.v1"}
    used: dict[str, list[str]] = {}
    for path in [*_python_files("pages", "ui"), ROOT / "streamlit_app.py", ROOT / "tests" / "conftest.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                if name.split(".")[0] == "streamlit" and name not in public:
                    used.setdefault(name, []).append(str(path.relative_to(ROOT)))
    listed = (ROOT / "docs" / "architecture.md").read_text()
    section = listed[listed.index("## Private Streamlit APIs still used"):]
    assert all(f"`{name}" in section for name in used), used
    for name in re.findall(r"`(streamlit\.[\w.]+)", section):
        assert any(name.startswith(module + ".") for module in used), f"{name} is listed but no longer used"


# --- The words themselves: one Chinese term per idea, Markdown that renders, Chinese punctuation -------------

GLOSSARY = ROOT / "ui" / "glossary.toml"
CJK_CHARS = "\u4e00-\u9fff"


def _prose(message: str) -> str:
    """`message` without code and formulas, where half-width punctuation and English are right."""
    message = re.sub(r"```.*?```", "", message, flags=re.S)
    message = re.sub(r"`[^`]*`", "", message)
    message = re.sub(r"\$\$.*?\$\$", "", message, flags=re.S)
    return re.sub(r"\$[^$]*\$", "", message)


def test_chinese_uses_the_glossary_terms():
    import tomllib

    terms = tomllib.loads(GLOSSARY.read_text(encoding="utf-8"))["term"]
    assert len(terms) >= 10
    found = [(key, variant, term["zh"]) for key, entry in catalog().items()
             for term in terms for variant in term["avoid"] if variant in entry["zh"]]
    assert not found, "\n".join(f"{key}: {variant!r} -> {wanted!r}" for key, variant, wanted in found)


def test_every_bold_and_italic_closes_under_commonmark():
    """Streamlit renders Markdown with a CommonMark parser: a `**` it cannot close prints as two asterisks
    (e.g. `**快速梯度符号法（FGSM）**沿着`: a closing run after punctuation and before a letter is not
    right-flanking)."""
    from markdown_it import MarkdownIt

    renderer = MarkdownIt("commonmark")
    broken = []
    for key, entry in catalog().items():
        for lang, message in entry.items():
            html = re.sub(r"<code>.*?</code>", "", renderer.render(message), flags=re.S)
            if "**" in html or re.search(r"(?<![\w*])\*(?=[^\s*])", html):
                broken.append(f"{key} ({lang})")
    assert not broken, broken


def test_chinese_punctuation():
    """Full-width brackets around Chinese words, `95%` without a space, epoch glossed as 轮（epoch）."""
    problems = []
    for key, entry in catalog().items():
        prose = _prose(entry["zh"])
        if re.search(rf"\([^()]*[{CJK_CHARS}][^()]*\)|[{CJK_CHARS}]\(|\)[{CJK_CHARS}]", prose):
            problems.append(f"{key}: half-width brackets in Chinese prose")
        if re.search(r"\d\s+%", prose):
            problems.append(f"{key}: a space before %")
        if re.search(r"(?<!轮（)epoch", prose, flags=re.I):
            problems.append(f"{key}: epoch not glossed as 轮（epoch）")
    assert not problems, "\n".join(problems)


def test_no_english_words_inside_chinese_formulas():
    words = [(key, found) for key, entry in catalog().items()
             for found in re.findall(r"\\text\{([^}]*[A-Za-z]{3,}[^}]*)\}", entry["zh"])]
    assert not words, words


def test_no_stray_toml_escapes():
    """In a TOML basic string `\\t`, `\\f`, `\\b` and `\\r` are control characters: `$\\tilde{x}$` written with
    one backslash shows a tab and "ilde{x}"."""
    stray = [(key, lang) for key, entry in catalog().items() for lang, message in entry.items()
             if any(ord(char) < 32 and char != "\n" for char in message)]
    assert not stray, stray
