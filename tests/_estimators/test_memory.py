"""The persistent cache (``memory=``): reuse across processes, keys, damage, bounds."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.base import clone

from skelmo import BiLM, DiskCache, ElmoTokenVectorizer, ElmoVectorizer
from skelmo.testing import make_random_model

DOCS = ["The cat sat on the mat .", "Dogs bark . Birds sing .", "", "The cat sat on the mat ."]

# Runs in a fresh process: transform DOCS with a persistent cache, count the biLM's
# forward passes, save the output.
_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from skelmo import BiLM, ElmoTokenVectorizer, ElmoVectorizer
    calls = 0
    original = BiLM.contextualize
    def counting(self, *args, **kwargs):
        global calls
        calls += 1
        return original(self, *args, **kwargs)
    BiLM.contextualize = counting
    model, memory, kind, out = sys.argv[1:5]
    docs = sys.argv[5:]
    if kind == "pooled":
        X = ElmoVectorizer(model=model, memory=memory).transform(docs)
    else:
        X = np.concatenate(ElmoTokenVectorizer(model=model, memory=memory,
                                               output="ragged").transform(docs))
    np.save(out, X)
    print(calls)
""")


def _run(model, memory, kind, out):
    done = subprocess.run([sys.executable, "-c", _SCRIPT, str(model), str(memory), kind,
                           str(out), *DOCS], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1]), np.load(out)


@pytest.fixture
def model(tmp_path):
    make_random_model(tmp_path / "model", seed=3)
    return tmp_path / "model"


def _entries(memory: Path) -> list[Path]:
    return sorted(memory.rglob("*.entry"))


@pytest.mark.parametrize("kind", ["pooled", "tokens"])
def test_a_second_process_reads_the_results_without_the_bilm(tmp_path, model, kind):
    memory = tmp_path / "cache"
    calls, first = _run(model, memory, kind, tmp_path / "first.npy")
    assert calls > 0
    assert len(_entries(memory)) == 3  # three distinct documents
    calls, second = _run(model, memory, kind, tmp_path / "second.npy")
    assert calls == 0
    np.testing.assert_array_equal(first, second)
    # What the cache gives is what the biLM computes.
    if kind == "pooled":
        expected = ElmoVectorizer(model=str(model), cache=False).transform(DOCS)
    else:
        expected = np.concatenate(ElmoTokenVectorizer(model=str(model), cache=False,
                                                      output="ragged").transform(DOCS))
    np.testing.assert_array_equal(second, expected)


def test_keyed_by_the_model_content_not_its_path(tmp_path, model, monkeypatch):
    memory = tmp_path / "cache"
    ElmoVectorizer(model=str(model), memory=memory, cache=False).transform(DOCS)
    copy = tmp_path / "copy"
    shutil.copytree(model, copy)
    calls = []
    original = BiLM.contextualize_packed  # the default policy's path
    monkeypatch.setattr(BiLM, "contextualize_packed",
                        lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    ElmoVectorizer(model=str(copy), memory=memory, cache=False).transform(DOCS)
    assert calls == []  # the same weights elsewhere: the same entries
    make_random_model(tmp_path / "other", seed=4)
    ElmoVectorizer(model=str(tmp_path / "other"), memory=memory, cache=False).transform(DOCS)
    assert calls  # other weights: computed
    assert len(_entries(memory)) == 6


def test_state_segmentation_and_tokens_are_part_of_the_key(tmp_path, model):
    memory = tmp_path / "cache"

    def vectors(**params):
        return ElmoVectorizer(model=str(model), memory=memory, cache=False,
                              **params).transform(DOCS)

    warm = vectors()
    zero = vectors(state="zero")
    split = vectors(split_sentences=True)
    lower = vectors(preprocessor=str.lower)
    assert not np.array_equal(warm, zero)
    assert not np.array_equal(warm[1], split[1])
    assert np.array_equal(warm[0], split[0])  # one sentence: the same sequence, pooled alike
    assert not np.array_equal(warm[0], lower[0])
    assert len(_entries(memory)) == 3 + 3 + 1 + 2  # split and lowercased add only new keys
    np.testing.assert_array_equal(vectors(state="zero"), zero)


def test_a_damaged_entry_is_recomputed_never_returned(tmp_path, model):
    memory = tmp_path / "cache"
    expected = ElmoVectorizer(model=str(model), memory=memory, cache=False).transform(DOCS)
    entries = _entries(memory)
    entries[0].write_bytes(entries[0].read_bytes()[:-7])  # truncated
    raw = bytearray(entries[1].read_bytes())
    raw[-1] ^= 0xFF  # one flipped byte
    entries[1].write_bytes(bytes(raw))
    got = ElmoVectorizer(model=str(model), memory=memory, cache=False).transform(DOCS)
    np.testing.assert_array_equal(got, expected)
    # Both were written again, intact.
    again = ElmoVectorizer(model=str(model), memory=memory, cache=False).transform(DOCS)
    np.testing.assert_array_equal(again, expected)
    assert len(_entries(memory)) == 3


def test_joblib_memory_and_invalid_values(tmp_path, model):
    location = tmp_path / "joblib"
    vectorizer = ElmoVectorizer(model=str(model), memory=joblib.Memory(location, verbose=0))
    vectorizer.transform(DOCS)
    assert _entries(location)
    with pytest.raises(ValueError, match="location"):
        ElmoVectorizer(model=str(model), memory=joblib.Memory(None)).transform(DOCS)
    with pytest.raises(ValueError, match="memory must be None, a directory path, a "
                                         "joblib.Memory or a skelmo.DiskCache"):
        ElmoVectorizer(model=str(model), memory=3).transform(DOCS)


def test_stateful_never_uses_the_persistent_cache(tmp_path, model):
    memory = tmp_path / "cache"
    ElmoVectorizer(model=str(model), memory=memory, state="stateful").transform(DOCS)
    assert not _entries(memory)


def test_the_cache_can_be_cleared_and_bounded(tmp_path, model):
    memory = tmp_path / "cache"
    (memory / "mine.txt").parent.mkdir(parents=True)
    (memory / "mine.txt").write_text("not the cache's")
    ElmoVectorizer(model=str(model), memory=memory).transform(DOCS)
    assert _entries(memory)
    DiskCache(memory).clear()
    assert not _entries(memory)
    assert (memory / "mine.txt").read_text() == "not the cache's"
    # A DiskCache as memory sets the bound: here room for about one document.
    one = ElmoVectorizer(model=str(model), memory=memory, cache=False).transform(DOCS[:1])[0]
    assert one.shape == (32,)
    size = _entries(memory)[0].stat().st_size
    # Eviction goes down to 90% of the bound: one entry of this size is kept.
    small = DiskCache(memory, max_bytes=int(1.5 * size))
    vectorizer = ElmoVectorizer(model=str(model), memory=small, cache=False)
    assert clone(vectorizer).memory.max_bytes == int(1.5 * size)
    vectorizer.transform(DOCS)
    assert len(_entries(memory)) == 1
