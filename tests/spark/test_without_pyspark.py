"""skelmo.spark without PySpark: the module imports, and transform says what to install."""

from __future__ import annotations

import importlib
import sys

import pytest

import skelmo
from skelmo import ElmoVectorizer


def test_without_pyspark_the_module_imports_and_says_what_to_install(monkeypatch):
    for name in list(sys.modules):
        if name.split(".")[0] in ("pyspark", "py4j"):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "pyspark", None)  # blocks `import pyspark`
    monkeypatch.delitem(sys.modules, "skelmo.spark", raising=False)
    monkeypatch.delitem(sys.modules, "skelmo.spark._tasks", raising=False)
    if hasattr(skelmo, "spark"):
        monkeypatch.setattr(skelmo, "spark", skelmo.spark)

    fresh = importlib.import_module("skelmo.spark")
    with pytest.raises(ImportError, match=r"pip install 'skelmo\[spark\]'"):
        fresh.transform(object(), ElmoVectorizer(), "text")
