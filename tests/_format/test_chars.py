"""Character ids: the exact ELMo encoding, batching and input validation.

The expected ids are derived here from the published encoding, not from the
implementation: character codes 0..255 are UTF-8 bytes, 256 begins a sentence,
257 ends it, 258 begins a word, 259 ends it and 260 pads; a token is
``[258, bytes (at most 48)..., 259, 260, ...]`` (50 codes) and every code is
shifted by one so that 0 can mark padding rows.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skelmo import batch_to_ids
from skelmo._format import BOS_TOKEN, EOS_TOKEN, MAX_CHARACTERS, token_to_ids

BOS, EOS, BOW, EOW, PAD = 256, 257, 258, 259, 260


def spec_ids(token: str) -> list[int]:
    """The ELMo character ids of ``token``, straight from the specification."""
    if token == "<S>":
        codes = [BOW, BOS, EOW]
    elif token == "</S>":
        codes = [BOW, EOS, EOW]
    else:
        codes = [BOW, *token.encode("utf-8", "ignore")[:48], EOW]
    codes += [PAD] * (50 - len(codes))
    return [code + 1 for code in codes]


TOKENS = [
    "a",
    "",
    "Hello",
    "naïve",
    "日本語",
    "x" * 60,
    "é" * 30,  # 60 bytes, cut at a character boundary (24 characters)
    "a" + "日" * 17,  # 52 bytes, cut inside the 16th "日"
    "🙂🙃",
    "<s>",
    "<S>x",
    "\ud800x",  # a lone surrogate cannot be encoded and is dropped
    BOS_TOKEN,
    EOS_TOKEN,
]


# -- single tokens -------------------------------------------------------------

def test_hello_hand_derived():
    ids = token_to_ids("Hello")
    # <bow>+1, H=72+1, e=101+1, l=108+1, l, o=111+1, <eow>+1, then <pad>+1.
    assert ids[:7].tolist() == [259, 73, 102, 109, 109, 112, 260]
    assert ids[7:].tolist() == [261] * 43


def test_boundary_tokens_hand_derived():
    assert token_to_ids("<S>").tolist() == [259, 257, 260] + [261] * 47
    assert token_to_ids("</S>").tolist() == [259, 258, 260] + [261] * 47


def test_multibyte_words_hand_derived():
    # "ï" is C3 AF in UTF-8.
    naive = [259, ord("n") + 1, ord("a") + 1, 0xC3 + 1, 0xAF + 1, ord("v") + 1, ord("e") + 1, 260]
    assert token_to_ids("naïve")[:8].tolist() == naive
    # 日 E6 97 A5, 本 E6 9C AC, 語 E8 AA 9E.
    nihongo = [0xE6, 0x97, 0xA5, 0xE6, 0x9C, 0xAC, 0xE8, 0xAA, 0x9E]
    assert token_to_ids("日本語")[:11].tolist() == [259] + [b + 1 for b in nihongo] + [260]
    assert token_to_ids("日本語")[11:].tolist() == [261] * 39


@pytest.mark.parametrize("token", TOKENS, ids=repr)
def test_token_matches_specification(token):
    ids = token_to_ids(token)
    assert isinstance(ids, np.ndarray)
    assert ids.dtype == np.int64
    assert ids.shape == (MAX_CHARACTERS,)
    assert ids.tolist() == spec_ids(token)


def test_long_word_is_cut_to_48_bytes():
    word = "abcdefghij" * 6  # 60 characters
    ids = token_to_ids(word)
    assert ids[0] == BOW + 1
    assert ids[1:49].tolist() == [ord(c) + 1 for c in word[:48]]
    assert ids[49] == EOW + 1  # no room left for padding
    # Everything past the 48th byte is ignored.
    assert np.array_equal(token_to_ids(word[:48]), ids)
    assert np.array_equal(token_to_ids(word[:48] + "zzz"), ids)


def test_cut_inside_multibyte_character_keeps_raw_bytes():
    word = "a" + "日" * 17  # 1 + 51 bytes: byte 48 falls inside the 16th "日"
    ids = token_to_ids(word)
    raw = word.encode("utf-8")[:48]
    assert ids[1:49].tolist() == [b + 1 for b in raw]
    assert ids[47:49].tolist() == [0xE6 + 1, 0x97 + 1]  # first 2 bytes of 日
    assert ids[49] == EOW + 1


def test_every_id_is_in_range():
    for token in TOKENS:
        ids = token_to_ids(token)
        assert ids.min() >= 1  # 0 is reserved for padding rows
        assert ids.max() <= PAD + 1


def test_boundary_ids_are_fresh_copies():
    first = token_to_ids(BOS_TOKEN)
    first[:] = 0
    assert token_to_ids(BOS_TOKEN).tolist() == spec_ids("<S>")


@pytest.mark.parametrize("token", [None, 3, b"bytes", ["a"]], ids=repr)
def test_token_must_be_str(token):
    with pytest.raises(TypeError, match="str"):
        token_to_ids(token)


# -- batches -------------------------------------------------------------------

def test_batch_shape_dtype_and_padding():
    batch = [["Hello", "world", "!"], ["Hi"], []]
    ids = batch_to_ids(batch)
    assert isinstance(ids, torch.Tensor)
    assert ids.dtype == torch.int64
    assert tuple(ids.shape) == (3, 3, 50)
    for row, sentence in enumerate(batch):
        for col in range(3):
            if col < len(sentence):
                assert ids[row, col].tolist() == spec_ids(sentence[col])
            else:
                assert not ids[row, col].any(), (row, col)


def test_batch_matches_specification_for_every_token():
    batch = [TOKENS, TOKENS[::-1], TOKENS[3:7]]
    ids = batch_to_ids(batch)
    assert tuple(ids.shape) == (3, len(TOKENS), 50)
    for row, sentence in enumerate(batch):
        expected = [spec_ids(t) for t in sentence]
        expected += [[0] * 50] * (len(TOKENS) - len(sentence))
        assert ids[row].tolist() == expected


def test_empty_batch():
    ids = batch_to_ids([])
    assert tuple(ids.shape) == (0, 0, 50)
    assert ids.dtype == torch.int64


def test_batch_of_empty_sentences():
    ids = batch_to_ids([[], [], []])
    assert tuple(ids.shape) == (3, 0, 50)
    assert ids.dtype == torch.int64


def test_empty_sentence_among_others_is_all_zero():
    ids = batch_to_ids([[], ["a", "b"]])
    assert tuple(ids.shape) == (2, 2, 50)
    assert not ids[0].any()
    assert ids[1, 1].tolist() == spec_ids("b")


def test_batch_accepts_tuples_and_generators():
    sentences = ["the cat sat", "on the mat", "ok"]
    expected = batch_to_ids([s.split() for s in sentences])
    assert torch.equal(batch_to_ids(tuple(tuple(s.split()) for s in sentences)), expected)
    assert torch.equal(batch_to_ids(iter(s.split()) for s in sentences), expected)


def test_bare_str_batch_raises():
    with pytest.raises(TypeError, match="single str"):
        batch_to_ids("Hello world")


def test_str_sentence_raises_naming_its_row():
    with pytest.raises(TypeError, match="Sentence 2 is a str"):
        batch_to_ids([["ok"], ["fine"], "not tokenized"])


def test_non_iterable_sentence_raises_naming_its_row():
    with pytest.raises(TypeError, match="Sentence 1"):
        batch_to_ids([["ok"], None])


def test_non_str_token_raises_naming_its_position():
    with pytest.raises(TypeError, match="Token 1 of sentence 0"):
        batch_to_ids([["ok", 3]])
