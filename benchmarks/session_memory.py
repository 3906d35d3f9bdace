"""What one learner's session keeps on the server after each page's default run, in hosted mode:
the bytes its Session State reaches (run records with models and curves, the faint previous run,
lab results), shared caches excluded (`ui.session_memory`). Each page is opened through the real
entry file (AppTest) and its main button pressed twice, so the previous run is kept too. (Uploads
are held by Streamlit's upload manager, at most 8 MB each in hosted mode.) Then the models are put
away, as the idle sweep or the session cap does (`ui.runner.Runner.put_away`), and it is measured
again. Prints a table for docs/hosting.md.

    python benchmarks/session_memory.py [slug ...]
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PTLAB_HOSTED", "1")
os.environ["PTLAB_PACE_SCALE"] = "0"

from streamlit.testing.v1 import AppTest

from engine.device import configure_threads
from ui import runner as jobs
from ui.records import RunRecord
from ui.sessions import session_bytes

ENTRY = Path(__file__).resolve().parents[1] / "streamlit_app.py"
# page, main experiment, link settings
PAGES = [("multitask", "multitask_train", {"multitask_input": "upload"}), ("lstm", "lstm_forecast_train", {}),
         ("regression", "regression_train", {}), ("optimizers", "optimizers_network", {}),
         ("adversarial", "adversarial_train", {"adversarial_input": "upload"}), ("unet", "unet_train", {}),
         ("autoencoder", "autoencoder_train", {}), ("half_precision", "half_precision_train", {}),
         ("distributed", "distributed_train", {}), ("style_transfer", "style_transfer_run", {})]


def measure(slug: str, key: str, link: dict) -> tuple[float, float]:
    test = AppTest.from_file(str(ENTRY), default_timeout=600)
    for name, value in link.items():
        test.query_params[name] = value
    test.run()
    test.switch_page(f"pages/{slug}.py").run()
    for _ in range(2):
        test.button(key=f"act_{key}").click().run()
        assert jobs.wait_for_runs(timeout=1200)
        test.run()
    assert not test.exception, [e.message for e in test.exception]
    state = test._session_state.filtered_state
    kept = session_bytes(state) / 1e6
    for value in state.values():                   # what the idle sweep or the session cap would do
        if isinstance(value, RunRecord):
            jobs.runner().put_away(value.job)
    return kept, session_bytes(state) / 1e6


def main() -> int:
    configure_threads(1)                 # the server's policy on 2 cores: one run, one thread
    print(f"hosted mode: {os.environ.get('PTLAB_HOSTED')}; each page's default run, pressed twice")
    print("| page | kept by the session (MB) | with its models put away (MB) |")
    print("|---|---|---|")
    chosen = set(sys.argv[1:])                 # page slugs to measure (default: all)
    for slug, key, link in PAGES:
        if chosen and slug not in chosen:
            continue
        kept, put_away = measure(slug, key, link)
        print(f"| {slug} | {kept:.2f} | {put_away:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
