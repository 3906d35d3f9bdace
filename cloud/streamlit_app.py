"""Entry file for Streamlit Community Cloud: the same app, in hosted mode, with CPU-only PyTorch.

Community Cloud installs the requirements file that sits beside the entry file, so this folder's
requirements.txt (CPU wheels from download.pytorch.org, about 200 MB instead of several GB of
CUDA libraries) is used instead of the root one. See docs/hosting.md's deployment section.
"""

import os
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PTLAB_HOSTED", "1")          # caps for a small shared server (ui/hosted.py)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
runpy.run_path(str(ROOT / "streamlit_app.py"), run_name="__main__")
