"""Whether this server is a hosted demo (`PTLAB_HOSTED=1`), readable without importing torch: the
entry file asks on every page, the home page included, which never loads torch (`ui.hosted` has
the caps that follow from it)."""

import os

ENV = "PTLAB_HOSTED"


def hosted() -> bool:
    return os.environ.get(ENV, "").strip().lower() in {"1", "true", "yes", "on"}
