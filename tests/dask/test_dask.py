"""skelmo.dask on a real dask.distributed LocalCluster with two worker processes.

One cluster serves the whole module (starting one costs seconds). Results are
compared bitwise with a single-process transform in this process: under the
default "warm" state policy a document's vectors do not depend on its batch.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

import skelmo
import skelmo.dask as skelmo_dask
from skelmo import ElmoTokenVectorizer, ElmoVectorizer, split_sentences
from skelmo.testing import make_random_model
from tests._labelled import labelled_documents


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


HAVE_DASK = all(_installed(name) for name in ("dask", "distributed", "pyarrow"))
needs_dask = pytest.mark.skipif(not HAVE_DASK, reason="needs skelmo[dask]")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ----------------------------------------------------------------- worker-side helpers
# Module-level, so that workers unpickle them by reference (the workers are spawned
# with this process's sys.path).

class _LoadCounter:
    """Stands in for skelmo._engine._cache.BiLM on a worker: counts model loads per weights file."""

    def __init__(self, real):
        self.real = real
        self.loads: Counter[str] = Counter()

    def from_files(self, options_file, weight_file, *args, **kwargs):
        self.loads[str(Path(weight_file).resolve().parent)] += 1
        return self.real.from_files(options_file, weight_file, *args, **kwargs)


def _count_model_loads() -> None:
    import torch

    import skelmo._engine._cache

    torch.set_num_threads(1)
    if not isinstance(skelmo._engine._cache.BiLM, _LoadCounter):
        skelmo._engine._cache.BiLM = _LoadCounter(skelmo._engine._cache.BiLM)


def _model_loads(model_dir: str) -> int:
    import skelmo._engine._cache

    counter = skelmo._engine._cache.BiLM
    return counter.loads[str(Path(model_dir).resolve())] if isinstance(counter, _LoadCounter) \
        else -1


class _ExitOnce:
    """skelmo's tokenizer, except that the first process to meet ``trigger`` exits.

    A file marks the first meeting, so the re-run of the task succeeds.
    """

    def __init__(self, marker: str, trigger: str):
        self.marker = marker
        self.trigger = trigger

    def __call__(self, text: str) -> list[str]:
        if self.trigger in text:
            try:
                with open(self.marker, "x"):
                    pass
            except FileExistsError:
                pass
            else:
                os._exit(1)  # the worker process dies in the middle of the job
        return skelmo.tokenize(text)


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> str:
    directory = tmp_path_factory.mktemp("dask-model")
    make_random_model(directory, seed=3)
    return str(directory)


@pytest.fixture(scope="module")
def texts() -> pd.Series:
    """Documents of mixed lengths, a repeat and an empty one, with a non-default index."""
    rng = np.random.default_rng(0)
    words = ["the", "cat", "sat", "on", "mat", "quickly", "zebra", "ran", "far", "away", "."]
    docs = [" ".join(rng.choice(words, size=int(rng.integers(1, 14)))) for _ in range(30)]
    docs[7] = docs[2]
    docs[11] = ""
    docs[20] += " tripwire"  # see test_killed_worker_loses_no_document
    return pd.Series(docs, index=pd.RangeIndex(100, 130), name="text", dtype=object)


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of two single-threaded worker processes on 127.0.0.1."""
    if not HAVE_DASK:
        pytest.skip("needs skelmo[dask]")
    import dask
    from distributed import Client, LocalCluster

    # The nanny writes the workers' variables (OMP_NUM_THREADS=1, MALLOC_TRIM_THRESHOLD_, ...)
    # into this process's environment too: put it back afterwards for the other tests.
    environ = dict(os.environ)
    # A task whose worker dies is re-run up to 3 times before the job fails.
    with dask.config.set({"distributed.scheduler.allowed-failures": 3}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
        client = Client(cluster)
        try:
            client.run(_count_model_loads)
            yield client
        finally:
            client.close()
            cluster.close()
            os.environ.clear()
            os.environ.update(environ)


def _loads(client, model_dir: str) -> list[int]:
    return list(client.run(_model_loads, model_dir).values())


def _series(texts: pd.Series, npartitions: int):
    import dask.dataframe as dd

    return dd.from_pandas(texts, npartitions=npartitions, sort=True)


# --------------------------------------------------------------------------------- tests

@needs_dask
def test_vectors_equal_single_process_with_known_chunks(client, model_dir, texts, tmp_path):
    import dask.array as da

    estimator = ElmoVectorizer(model=model_dir, batch_size=4)
    expected = estimator.transform(texts)
    documents = _series(texts, 4)
    vectors = skelmo_dask.transform(estimator, documents)

    bounds = list(documents.divisions[:-1]) + [texts.index[-1] + 1]
    sizes = tuple(int(((texts.index >= lo) & (texts.index < hi)).sum())
                  for lo, hi in itertools.pairwise(bounds))
    assert vectors.chunks == (sizes, (expected.shape[1],))  # known: ready for to_zarr
    assert vectors.dtype == np.float32
    vectors = vectors.persist()
    np.testing.assert_array_equal(vectors.compute(), expected)
    if importlib.util.find_spec("zarr") is not None:
        store = str(tmp_path / "vectors.zarr")
        vectors.rechunk({0: 16}).to_zarr(store)  # uniform chunks, as Zarr wants
        np.testing.assert_array_equal(da.from_zarr(store).compute(), expected)
    # The model was loaded once per worker process, however many tasks it ran.
    assert all(0 <= n <= 1 for n in _loads(client, model_dir))
    assert sum(_loads(client, model_dir)) >= 1


@needs_dask
@pytest.mark.parametrize("split", [False, True])
def test_token_outputs_equal_single_process(client, model_dir, texts, split):
    import dask
    import dask.bag as db

    flat = ElmoTokenVectorizer(model=model_dir, output="flat", layer="all", batch_size=3,
                               split_sentences=split)
    padded = ElmoTokenVectorizer(model=model_dir, output="padded", layer=1,
                                 split_sentences=split)
    if split:  # sentences that the splitter cuts: a capital after the full stop
        texts = texts.str.replace(". ", ". The ", regex=False)
        assert sum(len(split_sentences(t)) for t in texts) > len(texts)
    series = _series(texts, 3)
    bag = db.from_sequence(texts.tolist(), npartitions=3)

    flat_rows = skelmo_dask.transform(flat, series)
    padded_rows = skelmo_dask.transform(padded, bag)
    token_frame = skelmo_dask.transform(flat, bag, as_frame=True)
    lengths = skelmo_dask.get_lengths(flat, series)
    assert not np.isnan(flat_rows.shape[0]) and not np.isnan(padded_rows.shape[0])
    got_flat, got_padded, got_lengths = dask.compute(flat_rows, padded_rows, lengths)
    # Separately: dask 2026.8 returns the results of a compute mixing arrays and
    # DataFrames in the wrong order.
    got_frame = token_frame.compute()

    expected_flat = flat.transform(texts)
    np.testing.assert_array_equal(got_flat, expected_flat)
    np.testing.assert_array_equal(got_padded, padded.transform(texts))
    np.testing.assert_array_equal(got_lengths, flat.get_lengths(texts))
    np.testing.assert_array_equal(got_frame.drop(columns="position").to_numpy(), expected_flat)
    owners = np.repeat(np.arange(len(texts)), flat.get_lengths(texts))
    np.testing.assert_array_equal(got_frame.index.to_numpy(), owners)
    np.testing.assert_array_equal(got_frame["position"].to_numpy(),
                                  np.concatenate([np.arange(n) for n in flat.get_lengths(texts)]))


@needs_dask
def test_bad_document_fails_naming_it(client, model_dir, texts):
    bad = texts.copy()
    bad.iloc[13] = None  # index label 113: position 3 of the second partition
    vectors = skelmo_dask.transform(ElmoVectorizer(model=model_dir), _series(bad, 3))
    with pytest.raises(ValueError, match=r"In partition 1 of the dask collection, whose "
                                         r"document 3 is document 13 of the collection: "
                                         r"Document 3 \(index 113\) is missing"):
        vectors.compute()


@needs_dask
def test_parallel_post_fit_pipeline_on_a_dask_dataframe(client, model_dir):
    import dask
    import dask.dataframe as dd

    ParallelPostFit = pytest.importorskip("dask_ml.wrappers").ParallelPostFit

    docs, y = labelled_documents(40)
    pipe = Pipeline([("elmo", ElmoVectorizer(model=model_dir)),
                     ("clf", LogisticRegression(max_iter=1000))]).fit(docs, y)
    # dask-ml cannot infer the output of a text pipeline (it would call it on made-up
    # data), so the metas are given; and it takes a one-column DataFrame, not a Series.
    wrapped = ParallelPostFit(pipe, predict_meta=np.zeros(0, dtype=y.dtype),
                              predict_proba_meta=np.zeros((0, 2)))
    frame = dd.from_pandas(pd.DataFrame({"text": docs}), npartitions=3)
    predicted, proba = dask.compute(wrapped.predict(frame), wrapped.predict_proba(frame))
    np.testing.assert_array_equal(predicted, pipe.predict(docs))
    # The ELMo features are bitwise equal (tests above); the classifier's float32 product
    # X @ coef rounds differently for 14 rows than for 40, hence a tolerance here.
    np.testing.assert_allclose(proba, pipe.predict_proba(docs), rtol=0, atol=1e-6)


@needs_dask
def test_grid_search_on_the_cluster_loads_the_model_once_per_worker(client, tmp_path):
    from joblib import parallel_backend

    model_dir = str(tmp_path / "search-model")
    make_random_model(model_dir, seed=4)
    docs, y = labelled_documents(40)
    grid = {"elmo__layer": [0, 2, "mix"]}

    def search(n_jobs: int | None) -> GridSearchCV:
        pipe = Pipeline([("elmo", ElmoVectorizer(model=model_dir)),
                         ("clf", LogisticRegression(max_iter=1000))])
        return GridSearchCV(pipe, grid, cv=2, n_jobs=n_jobs)

    with parallel_backend("dask"):
        distributed = search(-1).fit(docs, y)
    local = search(None).fit(docs, y)
    np.testing.assert_array_equal(distributed.cv_results_["mean_test_score"],
                                  local.cv_results_["mean_test_score"])
    loads = _loads(client, model_dir)
    # Six fits ran on the workers; each worker process loaded the model at most once.
    assert sum(loads) >= 1 and max(loads) == 1, loads


@needs_dask
def test_killed_worker_loses_no_document(client, model_dir, texts, tmp_path):
    marker = str(tmp_path / "killed-once")
    trigger = "tripwire"  # in document 20 only, in the third of four partitions
    estimator = ElmoVectorizer(model=model_dir, tokenizer=_ExitOnce(marker, trigger))
    expected = ElmoVectorizer(model=model_dir).set_output(transform="pandas").fit_transform(texts)
    workers_before = set(client.scheduler_info()["workers"])

    frame = skelmo_dask.transform(estimator, _series(texts, 4), as_frame=True)
    frame.to_parquet(str(tmp_path / "vectors"), write_index=True)

    assert os.path.exists(marker), "no worker was killed"
    client.wait_for_workers(2, timeout=120)
    assert set(client.scheduler_info()["workers"]) != workers_before  # one was replaced
    assert len(list((tmp_path / "vectors").glob("*.parquet"))) == 4  # one file per partition
    written = pd.read_parquet(tmp_path / "vectors")
    # Every document once, in order, with the single-process values.
    assert written.index.tolist() == texts.index.tolist()
    assert list(written.columns) == list(expected.columns)
    np.testing.assert_array_equal(written.to_numpy(), expected.to_numpy())


@needs_dask
def test_clear_errors_before_anything_runs(model_dir, texts):
    import dask.dataframe as dd

    frame = dd.from_pandas(pd.DataFrame({"text": texts, "label": 1}), npartitions=2)
    with pytest.raises(ValueError, match=r"single text column.*ddf\['text'\]"):
        skelmo_dask.transform(ElmoVectorizer(model=model_dir), frame)
    with pytest.raises(TypeError, match="call the estimator's transform"):
        skelmo_dask.transform(ElmoVectorizer(model=model_dir), texts)
    with pytest.raises(ValueError, match="output='ragged'"):
        skelmo_dask.transform(ElmoTokenVectorizer(model=model_dir, output="ragged"),
                              frame["text"])
    with pytest.raises(ValueError, match="state='stateful'"):
        skelmo_dask.transform(ElmoVectorizer(model=model_dir, state="stateful"),
                              frame["text"])
    with pytest.raises(ValueError, match="not fitted"):
        skelmo_dask.transform(ElmoVectorizer(model=model_dir, learn_mix=True), frame["text"])


@needs_dask
@pytest.mark.parametrize("documents", [["", "", ""], []], ids=["empty documents", "none"])
@pytest.mark.parametrize("kind", ["series", "bag"])
@pytest.mark.parametrize("known_chunks", [True, False])
def test_padded_output_without_any_token(model_dir, documents, kind, known_chunks):
    import dask.bag as db
    import dask.dataframe as dd

    estimator = ElmoTokenVectorizer(model=model_dir, output="padded")
    expected = estimator.transform(documents)
    assert expected.shape == (len(documents), 0, expected.shape[2])
    collection = (dd.from_pandas(pd.Series(documents, dtype=object), npartitions=2)
                  if kind == "series" else db.from_sequence(documents, npartitions=2))
    padded = skelmo_dask.transform(estimator, collection, known_chunks=known_chunks)
    assert padded.shape == expected.shape and padded.dtype == np.float32
    got = padded.compute()
    assert got.shape == expected.shape and got.dtype == np.float32
    assert estimator.max_length is None  # the caller's estimator is left as it was


@needs_dask
def test_token_lists_turned_into_text_by_dask_are_refused(model_dir):
    import dask
    import dask.dataframe as dd

    token_lists = [["the", "cat"], [], ["a", "b", "c"], ["dog", "."]]
    series = pd.Series(token_lists, dtype=object)
    vectorizer = ElmoVectorizer(model=model_dir)
    tokens = ElmoTokenVectorizer(model=model_dir, output="flat")
    with dask.config.set({"dataframe.convert-string": True}):
        converted = dd.from_pandas(series, npartitions=2)
        frame = dd.from_pandas(pd.DataFrame({"tokens": series, "text": "a b"}), npartitions=2)
    assert converted.compute().iloc[0] == "['the', 'cat']"  # what Dask made of the list
    for documents in (converted, frame["tokens"], frame[["tokens"]], converted.dropna()):
        with pytest.raises(ValueError, match=r"token lists that Dask turned into text.*"
                                             r"'dataframe.convert-string': False"):
            skelmo_dask.transform(vectorizer, documents)
    with pytest.raises(ValueError, match="token lists that Dask turned into text"):
        skelmo_dask.get_lengths(tokens, converted)
    with pytest.raises(ValueError, match="token lists that Dask turned into text"):
        skelmo_dask.transform(tokens, converted, as_frame=True)
    # A text column next to the token lists is fine.
    np.testing.assert_array_equal(skelmo_dask.transform(vectorizer, frame["text"]).compute(),
                                  vectorizer.transform(["a b"] * 4))

    # As the message says: with the conversion off, the lists stay lists.
    with dask.config.set({"dataframe.convert-string": False}):
        kept = dd.from_pandas(series, npartitions=2)
    np.testing.assert_array_equal(skelmo_dask.transform(vectorizer, kept).compute(),
                                  vectorizer.transform(token_lists))
    np.testing.assert_array_equal(skelmo_dask.get_lengths(tokens, kept).compute(), [2, 0, 3, 2])


def test_without_dask_the_module_imports_and_says_what_to_install(monkeypatch, model_dir):
    for name in list(sys.modules):
        if name.split(".")[0] in ("dask", "distributed", "dask_ml"):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "dask", None)  # blocks `import dask`
    monkeypatch.delitem(sys.modules, "skelmo.dask", raising=False)
    monkeypatch.setattr(skelmo, "dask", skelmo_dask, raising=False)

    fresh = importlib.import_module("skelmo.dask")
    assert fresh is not skelmo_dask
    with pytest.raises(ImportError, match=r"pip install 'skelmo\[dask\]'"):
        fresh.transform(ElmoVectorizer(model=model_dir), ["a document"])
    with pytest.raises(ImportError, match=r"skelmo\[dask\]"):
        fresh.get_lengths(ElmoTokenVectorizer(model=model_dir), ["a document"])
