"""The text-input conventions of scikit-learn's vectorizers, in :mod:`skelmo._estimators._inputs`.

``input``, ``encoding``, ``decode_error`` and ``preprocessor`` must give the
text scikit-learn's own ``CountVectorizer`` gives, and errors that name the
document (and the file) at fault.
"""

from __future__ import annotations

import io
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import CountVectorizer

from skelmo import tokenize
from skelmo._estimators import _inputs
from skelmo._estimators._inputs import (
    DECODE_ERRORS,
    INPUT_KINDS,
    DocumentTypeError,
    DocumentValueError,
    check_input_params,
    documents_to_token_lists,
    read_documents,
    to_token_lists,
)

# Valid UTF-8 ("é", "€"), a lone latin-1 byte, a byte no UTF-8 text holds, and a
# truncated three-byte sequence at the end.
INVALID_UTF8 = b"caf\xc3\xa9 \xe2\x82\xac na\xefve \xff ok \xe2\x82"
LATIN1_TEXT = "Caf\u00e9 na\u00efve \u00bfqu\u00e9?"


def _sklearn(doc: Any, **params: Any) -> str:
    """What scikit-learn's CountVectorizer makes of ``doc`` before tokenizing it.

    ``lowercase=False`` makes its default preprocessor the identity, as skelmo's is.
    """
    vectorizer = CountVectorizer(lowercase=False, **params)
    return vectorizer.build_preprocessor()(vectorizer.decode(doc))


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_names_are_exported():
    for name in ("INPUT_KINDS", "DECODE_ERRORS", "check_input_params", "read_documents",
                 "documents_to_token_lists"):
        assert name in _inputs.__all__
    assert INPUT_KINDS == ("content", "filename", "file")
    assert DECODE_ERRORS == ("strict", "ignore", "replace")


# --- input="filename" --------------------------------------------------------------------


@pytest.mark.parametrize("as_path", [str, Path], ids=["str", "pathlib"])
@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_filename_reads_and_decodes_files(tmp_path, as_path, encoding):
    paths = [_write(tmp_path, f"{i}.txt", text.encode(encoding))
             for i, text in enumerate([LATIN1_TEXT, "plain ascii", ""])]
    docs, index = read_documents([as_path(p) for p in paths], input="filename",
                                 encoding=encoding)
    assert docs == [LATIN1_TEXT, "plain ascii", ""]
    assert index is None
    for path, doc in zip(paths, docs):
        assert doc == _sklearn(as_path(path), input="filename", encoding=encoding)


@pytest.mark.parametrize("decode_error", ["ignore", "replace"])
def test_filename_decode_errors_match_sklearn(tmp_path, decode_error):
    path = _write(tmp_path, "bad.txt", INVALID_UTF8)
    docs, _ = read_documents([path], input="filename", decode_error=decode_error)
    assert docs == [_sklearn(path, input="filename", decode_error=decode_error)]
    assert docs == [INVALID_UTF8.decode("utf-8", decode_error)]


def test_filename_strict_error_names_document_path_and_encoding(tmp_path):
    good = _write(tmp_path, "good.txt", b"fine")
    bad = _write(tmp_path, "bad.txt", INVALID_UTF8)
    with pytest.raises(UnicodeDecodeError):  # scikit-learn raises too
        _sklearn(bad, input="filename")
    with pytest.raises(DocumentValueError) as error:
        read_documents([good, bad], input="filename")
    message = str(error.value)
    assert message.startswith(f"Document 1, file {str(bad)!r}, cannot be decoded with "
                              "encoding='utf-8': 'utf-8' codec can't decode byte 0xef")
    assert "Pass encoding=" in message and "decode_error='replace'" in message
    assert error.value.position == 1
    assert isinstance(error.value, ValueError)


def test_filename_strict_error_names_the_encoding_given(tmp_path):
    path = _write(tmp_path, "a.txt", "\u00e9".encode("utf-8"))
    with pytest.raises(DocumentValueError, match=r"encoding='ascii': 'ascii' codec"):
        read_documents([path], input="filename", encoding="ascii")


def test_missing_file_names_document_and_path(tmp_path):
    here = _write(tmp_path, "here.txt", b"x")
    gone = tmp_path / "gone.txt"
    with pytest.raises(DocumentValueError) as error:
        read_documents([here, here, gone], input="filename")
    assert str(error.value).startswith(
        f"Document 2: cannot read file {str(gone)!r}: No such file or directory.")
    assert "input='content'" in str(error.value)
    assert error.value.position == 2
    assert error.value.__cause__ is None and error.value.__suppress_context__


def test_unreadable_path_names_document(tmp_path):
    with pytest.raises(DocumentValueError, match=r"^Document 0: cannot read file .*"):
        read_documents([tmp_path], input="filename")  # a directory
    with pytest.raises(DocumentValueError, match=r"^Document 1: cannot read file 'a\\x00b'"):
        read_documents([str(_write(tmp_path, "a", b"")), "a\x00b"], input="filename")


def test_filename_labels_come_from_series_and_dataframe_index(tmp_path):
    good = _write(tmp_path, "good.txt", b"fine")
    bad = _write(tmp_path, "bad.txt", INVALID_UTF8)
    gone = str(tmp_path / "gone.txt")
    series = pd.Series([str(good), str(bad)], index=["first", "second"])
    with pytest.raises(DocumentValueError,
                       match=rf"^Document 1 \(index 'second'\), file {re.escape(repr(str(bad)))},"):
        read_documents(series, input="filename")
    frame = pd.DataFrame({"path": [str(good), gone]}, index=[10, 20])
    with pytest.raises(DocumentValueError,
                       match=rf"^Document 1 \(index 20\): cannot read file "
                             rf"{re.escape(repr(gone))}"):
        read_documents(frame, input="filename")
    with pytest.raises(DocumentTypeError, match=r"^Document 1 \(index 'b'\) has type int"):
        read_documents(pd.Series([str(good), 3], index=["a", "b"]), input="filename")
    docs, index = read_documents(frame.iloc[:1], input="filename")
    assert docs == ["fine"] and list(index) == [10]


@pytest.mark.parametrize("item, type_name", [
    (["a", "list"], "list"), (3, "int"), (b"bytes.txt", "bytes"), ({"a": 1}, "dict"),
])
def test_filename_rejects_what_is_not_a_path(tmp_path, item, type_name):
    with pytest.raises(DocumentTypeError,
                       match=rf"^Document 1 has type {type_name} .*input='filename'.*"
                             r"a str or os.PathLike") as error:
        read_documents([_write(tmp_path, "ok.txt", b"ok"), item], input="filename")
    assert error.value.position == 1


# --- input="file" ------------------------------------------------------------------------


def test_file_objects_give_their_text(tmp_path):
    path = _write(tmp_path, "f.txt", LATIN1_TEXT.encode("utf-8"))
    with open(path, "rb") as binary, open(path, encoding="utf-8") as text:
        docs, _ = read_documents([io.BytesIO(LATIN1_TEXT.encode("utf-8")),
                                  io.StringIO("string io"), binary, text], input="file")
    assert docs == [LATIN1_TEXT, "string io", LATIN1_TEXT, LATIN1_TEXT]
    for make in (lambda: io.BytesIO(LATIN1_TEXT.encode("latin-1")),
                 lambda: io.StringIO(LATIN1_TEXT)):
        assert (read_documents([make()], input="file", encoding="latin-1")[0]
                == [_sklearn(make(), input="file", encoding="latin-1")])


@pytest.mark.parametrize("decode_error", ["ignore", "replace"])
def test_file_decode_errors_match_sklearn(decode_error):
    docs, _ = read_documents([io.BytesIO(INVALID_UTF8)], input="file",
                             decode_error=decode_error)
    assert docs == [_sklearn(io.BytesIO(INVALID_UTF8), input="file",
                             decode_error=decode_error)]


def test_file_strict_error_names_document_and_file(tmp_path):
    with pytest.raises(DocumentValueError,
                       match=r"^Document 0 cannot be decoded with encoding='utf-8'.*"
                             r"decode_error='replace'"):
        read_documents([io.BytesIO(INVALID_UTF8)], input="file")
    path = _write(tmp_path, "bad.txt", INVALID_UTF8)
    with open(path, "rb") as file, pytest.raises(DocumentValueError) as error:
        read_documents(pd.Series([io.BytesIO(b"ok"), file], index=["a", "b"]), input="file")
    assert str(error.value).startswith(
        f"Document 1 (index 'b'), file {str(path)!r}, cannot be decoded with encoding='utf-8'")


def test_file_read_errors_name_the_document(tmp_path):
    path = _write(tmp_path, "bad.txt", INVALID_UTF8)
    with open(path, encoding="utf-8") as text, pytest.raises(
            DocumentValueError, match=r"^Document 0, file .*bad.txt', cannot be read: "
                                      r"'utf-8' codec.*binary mode \('rb'\)"):
        read_documents([text], input="file")
    closed = io.BytesIO(b"x")
    closed.close()
    with pytest.raises(DocumentValueError, match=r"^Document 1 cannot be read: I/O operation"):
        read_documents([io.BytesIO(b"x"), closed], input="file")


@pytest.mark.parametrize("item, type_name", [("some text", "str"), (["a"], "list"), (1, "int")])
def test_file_rejects_what_has_no_read(item, type_name):
    with pytest.raises(DocumentTypeError,
                       match=rf"^Document 0 has type {type_name} .*no read\(\) method"):
        read_documents([item], input="file")


def test_file_read_must_give_bytes_or_str():
    class Reader:
        def read(self):
            return 42

    with pytest.raises(DocumentTypeError,
                       match=r"^Document 0 gave a int from read\(\); .*bytes or str"):
        read_documents([Reader()], input="file")


# --- input="content" ---------------------------------------------------------------------


def test_content_passes_texts_and_token_lists_and_decodes_bytes():
    tokens = ["Already", "tokenized"]
    docs, index = read_documents(["a text", LATIN1_TEXT.encode("latin-1"), tokens],
                                 encoding="latin-1")
    assert docs == ["a text", LATIN1_TEXT, tokens]
    assert docs[2] is tokens and index is None
    assert docs[1] == _sklearn(LATIN1_TEXT.encode("latin-1"), encoding="latin-1")


@pytest.mark.parametrize("decode_error", DECODE_ERRORS)
def test_content_bytes_decode_errors_match_sklearn(decode_error):
    if decode_error == "strict":
        with pytest.raises(UnicodeDecodeError):
            _sklearn(INVALID_UTF8)
        with pytest.raises(DocumentValueError) as error:
            read_documents(["ok", INVALID_UTF8])
        assert str(error.value).startswith(
            "Document 1 cannot be decoded with encoding='utf-8': 'utf-8' codec can't decode")
        assert "Pass encoding=" in str(error.value)
        assert "decode_error='replace'" in str(error.value)
        assert error.value.position == 1
    else:
        docs, _ = read_documents([INVALID_UTF8], decode_error=decode_error)
        assert docs == [_sklearn(INVALID_UTF8, decode_error=decode_error)]


def test_a_text_encoding_without_the_error_handler_is_a_document_error():
    with pytest.raises(UnicodeError):
        _sklearn(b"\xff", encoding="idna", decode_error="ignore")
    with pytest.raises(DocumentValueError,
                       match=r"^Document 0 cannot be decoded with encoding='idna'"):
        read_documents([b"\xff"], encoding="idna", decode_error="ignore")


@pytest.mark.parametrize("input", INPUT_KINDS)
@pytest.mark.parametrize("missing", [None, float("nan"), np.nan, pd.NA, pd.NaT])
def test_missing_documents_are_left_for_to_token_lists(tmp_path, input, missing):
    item = {"content": "text", "filename": _write(tmp_path, "m.txt", b"text"),
            "file": io.BytesIO(b"text")}[input]
    X = pd.Series([item, missing], index=["a", "b"], dtype=object)
    docs, index = read_documents(X, input=input)
    assert docs[0] == "text" and docs[1] is missing
    with pytest.raises(DocumentValueError) as ours:
        documents_to_token_lists(docs, index, None)
    with pytest.raises(DocumentValueError) as theirs:
        to_token_lists(pd.Series(["text", missing], index=["a", "b"], dtype=object), None)
    assert str(ours.value) == str(theirs.value)
    assert str(ours.value).startswith("Document 1 (index 'b') is missing")
    assert ours.value.position == 1


# --- preprocessor ------------------------------------------------------------------------


@pytest.mark.parametrize("input", INPUT_KINDS)
def test_preprocessor_is_applied_after_decoding(tmp_path, input):
    data = LATIN1_TEXT.encode("latin-1")
    make = {"content": lambda: data,
            "filename": lambda: _write(tmp_path, "p.txt", data),
            "file": lambda: io.BytesIO(data)}[input]
    docs, _ = read_documents([make()], input=input, encoding="latin-1", preprocessor=str.lower)
    assert docs == [LATIN1_TEXT.lower()]
    assert docs == [_sklearn(make(), input=input, encoding="latin-1", preprocessor=str.lower)]


def test_preprocessor_is_not_applied_to_token_lists_or_missing_values():
    calls = []

    def upper(text: str) -> str:
        calls.append(text)
        return text.upper()

    tokens = ["MiXed", "Case"]
    docs, _ = read_documents(["MiXed", tokens, None], preprocessor=upper)
    assert docs == ["MIXED", tokens, None]
    assert docs[1] == ["MiXed", "Case"]
    assert calls == ["MiXed"]


@pytest.mark.parametrize("returned", [None, ["a", "list"], b"bytes", 3])
def test_preprocessor_must_return_str(returned):
    with pytest.raises(DocumentTypeError,
                       match=rf"^Document 1 \(index 'y'\): the preprocessor returned a "
                             rf"{type(returned).__name__}; it must return a str\.$") as error:
        read_documents(pd.Series(["ok", "bad"], index=["x", "y"]),
                       preprocessor=lambda text: text if text == "ok" else returned)
    assert error.value.position == 1


# --- parameters --------------------------------------------------------------------------


@pytest.mark.parametrize("params, message", [
    ({"input": "filenames"},
     r"^input must be one of 'content', 'filename', 'file', got 'filenames'\.$"),
    ({"input": None}, r"^input must be one of 'content', 'filename', 'file', got None\.$"),
    ({"input": np.array(["file"])}, r"^input must be one of .*got array"),
    ({"encoding": None}, r"^encoding must be a str naming a text encoding.*got None\.$"),
    ({"encoding": b"utf-8"}, r"^encoding must be a str naming a text encoding.*got b'utf-8'"),
    ({"encoding": "utf-9"}, r"^encoding='utf-9' is not an encoding known to Python; .*'latin-1'"),
    ({"encoding": ""}, r"^encoding='' is not an encoding known to Python"),
    ({"encoding": "utf\x00"}, r"^encoding='utf\\x00' is not an encoding known to Python"),
    ({"encoding": "rot13"}, r"^encoding='rot13' is not a text encoding; pass the name of one"),
    ({"encoding": "base64"}, r"^encoding='base64' is not a text encoding"),
    ({"decode_error": "surrogateescape"},
     r"^decode_error must be one of 'strict', 'ignore', 'replace', got 'surrogateescape'\.$"),
    ({"decode_error": None}, r"^decode_error must be one of .*got None\.$"),
    ({"preprocessor": "lower"},
     r"^preprocessor must be None or a callable str -> str, got 'lower'\.$"),
])
def test_bad_parameters_are_named(params, message):
    full = {"input": "content", "encoding": "utf-8", "decode_error": "strict",
            "preprocessor": None, **params}
    with pytest.raises(ValueError, match=message):
        check_input_params(**full)
    with pytest.raises(ValueError, match=message):
        read_documents(["text"], **{k: v for k, v in full.items()})


@pytest.mark.parametrize("encoding", ["utf-8", "UTF8", "latin-1", "cp1252", "utf-16", "idna"])
def test_good_parameters_pass(encoding):
    for input in INPUT_KINDS:
        for decode_error in DECODE_ERRORS:
            check_input_params(input, encoding, decode_error, None)
    check_input_params("content", encoding, "strict", str.lower)


def test_parameters_are_keyword_only():
    with pytest.raises(TypeError):
        read_documents(["a"], "content")  # type: ignore[misc]


# --- containers and tokenization ---------------------------------------------------------


@pytest.mark.parametrize("X", [
    ["Don't panic!", ["pre", "tokenized"], "One, two."],
    np.array(["Don't panic!", "One, two."]),
    np.array([["Don't panic!"], ["One, two."]], dtype=object),
    pd.Series(["Don't panic!", "One, two."], index=[3, 1]),
    pd.DataFrame({"text": ["Don't panic!", "One, two."]}),
])
def test_read_then_tokenize_is_to_token_lists(X):
    docs, index = read_documents(X)
    assert documents_to_token_lists(docs, index, None) == to_token_lists(X, None)
    assert documents_to_token_lists(docs, index, str.split) == to_token_lists(X, str.split)


@pytest.mark.parametrize("X, error", [
    ("a single string", ValueError), (b"bytes", ValueError), (3, TypeError),
    (pd.DataFrame({"a": ["x"], "b": ["y"]}), ValueError),
])
def test_containers_are_checked_as_before(X, error):
    with pytest.raises(error) as ours:
        read_documents(X)
    with pytest.raises(error) as theirs:
        to_token_lists(X, None)
    assert str(ours.value) == str(theirs.value)


def test_documents_to_token_lists_checks_the_tokenizer_and_documents():
    with pytest.raises(ValueError, match=r"^tokenizer must be None or a callable"):
        documents_to_token_lists(["a"], None, "split")
    with pytest.raises(DocumentTypeError, match=r"^Document 1 \(index 'q'\) has type int"):
        documents_to_token_lists(["a", 5], pd.Index(["p", "q"]), None)
    assert documents_to_token_lists(["a b", ["c"]], None, None) == [tokenize("a b"), ["c"]]


def test_decoded_files_tokenize(tmp_path):
    path = _write(tmp_path, "t.txt", "Don't panic!".encode("utf-16"))
    docs, index = read_documents([path], input="filename", encoding="utf-16",
                                 preprocessor=str.lower)
    assert documents_to_token_lists(docs, index, None) == [tokenize("don't panic!")]


def test_document_errors_survive_pickling():
    # Raised in a Dask or Spark worker, they travel back to the client pickled.
    for cls in (DocumentValueError, DocumentTypeError):
        error = pickle.loads(pickle.dumps(cls("Document 3 is missing.", 3)))
        assert type(error) is cls and error.position == 3
        assert str(error) == "Document 3 is missing."


def test_tokenizer_error_keeps_the_index_label_as_it_is():
    with pytest.raises(DocumentTypeError, match=r"for document 1 \(index 'B'\)"):
        to_token_lists(pd.Series(["a", "b"], index=["A", "B"]),
                       lambda text: text if text == "b" else [text])
