"""A small class on one hosted server (the CI version of `benchmarks/classroom.py`): six learners on
six pages, in both languages, press their page's main button within seconds of each other with the
demos' short settings (the benchmark's class uses the pages' defaults), and the image-lab learners
upload a picture after their run. Every run finishes,
no page shows an exception or an error, no session is lost, and the server's peak memory stays
under the cap scaled to the class (2.0 GB for 30 learners)."""

import pytest

from benchmarks.classroom import classroom, memory_cap_mb, report
from tests.browser import streamlit_server
from tests.conftest import WAIT
from tests.test_browser import browser  # noqa: F401  (the fixture)
from tests.test_browser_pages import draw_picture

pytestmark = pytest.mark.browser
LEARNERS = 6


def test_a_class_of_six_all_finish_without_errors_under_the_memory_cap(browser, tmp_path, capsys):  # noqa: F811
    picture = tmp_path / "drawn.png"
    draw_picture(picture)
    with streamlit_server(env={"PTLAB_HOSTED": "1", "PTLAB_PACE_SCALE": "1"}) as server:
        lines: list[str] = []
        figures = classroom(browser, server, LEARNERS, picture, timeout_s=WAIT, log=lines.append, short=True)
        met = report(figures, log=lines.append)
    with capsys.disabled():
        print("\n[classroom] " + "\n[classroom] ".join(lines))
    assert figures["finished"] == LEARNERS, figures["problems"]
    assert not figures["problems"], figures["problems"]
    assert figures["uploads"] >= 3                      # multitask, adversarial and UNet learners uploaded
    assert figures["peak_memory_mb"] <= memory_cap_mb(LEARNERS)
    assert met
