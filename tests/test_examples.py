"""The example scripts run: in the docs build, or here when the docs cannot be built.

sphinx-gallery executes every script in examples/ when the documentation is
built, and tests/test_docs.py builds it and checks each script's output. Running
the scripts here as well would only double the time they take (about two minutes
together), so this module skips when the docs tools are installed.

Without them the docs test skips, and one script runs here: the quickstart. It
needs no data download and no matplotlib, takes seconds, and embeds sentences
with an estimator's default model, the bundled one, end to end. The other
examples download data sets and plot; the skelmo code they use is covered by
the estimator, scikit-learn integration and dataset tests.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .test_docs import _MISSING as _MISSING_DOCS_TOOLS

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

pytestmark = pytest.mark.skipif(
    not _MISSING_DOCS_TOOLS,
    reason="tests/test_docs.py runs every example in the docs build",
)


def test_quickstart_runs(tmp_path):
    result = subprocess.run([sys.executable, str(EXAMPLES / "quickstart.py")], check=False,
                            cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    # Layer 0 of the bundled model, then its LSTM layers, compared across four sentences.
    assert "3 layers (the token layer and 2 LSTM layers), 256 numbers" in result.stdout
    assert "layer 2: cosine similarity of 'bank'" in result.stdout
