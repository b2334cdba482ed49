"""The process-wide model cache and the activation cache."""

from __future__ import annotations

import gc
import os
import random
import weakref

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

import skelmo
from skelmo import BiLM, ElmoTokenVectorizer, ElmoVectorizer, activation_cache
from skelmo._engine import ActivationCache, warm_state
from skelmo.testing import make_random_model

WORDS = ["zax", "quiz", "jazz", "fizz", "tool", "sell", "mall", "tell",
         "the", "a", "saw", "near", "big", "one", "old", "."]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _isolated_caches():
    max_bytes = activation_cache.max_bytes
    activation_cache.clear()
    skelmo.clear_model_cache()
    yield
    activation_cache.max_bytes = max_bytes
    activation_cache.clear()
    skelmo.clear_model_cache()


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    return make_random_model(tmp_path_factory.mktemp("cache-model"), seed=2)


@pytest.fixture(scope="module")
def model_dir(model_files):
    return str(model_files[0].parent)


@pytest.fixture
def bilm_runs(monkeypatch, model_files):
    """Sentences run through any biLM from now on (warm-up derivation done beforehand)."""
    warm_state(skelmo.load_bilm(*model_files, device="auto"))  # the estimators' default
    counter = {"sentences": 0, "calls": 0}
    contextualize = BiLM.contextualize

    def counting_contextualize(self, tokens, *args, **kwargs):
        counter["sentences"] += tokens.shape[0]
        counter["calls"] += 1
        return contextualize(self, tokens, *args, **kwargs)

    streams = BiLM.contextualize_streams

    def counting_streams(self, tokens, lengths, groups, *args, **kwargs):
        counter["sentences"] += sum(len(group) for group in groups)
        counter["calls"] += 1
        return streams(self, tokens, lengths, groups, *args, **kwargs)

    packed = BiLM.contextualize_packed

    def counting_packed(self, tokens, lengths, groups, *args, **kwargs):
        counter["sentences"] += sum(len(group) for group in groups)
        counter["calls"] += 1
        return packed(self, tokens, lengths, groups, *args, **kwargs)

    monkeypatch.setattr(BiLM, "contextualize", counting_contextualize)
    monkeypatch.setattr(BiLM, "contextualize_streams", counting_streams)
    monkeypatch.setattr(BiLM, "contextualize_packed", counting_packed)
    return counter


def corpus(n: int, seed: int = 0, cased: bool = False) -> list[str]:
    rng = random.Random(seed)
    docs = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(1, 6))]
        if cased:
            words[0] = words[0].capitalize()
        docs.append(" ".join(words))
    return docs


def n_distinct(docs: list[str]) -> int:
    return len({tuple(doc.split()) for doc in docs})


# -- model cache ---------------------------------------------------------------------------


def test_estimators_and_clones_share_one_model(monkeypatch, model_files, model_dir, tmp_path):
    loads = []
    from_files = BiLM.from_files.__func__

    def counting_from_files(cls, *args, **kwargs):
        loads.append(args)
        return from_files(cls, *args, **kwargs)

    monkeypatch.setattr(BiLM, "from_files", classmethod(counting_from_files))
    docs = corpus(5)
    first = ElmoVectorizer(model=model_dir)
    expected = first.transform(docs)
    os.symlink(model_dir, tmp_path / "link")
    others = [clone(first), ElmoVectorizer(model=model_dir, layer=1),
              ElmoTokenVectorizer(model=model_files), ElmoVectorizer(model=tmp_path / "link")]
    for estimator in others:
        estimator.fit(docs).transform(docs)
    np.testing.assert_array_equal(others[0].transform(docs), expected)
    assert len(loads) == 1
    bilm = skelmo.load_bilm(*model_files, device="auto")
    assert skelmo.load_bilm(*model_files, device="auto") is bilm
    device = "cuda" if torch.cuda.is_available() else "cpu"
    assert skelmo.load_bilm(str(model_files[0]), str(model_files[1]), device) is bilm
    assert len(loads) == 1
    skelmo.clear_model_cache()
    assert skelmo.load_bilm(*model_files, device="auto") is not bilm
    assert len(loads) == 2


def rewrite(directory, seed: int, keep_mtime: bool = False) -> None:
    """Write another model over the files in ``directory``: same names, same sizes."""
    paths = [os.path.join(directory, name) for name in ("options.json", "weights.hdf5")]
    before = [os.stat(path) for path in paths]
    make_random_model(directory, seed=seed)
    for path, old in zip(paths, before):
        if keep_mtime:  # as a copy with preserved timestamps would be (cp -p, rsync -t)
            os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns))
            assert os.stat(path).st_mtime_ns == old.st_mtime_ns
        assert os.stat(path).st_size == old.st_size


@pytest.mark.parametrize("keep_mtime", [False, True])
def test_rewritten_model_files_are_reloaded(tmp_path, keep_mtime):
    model_dir, fresh_dir = tmp_path / "model", tmp_path / "fresh"
    make_random_model(model_dir, seed=0)
    make_random_model(fresh_dir, seed=1)
    docs = corpus(8)
    old_bilm = skelmo.load_bilm(model_dir / "options.json", model_dir / "weights.hdf5", "auto")
    vectorizer = ElmoVectorizer(model=model_dir, layer="all")
    before = vectorizer.transform(docs)
    rewrite(model_dir, seed=1, keep_mtime=keep_mtime)
    after = vectorizer.transform(docs)
    assert not np.allclose(before, after)
    # The new weights' results, not a stale model's nor stale activations.
    np.testing.assert_array_equal(
        after, ElmoVectorizer(model=fresh_dir, layer="all", cache=False).transform(docs))
    new_bilm = skelmo.load_bilm(model_dir / "options.json", model_dir / "weights.hdf5", "auto")
    assert new_bilm is not old_bilm
    # The model of the old files is not kept alive by the cache.
    old = weakref.ref(old_bilm)
    del old_bilm
    gc.collect()
    assert old() is None


# -- activation cache ----------------------------------------------------------------------


def test_grid_search_runs_each_document_once(model_dir, bilm_runs):
    docs = corpus(60) + corpus(10)  # duplicates too
    y = np.arange(len(docs)) % 2
    search = GridSearchCV(
        Pipeline([("elmo", ElmoVectorizer(model=model_dir)),
                  ("clf", LogisticRegression())]),
        {"elmo__layer": [0, 1, 2, "mix"]}, cv=5, n_jobs=1,
    )
    search.fit(docs, y)
    assert bilm_runs["sentences"] == n_distinct(docs)
    assert activation_cache.hits > 0
    search.predict(docs)
    assert bilm_runs["sentences"] == n_distinct(docs)


def test_cache_false_recomputes(model_dir, bilm_runs):
    docs = corpus(20)
    vectorizer = ElmoVectorizer(model=model_dir, cache=False)
    first = vectorizer.transform(docs)
    second = vectorizer.transform(docs)
    np.testing.assert_array_equal(first, second)
    assert bilm_runs["sentences"] == 2 * n_distinct(docs)
    assert len(activation_cache) == 0


def test_cache_true_reuses_and_matches(model_dir, bilm_runs):
    docs = corpus(20)
    vectorizer = ElmoVectorizer(model=model_dir, layer="all")
    computed = vectorizer.transform(docs)
    cached = vectorizer.transform(docs[::-1])
    assert bilm_runs["sentences"] == n_distinct(docs)
    np.testing.assert_array_equal(cached, computed[::-1])
    np.testing.assert_array_equal(
        computed, ElmoVectorizer(model=model_dir, layer="all", cache=False).transform(docs))


@pytest.mark.parametrize("cls", [ElmoVectorizer, ElmoTokenVectorizer])
def test_state_policies_never_share_results(model_dir, bilm_runs, cls):
    docs = corpus(12)
    kwargs = {"layer": 2} if cls is ElmoVectorizer else {"layer": 2, "output": "flat"}
    warm = cls(model=model_dir, **kwargs).transform(docs)
    zero = cls(model=model_dir, state="zero", **kwargs).transform(docs)
    assert bilm_runs["sentences"] == 2 * n_distinct(docs)
    assert not np.allclose(warm, zero)
    np.testing.assert_array_equal(
        zero, cls(model=model_dir, state="zero", cache=False, **kwargs).transform(docs))
    np.testing.assert_array_equal(warm, cls(model=model_dir, **kwargs).transform(docs))


def test_tokenizers_never_share_results(model_dir, bilm_runs):
    docs = corpus(12, cased=True)
    default = ElmoVectorizer(model=model_dir).transform(docs)
    runs = bilm_runs["sentences"]
    lowered = ElmoVectorizer(model=model_dir, tokenizer=lambda s: s.lower().split()
                             ).transform(docs)
    assert bilm_runs["sentences"] > runs
    assert not np.allclose(lowered, default)
    np.testing.assert_array_equal(
        lowered, ElmoVectorizer(model=model_dir, cache=False).transform([d.lower() for d in docs]))
    # A tokenizer giving the same tokens is served from the cache, correctly.
    runs = bilm_runs["sentences"]
    same = ElmoVectorizer(model=model_dir, tokenizer=lambda s: s.split(" ")).transform(docs)
    assert bilm_runs["sentences"] == runs
    np.testing.assert_array_equal(same, default)


def test_models_never_share_results(tmp_path, model_dir):
    other = tmp_path / "other"
    make_random_model(other, seed=5)
    docs = corpus(10)
    ours = ElmoVectorizer(model=model_dir).transform(docs)
    theirs = ElmoVectorizer(model=other).transform(docs)
    assert not np.allclose(ours, theirs)
    np.testing.assert_array_equal(theirs, ElmoVectorizer(model=other, cache=False).transform(docs))


def test_document_and_token_results_kept_apart(model_dir):
    docs = corpus(10)
    pooled = ElmoVectorizer(model=model_dir, layer=1).transform(docs)
    tokens = ElmoTokenVectorizer(model=model_dir, layer=1, output="ragged").transform(docs)
    assert [t.shape[0] for t in tokens] == [len(d.split()) for d in docs]
    np.testing.assert_allclose(pooled, np.stack([t.mean(axis=0) for t in tokens]),
                               rtol=1e-5, atol=1e-6)


def test_max_bytes_is_respected(model_dir):
    docs = list(dict.fromkeys(corpus(60)))
    ElmoVectorizer(model=model_dir).transform(docs[:1])
    entry = activation_cache.nbytes  # one document's pooled layers
    assert entry > 0 and len(activation_cache) == 1
    activation_cache.max_bytes = 5 * entry
    vectorizer = ElmoVectorizer(model=model_dir, layer="all")
    expected = ElmoVectorizer(model=model_dir, layer="all", cache=False).transform(docs)
    np.testing.assert_array_equal(vectorizer.transform(docs), expected)
    assert activation_cache.nbytes <= activation_cache.max_bytes
    assert len(activation_cache) == 5
    # Lowering the budget evicts at once.
    activation_cache.max_bytes = 2 * entry
    assert len(activation_cache) == 2 and activation_cache.nbytes <= 2 * entry
    np.testing.assert_array_equal(vectorizer.transform(docs), expected)
    # Entries larger than the whole budget are not stored.
    ElmoTokenVectorizer(model=model_dir).transform([" ".join(["word"] * 30)])
    assert activation_cache.nbytes <= activation_cache.max_bytes


def test_max_bytes_zero_disables(model_dir, bilm_runs):
    docs = corpus(10)
    ElmoVectorizer(model=model_dir).transform(docs)
    assert len(activation_cache) > 0
    activation_cache.max_bytes = 0
    assert len(activation_cache) == 0 and activation_cache.nbytes == 0
    runs = bilm_runs["sentences"]
    first = ElmoVectorizer(model=model_dir).transform(docs)
    second = ElmoVectorizer(model=model_dir).transform(docs)
    np.testing.assert_array_equal(first, second)
    assert bilm_runs["sentences"] - runs == 2 * n_distinct(docs)
    assert len(activation_cache) == 0


@pytest.mark.parametrize("value", [-1, 1.5, "1", None, True])
def test_max_bytes_must_be_a_count(value):
    before = activation_cache.max_bytes
    with pytest.raises(ValueError, match="max_bytes"):
        activation_cache.max_bytes = value
    assert activation_cache.max_bytes == before


def test_stateful_never_uses_the_cache(model_dir, bilm_runs):
    docs = corpus(10)
    vectorizer = ElmoVectorizer(model=model_dir, state="stateful", batch_size=4)
    vectorizer.transform(docs)
    vectorizer.transform(docs)
    assert bilm_runs["sentences"] == 2 * len(docs)
    assert len(activation_cache) == 0


def test_activation_cache_is_least_recently_used():
    cache = ActivationCache(max_bytes=3 * 80)
    arrays = {name: np.full(10, i, dtype=np.float64) for i, name in enumerate("abcde")}
    for name in "abc":
        cache.put(name, arrays[name])
    assert len(cache) == 3 and cache.nbytes == 240
    assert cache.get("a") is arrays["a"]  # now the most recently used
    cache.put("d", arrays["d"])
    assert cache.get("b") is None and cache.get("a") is not None
    cache.put("e", (arrays["e"][:5], arrays["e"][5:]))  # tuples count all their arrays
    assert cache.nbytes == 240 and cache.get("c") is None
    cache.put("huge", np.zeros(100))
    assert cache.get("huge") is None and len(cache) == 3
    cache.put("a", np.zeros(100))  # replacing with an oversized value drops the old one
    assert cache.get("a") is None and cache.nbytes == 160
    assert (cache.hits, cache.misses) == (2, 4)
    cache.clear()
    assert len(cache) == 0 and cache.nbytes == 0 and cache.hits == cache.misses == 0


def test_activation_cache_get_many():
    cache = ActivationCache(max_bytes=2 * 80)
    a, b = np.zeros(10), np.ones(10)
    cache.put("a", a)
    cache.put("b", b)
    values = cache.get_many(["b", "missing", "a"])
    assert values[0] is b and values[1] is None and values[2] is a
    assert (cache.hits, cache.misses) == (2, 1)
    cache.put("c", np.zeros(10))  # "b" was used before "a": "b" goes
    assert cache.get_many(["a", "b", "c"])[1] is None
