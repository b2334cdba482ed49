"""``import skelmo`` is light: its public names are imported on first use (PEP 562)."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

import skelmo
from skelmo import _engine, _estimators, _format, models, training


def _python(code: str, stdin: str | None = None) -> str:
    result = subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_command_line_starts_without_torch_or_h5py():
    code = ("import sys, skelmo, skelmo.cli\n"
            "from skelmo.cli import main\n"
            "assert main(['--version']) == 0 and main(['embed', '--help']) == 0\n"
            "print(sorted(m for m in ('torch', 'h5py') if m in sys.modules))\n")
    assert _python(code).splitlines()[-1] == "[]"


def test_every_public_name_is_its_source_object():
    sources = {"models": models, "training": training}
    for name in skelmo.__all__:
        if name in sources:
            assert getattr(skelmo, name) is sources[name]
        else:
            owner = next(m for m in (_engine, _estimators, _format, training)
                         if name in getattr(m, "__all__", ()) or hasattr(m, name))
            assert getattr(skelmo, name) is getattr(owner, name), name
    assert set(skelmo.__all__) <= set(dir(skelmo))
    assert "__version__" in dir(skelmo) and isinstance(skelmo.__version__, str)
    namespace: dict = {}
    exec("from skelmo import *", namespace)
    assert set(skelmo.__all__) <= namespace.keys()
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        skelmo.no_such_name  # noqa: B018
    assert not hasattr(skelmo, "no_such_name")


def test_first_access_in_a_fresh_interpreter():
    # Unpickle an estimator before any public name is touched, then every name.
    data = pickle.dumps(skelmo.ElmoVectorizer(model="small", layer="top")).hex()
    code = ("import pickle, sys\n"
            "import skelmo\n"
            "assert 'torch' not in sys.modules\n"
            "estimator = pickle.loads(bytes.fromhex(sys.stdin.read()))\n"
            "assert type(estimator) is skelmo.ElmoVectorizer\n"
            "assert estimator.get_params()['layer'] == 'top'\n"
            "from skelmo import ElmoTokenVectorizer, models, train, training\n"
            "assert train is training.train and models.BUNDLED_MODEL\n"
            "assert all(getattr(skelmo, name) is not None for name in skelmo.__all__)\n"
            "print(skelmo.__version__)\n")
    assert _python(code, stdin=data).strip() == skelmo.__version__
