"""Download as a script, in real Chromium: the file the browser saves is the standalone export of
the experiment as set up in the link (a .py for page 63, a .zip with the pictures for page 70)."""

import ast
import io
import zipfile
from pathlib import Path

import pytest

from tests.browser import WAIT_MS
from tests.test_browser import browser, no_exception, open_page, server  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def download(page, key: str):
    button = page.locator(f".st-key-{key} button").first
    button.wait_for(timeout=WAIT_MS)
    with page.expect_download(timeout=WAIT_MS) as info:
        button.click()
    return info.value


def test_regression_downloads_a_standalone_script_of_its_settings(browser, server):  # noqa: F811
    page = open_page(browser, f"{server}/regression?regression_model=mlp&regression_steps=340&regression_seed=7")
    saved = download(page, "export_regression")
    assert saved.suggested_filename == "regression_experiment.py"
    source = Path(saved.path()).read_text()
    tree = ast.parse(source)                                     # a valid Python file
    assert ast.get_docstring(tree).startswith("63 · Regression")
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert {"main", "train", "make_data"} <= functions
    assert "model='mlp'" in source and "num_steps=340" in source and "seed=7" in source   # the link's settings
    modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    modules |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not {m for m in modules if m.split(".")[0] in ("engine", "ui")}, modules      # it stands alone
    no_exception(page)
    page.close()


def test_style_transfer_downloads_a_zip_with_its_pictures_in_chinese(browser, server):  # noqa: F811
    page = open_page(browser, f"{server}/style_transfer?lang=zh&style_transfer_steps=15")
    assert "下载为脚本" in page.locator(".st-key-export_style_transfer").first.inner_text()
    saved = download(page, "export_style_transfer")
    assert saved.suggested_filename == "style_transfer_experiment.zip"
    with zipfile.ZipFile(io.BytesIO(Path(saved.path()).read_bytes())) as archive:
        names = set(archive.namelist())
        assert names == {f"style_transfer_experiment/{name}" for name in
                         ("style_transfer_experiment.py", "content.png", "style.png")}
        source = archive.read("style_transfer_experiment/style_transfer_experiment.py").decode()
    ast.parse(source)
    assert "steps=15" in source and "--content" in source
    no_exception(page)
    page.close()
