"""The Community Cloud entry (cloud/): the same app in hosted mode, with the same pins as the root
requirements except PyTorch's CPU-only builds."""

import os
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.conftest import APP_TIMEOUT, ROOT
from ui import hosted


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            name = line.split("=")[0].split(">")[0].split("<")[0]
            pins[name] = line[len(name):]
    return pins


def test_cloud_requirements_are_the_root_ones_with_cpu_torch():
    root, cloud = _pins(ROOT / "requirements.txt"), _pins(ROOT / "cloud" / "requirements.txt")
    assert cloud.pop("torch") == root.pop("torch") + "+cpu"
    assert cloud.pop("torchvision") == root.pop("torchvision") + "+cpu"
    assert cloud == root
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in (ROOT / "cloud" / "requirements.txt").read_text()


def test_cloud_entry_runs_the_app_in_hosted_mode(monkeypatch):
    monkeypatch.delenv(hosted.ENV, raising=False)          # the entry itself must switch hosted mode on
    try:
        app_test = AppTest.from_file(str(ROOT / "cloud" / "streamlit_app.py"), default_timeout=APP_TIMEOUT)
        app_test.query_params["lang"] = "zh"
        app_test.run()
        assert not app_test.exception
        assert app_test.title[0].value == "PyTorch 概念实验室"
        app_test.switch_page("../pages/distributed.py").run()
        assert not app_test.exception
        assert app_test.slider(key="distributed_world").max == 2
    finally:
        os.environ.pop(hosted.ENV, None)                   # AppTest runs in this process: don't leak it
