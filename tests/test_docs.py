"""The documentation builds without a single warning, running every example."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"

_NEEDED = ("sphinx", "numpydoc", "sphinx_gallery", "myst_parser", "matplotlib")
_MISSING = [name for name in _NEEDED if importlib.util.find_spec(name) is None]

pytestmark = pytest.mark.skipif(
    bool(_MISSING),
    reason=f"building the docs needs {', '.join(_MISSING)}: pip install sphinx numpydoc "
    "sphinx-gallery myst-parser matplotlib pydata-sphinx-theme",
)


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    """Build the HTML docs into a temporary directory; warnings are errors."""
    # Outputs of earlier builds: without them sphinx-gallery runs every example again
    # (it skips examples whose output it already has), and no stale page is left behind.
    for generated in ("auto_examples", "gen_modules"):
        shutil.rmtree(DOCS / generated, ignore_errors=True)
    out = tmp_path_factory.mktemp("html")
    env = dict(os.environ, MPLBACKEND="agg")
    env.pop("SKELMO_DOCS_NO_EXAMPLES", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "docs", str(out)],
        check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800,
    )
    assert result.returncode == 0, (
        f"the docs build failed (exit {result.returncode}):\n"
        f"{result.stderr[-6000:]}\n--- stdout ---\n{result.stdout[-3000:]}"
    )
    return out


@pytest.mark.parametrize("page", [
    "index.html",
    "getting_started.html",
    "user_guide/index.html",
    "user_guide/state.html",
    "comparison.html",
    "model_card.html",
    "api/index.html",
    "api/generated/skelmo.ElmoVectorizer.html",
    "api/generated/skelmo.ElmoTokenVectorizer.html",
    "auto_examples/index.html",
])
def test_page_exists(html, page):
    assert (html / page).is_file()


def test_api_page_documents_the_estimator(html):
    text = (html / "api" / "generated" / "skelmo.ElmoVectorizer.html").read_text("utf-8")
    for anchor in ("skelmo.ElmoVectorizer", "skelmo.ElmoVectorizer.fit",
                   "skelmo.ElmoVectorizer.transform", "skelmo.ElmoVectorizer.fit_transform"):
        assert f'id="{anchor}"' in text


# The text an example printed, as sphinx-gallery renders it.
_SCRIPT_OUTPUT = re.compile(r'<div class="sphx-glr-script-out[^"]*">(.*?)</pre>', re.DOTALL)


def test_every_example_ran(html):
    """sphinx-gallery ran every script: its output, and its figures, are on its page.

    This is the test that runs the examples (test_examples.py steps aside when the
    docs can be built). Every example prints its results; a ``plot_*`` script also
    draws at least one figure. Python warnings raised while an example runs are
    written into its output, and none is expected.
    """
    scripts = [p for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")]
    assert scripts
    for script in scripts:
        page = html / "auto_examples" / f"{script.stem}.html"
        assert page.is_file(), f"no gallery page for {script.name}"
        text = page.read_text("utf-8")
        outputs = _SCRIPT_OUTPUT.findall(text)
        assert any(o.strip() for o in outputs), f"{script.name} did not run (no output)"
        printed = "\n".join(outputs)
        assert "Warning:" not in printed and "Traceback" not in printed, (
            f"{script.name} printed a warning or an error:\n{printed[:3000]}")
        if script.name.startswith("plot_"):
            assert f"sphx_glr_{script.stem}_001.png" in text, f"{script.name} drew no figure"
