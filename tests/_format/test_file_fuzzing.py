"""Fuzzing the model files: corrupt or truncated files never pass for good ones.

A damaged ``options.json`` or weights file must either raise
:class:`skelmo.ModelFileError` (naming the file at fault) or load exactly the
weights that were written: never another exception type (a raw h5py,
NumPy, ``OSError``, ``KeyError`` or ``UnicodeError``), never weights that
differ from the original, never non-finite ones.
"""

from __future__ import annotations

import contextlib
import json
import signal
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skelmo import ModelFileError, read_model
from skelmo.testing import make_random_model

from .test_files import flat

# Moderate budgets: the whole file runs in well under a minute on one core.
FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@dataclass(frozen=True)
class Model:
    """A model's two files as bytes, and its weights as read back (short repr for reports)."""

    options: bytes
    weights: bytes
    arrays: dict[str, np.ndarray]
    parsed: dict

    def __repr__(self) -> str:
        return f"Model(options={len(self.options)} bytes, weights={len(self.weights)} bytes)"


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> Model:
    """A small model, written once."""
    options_file, weight_file = make_random_model(
        tmp_path_factory.mktemp("fuzz-model"), projection_dim=8, cell_dim=16,
        filters=((1, 4), (2, 8)), n_highway=1, n_layers=1, seed=2)
    _, weights = read_model(options_file, weight_file)
    return Model(options_file.read_bytes(), weight_file.read_bytes(), flat(weights),
                 json.loads(options_file.read_text()))


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail with TimeoutError instead of hanging (a loop over a count read from the file)."""

    def expire(signum, frame):
        raise TimeoutError(f"took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check_load(options_bytes: bytes, weight_bytes: bytes, original: Model) -> None:
    """Write the two files to a fresh directory and read them: the property every test checks."""
    with tempfile.TemporaryDirectory() as tmp:
        options_file, weight_file = Path(tmp) / "options.json", Path(tmp) / "weights.hdf5"
        options_file.write_bytes(options_bytes)
        weight_file.write_bytes(weight_bytes)
        try:
            with time_limit(20):
                _, weights = read_model(options_file, weight_file)
        except ModelFileError as exc:
            assert exc.path in (str(options_file), str(weight_file)), exc
            assert exc.path in str(exc)
            return
    got = flat(weights)
    assert got.keys() == original.arrays.keys()
    for name, expected in original.arrays.items():
        assert got[name].dtype == np.float32, name
        assert np.isfinite(got[name]).all(), name
        assert np.array_equal(got[name], expected), f"{name} loaded with other values"


def corrupted(data: bytes, edits: list[tuple[int, int, bool]]) -> bytes:
    """``data`` with each ``(offset, value, flip)`` applied: XOR with value, or overwrite."""
    out = bytearray(data)
    for offset, value, flip in edits:
        position = offset % len(out)
        out[position] = out[position] ^ value if flip else value
    return bytes(out)


EDITS = st.lists(
    st.tuples(st.integers(min_value=0, max_value=2**31), st.integers(min_value=1, max_value=255),
              st.booleans()),
    min_size=1, max_size=8,
)


# -- the weights file ------------------------------------------------------------------------


@FUZZ
@given(edits=EDITS)
def test_corrupted_weights_are_refused_or_identical(original, edits):
    check_load(original.options, corrupted(original.weights, edits), original)


@FUZZ
@given(fraction=st.floats(min_value=0.0, max_value=1.0, exclude_max=True))
def test_truncated_weights_are_refused(original, fraction):
    data = original.weights
    check_load(original.options, data[: int(fraction * len(data))], original)


# -- options.json ----------------------------------------------------------------------------


@FUZZ
@given(edits=EDITS)
def test_corrupted_options_are_refused_or_give_the_weights(original, edits):
    check_load(corrupted(original.options, edits), original.weights, original)


@FUZZ
@given(fraction=st.floats(min_value=0.0, max_value=1.0, exclude_max=True))
def test_truncated_options_are_refused(original, fraction):
    data = original.options
    check_load(data[: int(fraction * len(data))], original.weights, original)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10,
)


def _paths(data, prefix=()) -> list[tuple]:
    """Every key path of a nested JSON object, lists' indices included."""
    found = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _paths(value, (*prefix, index))
    return found


@FUZZ
@given(data=st.data())
def test_options_of_wrong_types_are_refused_or_give_the_weights(original, data):
    options = json.loads(json.dumps(original.parsed))
    paths = _paths(options)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3), label="n_edits")):
        path = data.draw(st.sampled_from(paths), label="path")
        value = data.draw(JSON, label="value")
        target = options
        try:
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit replaced a parent of this path
    check_load(json.dumps(options).encode(), original.weights, original)


@pytest.mark.parametrize("value", [10**7, 2**62, 2**70])
@pytest.mark.parametrize("key", ["char_cnn.n_highway", "lstm.n_layers"])
def test_huge_layer_counts_are_refused_at_once(original, key, value):
    """A count the weights cannot have is refused at the first missing dataset, not looped over."""
    options = json.loads(json.dumps(original.parsed))
    section, name = key.split(".")
    options[section][name] = value
    with time_limit(2):
        check_load(json.dumps(options).encode(), original.weights, original)


@FUZZ
@given(value=JSON)
def test_options_that_are_any_json_value_are_refused(original, value):
    check_load(json.dumps(value).encode(), original.weights, original)
