"""skelmo.spark on a real local Spark session with two task slots.

One session serves the whole module (starting one costs seconds). Results are
compared bitwise with a single-process transform in this process: under the
default "warm" state policy a document's vectors do not depend on its batch,
and the Python workers run one torch thread, as this process does here.
"""

from __future__ import annotations

import os
import shutil
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import StandardScaler

import skelmo
from skelmo import ElmoTokenVectorizer, ElmoVectorizer, models
from skelmo.spark import transform
from skelmo.testing import make_random_model

try:
    import pyarrow  # noqa: F401
    import pyspark  # noqa: F401
except ImportError:
    HAVE_SPARK = False
else:
    HAVE_SPARK = True

pytestmark = [
    pytest.mark.skipif(not HAVE_SPARK, reason="needs skelmo[spark] (pyspark and pyarrow)"),
    pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs java on PATH"),
    pytest.mark.usefixtures("one_torch_thread"),
]

N_PARTITIONS = 3


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> str:
    directory = tmp_path_factory.mktemp("spark-model")
    make_random_model(directory, seed=5, projection_dim=8, cell_dim=16)
    return str(directory)


@pytest.fixture(scope="module")
def skelmo_home(tmp_path_factory) -> str:
    """The workers' SKELMO_HOME, where a registered name is looked up."""
    return str(tmp_path_factory.mktemp("spark-skelmo-home"))


@pytest.fixture(scope="module")
def spark(skelmo_home):
    """A local[2] session bound to 127.0.0.1, its workers on this interpreter."""
    from pyspark.sql import SparkSession

    environ = dict(os.environ)
    # PySpark starts the `python3` on PATH for its workers unless told otherwise.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    session = (
        SparkSession.builder.master("local[2]")
        .appName("skelmo-tests")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.executorEnv.SKELMO_HOME", skelmo_home)
        .config("spark.executorEnv.OMP_NUM_THREADS", "1")
        # Small Arrow batches: a partition of 10 rows arrives as batches of 4, 4 and 2.
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "4")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()
        os.environ.clear()
        os.environ.update(environ)


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Documents of mixed lengths, a repeat and an empty one."""
    rng = np.random.default_rng(0)
    words = ["the", "cat", "sat", "on", "mat", "quickly", "zebra", "ran", "far", "away", "."]
    docs = [" ".join(rng.choice(words, size=int(rng.integers(1, 14)))) for _ in range(30)]
    docs[7] = docs[2]
    docs[11] = ""
    return docs


@pytest.fixture(scope="module")
def frame(spark, texts):
    """30 rows in 3 partitions of 10, in order: id, text, its tokens and a label."""
    from pyspark.sql.types import (
        ArrayType,
        DoubleType,
        LongType,
        StringType,
        StructField,
        StructType,
    )

    schema = StructType([
        StructField("id", LongType()),
        StructField("text", StringType()),
        StructField("tokens", ArrayType(StringType())),
        StructField("label", DoubleType()),
    ])
    rows = [(100 + i, text, skelmo.tokenize(text), i / 4) for i, text in enumerate(texts)]
    df = spark.createDataFrame(spark.sparkContext.parallelize(rows, N_PARTITIONS), schema)
    assert df.rdd.getNumPartitions() == N_PARTITIONS
    return df


def _collect(df) -> dict[str, list]:
    """The columns of ``df``, in row order.

    Through ``collect`` rather than ``toPandas``: PySpark 4.3's ``toPandas``
    calls pandas 3 with a deprecated keyword, which the test settings make an
    error.
    """
    rows = df.collect()
    return {name: [row[name] for row in rows] for name in df.columns}


def _matrix(cells: list) -> np.ndarray:
    return np.array([np.asarray(cell, dtype=np.float32) for cell in cells], dtype=np.float32)


# --------------------------------------------------------------------------------- tests

def test_vectors_equal_single_process_and_columns_and_order_are_kept(frame, model_dir, texts):
    from pyspark.sql.types import ArrayType, FloatType

    estimator = ElmoVectorizer(model=model_dir, batch_size=3)
    result = transform(frame, estimator, "text", output_col="vector")
    assert result.columns == ["id", "text", "tokens", "label", "vector"]
    assert result.schema["vector"].dataType == ArrayType(FloatType(), False)
    assert result.rdd.getNumPartitions() == N_PARTITIONS

    got, original = _collect(result), _collect(frame)
    for column in frame.columns:  # every column kept, with its values, in the same order
        assert got[column] == original[column], column
    assert got["id"] == list(range(100, 130))
    np.testing.assert_array_equal(_matrix(got["vector"]), estimator.transform(texts))


def test_token_vectors_equal_single_process(frame, model_dir, texts):
    from pyspark.sql.types import ArrayType, FloatType

    # From texts and from token lists; the estimator's output parameter does not matter.
    estimator = ElmoTokenVectorizer(model=model_dir, layer="all", output="flat", batch_size=4)
    expected = estimator.set_params(output="ragged").transform(texts)
    estimator.set_params(output="flat")
    for column in ("text", "tokens"):
        result = transform(frame.select("id", column), estimator, column)
        assert estimator.output == "flat"  # the caller's estimator is left as it was
        assert result.schema["elmo"].dataType == ArrayType(ArrayType(FloatType(), False), False)
        rows = _collect(result)  # separate jobs: the same Python workers serve both
        assert rows["id"] == list(range(100, 130))
        assert rows["elmo"][11] == []  # the empty document
        for cell, matrix in zip(rows["elmo"], expected):
            np.testing.assert_array_equal(_matrix(cell).reshape(matrix.shape), matrix)


def test_a_registered_model_name_reaches_the_workers(frame, model_dir, skelmo_home, texts):
    name = "spark-test-model"
    # Recorded in the registry file of the workers' SKELMO_HOME (and in this process).
    models.register(name, directory=model_dir, persist=True, cache_dir=skelmo_home)
    try:
        result = transform(frame.select("id", "text"), ElmoVectorizer(model=name), "text")
        rows = _collect(result)
    finally:
        models.unregister(name, cache_dir=skelmo_home)
    np.testing.assert_array_equal(_matrix(rows["elmo"]),
                                  ElmoVectorizer(model=model_dir).transform(texts))


def test_parquet_in_embed_parquet_out(spark, frame, model_dir, texts, tmp_path):
    frame.select("id", "text").write.parquet(str(tmp_path / "texts"))

    # The recipe of docs/scaling.md.
    documents = spark.read.parquet(str(tmp_path / "texts"))
    vectors = transform(documents, ElmoVectorizer(model=model_dir), "text", output_col="vector")
    vectors.write.parquet(str(tmp_path / "vectors"))

    written = pd.read_parquet(tmp_path / "vectors").sort_values("id", ignore_index=True)
    assert written["id"].tolist() == list(range(100, 130))
    assert written["text"].tolist() == texts
    got = _matrix(written["vector"].tolist())
    np.testing.assert_array_equal(got, ElmoVectorizer(model=model_dir).transform(texts))
    again = _collect(spark.read.parquet(str(tmp_path / "vectors")).orderBy("id"))
    np.testing.assert_array_equal(_matrix(again["vector"]), got)


def test_clear_errors_before_anything_runs(frame, model_dir):
    with pytest.raises(TypeError, match="Expected an ElmoVectorizer or ElmoTokenVectorizer"):
        transform(frame, StandardScaler(), "text")
    with pytest.raises(ValueError, match="batch_size"):
        transform(frame, ElmoVectorizer(model=model_dir, batch_size=0), "text")
    with pytest.raises(ValueError, match="state='stateful' carries the LSTM state"):
        transform(frame, ElmoVectorizer(model=model_dir, state="stateful"), "text")
    with pytest.raises(ValueError, match="learn_mix=True and is not fitted"):
        transform(frame, ElmoTokenVectorizer(model=model_dir, learn_mix=True), "text")
    with pytest.raises(ValueError, match=r"no column 'body' \(input_col\); its columns are"):
        transform(frame, ElmoVectorizer(model=model_dir), "body")
    with pytest.raises(ValueError, match="already has a column 'label'"):
        transform(frame, ElmoVectorizer(model=model_dir), "text", output_col="label")
    with pytest.raises(TypeError, match="has type double; expected string"):
        transform(frame, ElmoVectorizer(model=model_dir), "label")
    with pytest.raises(TypeError, match="Expected a Spark DataFrame"):
        transform(pd.DataFrame({"text": ["a"]}), ElmoVectorizer(model=model_dir), "text")


def test_column_names_are_matched_as_the_session_matches_them(spark, frame, model_dir,
                                                                 texts):
    from pyspark.sql import functions as F

    estimator = ElmoVectorizer(model=model_dir)
    assert spark.conf.get("spark.sql.caseSensitive") == "false"  # Spark's default
    # "ELMO" and "elmo" are one name to Spark: adding "elmo" would make it ambiguous.
    with pytest.raises(ValueError, match=r"already has a column 'elmo' \('ELMO', the same "
                                         r"name to Spark.*df\.drop\('ELMO'\)"):
        transform(frame.withColumn("ELMO", F.lit(1)), estimator, "text")
    # input_col resolves as Spark resolves it, to the column's own spelling.
    result = transform(frame.select("id", "text"), estimator, "TEXT")
    assert result.columns == ["id", "text", "elmo"]
    rows = _collect(result)
    assert rows["id"] == list(range(100, 130))
    np.testing.assert_array_equal(_matrix(rows["elmo"]), estimator.transform(texts))
    twice = frame.select("id", "text", F.col("tokens").alias("Text"))
    with pytest.raises(ValueError, match=r"input_col 'TEXT' is ambiguous: the DataFrame has "
                                         r"columns \['text', 'Text'\]"):
        transform(twice, estimator, "TEXT")

    spark.conf.set("spark.sql.caseSensitive", "true")
    try:
        with pytest.raises(ValueError, match=r"no column 'TEXT' \(input_col\)"):
            transform(frame, estimator, "TEXT")
        result = transform(twice, estimator, "Text")  # the token lists, not the texts
        assert result.columns == ["id", "text", "Text", "elmo"]
        assert transform(frame.withColumn("ELMO", F.lit(1)), estimator,
                         "text").columns[-2:] == ["ELMO", "elmo"]
    finally:
        spark.conf.set("spark.sql.caseSensitive", "false")


# Last: the Python worker that meets the error exits, and a new one would import torch again.
def test_missing_document_fails_the_job_naming_it(frame, model_dir):
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PythonException
    from pyspark.sql import functions as F

    bad = frame.withColumn("text", F.when(F.col("id") == 113, None).otherwise(F.col("text")))
    result = transform(bad, ElmoVectorizer(model=model_dir), "text")
    # Spark wraps the worker's error; its message holds the estimator's.
    with pytest.raises((PythonException, Py4JJavaError)) as info:
        result.collect()
    message = str(info.value)
    # Row 13 is row 3 of partition 1, in its first Arrow batch (of 4 rows).
    assert "Column 'text' of the Spark DataFrame, partition 1, row 3 of the partition" in message
    assert "Document 3 is missing (None). Fill or drop missing texts first" in message
