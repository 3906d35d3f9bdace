"""Reduced motion (issue 31, WCAG 2.3.3): for a learner whose browser asks for it, a run paced for
watching (page 63's fit) is not paced, and a replay plays its reports at once; otherwise both are
as before. The browser's preference reaching the session is checked in Chromium
(tests/test_browser_a11y.py)."""

import pytest

from tests.conftest import WAIT
from ui import runner
from ui.widgets import REDUCED_MOTION


@pytest.mark.parametrize("reduced", [False, True])
def test_a_paced_run_is_shown_at_once_when_motion_is_reduced(app, monkeypatch, reduced):
    monkeypatch.setenv("PTLAB_PACE_SCALE", "1")               # the page's own pacing, as served
    test = app("pages/regression.py")
    assert [b for b in test.button if b.key == "motion_probe_button"]      # the session does not know yet
    if reduced:
        test.button(key="motion_probe_button").click().run()     # what the page's script does for the browser
        assert test.session_state[REDUCED_MOTION] is True
        assert not [b for b in test.button if b.key == "motion_probe_button"]   # asked once
    test.button(key="act_regression_train").click().run()
    job = test.session_state["regression_train"].job
    assert (job.pace == 0 and job._skip) if reduced else (job.pace > 0 and not job._skip)
    runner.runner().stop(job)
    assert runner.wait_for_runs(timeout=WAIT)
