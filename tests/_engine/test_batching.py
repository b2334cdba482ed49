"""Token-bounded batches, the word-vector cache that outlives a call, and bfloat16."""

from __future__ import annotations

import copy
import pickle
import random

import numpy as np
import pytest
import torch

from skelmo import ElmoEmbedder
from skelmo._engine import (
    WORD_CACHE_BYTES,
    WordVectorCache,
    batch_tokens,
    bfloat16_supported,
    check_precision,
    check_precision_on,
    word_vector_cache,
)
from skelmo._engine import _device as device_module

needs_bfloat16 = pytest.mark.skipif(not bfloat16_supported(torch.device("cpu")),
                                    reason="this CPU has no native bfloat16")


def _corpus(n: int, longest: int, seed: int = 0) -> list[list[str]]:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(300)] + ["the", "a", "."]
    return [[rng.choice(words) for _ in range(rng.randint(0, longest))] for _ in range(n)]


@pytest.mark.parametrize("state", ["warm", "zero", "stateful"])
@pytest.mark.parametrize("max_batch_tokens", [1, 30, 100, 1000])
def test_batches_stay_within_both_bounds(small_bilm, state, max_batch_tokens):
    sentences = _corpus(80, 40)
    embedder = ElmoEmbedder(small_bilm, batch_size=16, max_batch_tokens=max_batch_tokens,
                            state=state)
    seen = []
    for batch in embedder.iter_batches(sentences):
        lengths = [len(sentences[i]) for i in batch.indices]
        assert len(lengths) <= 16
        # A batch over the bound holds one sentence: it runs alone.
        assert batch_tokens(lengths) <= max_batch_tokens or len(lengths) == 1
        seen.extend(batch.indices)
        if state == "stateful":
            assert batch.indices == sorted(batch.indices)
    assert sorted(seen) == list(range(len(sentences)))
    if state == "stateful":
        assert seen == list(range(len(sentences)))  # input order, the state runs through


@pytest.mark.parametrize("state", ["warm", "zero"])
def test_results_do_not_depend_on_max_batch_tokens(small_bilm, state):
    sentences = _corpus(60, 60, seed=2) + [["long"] * 700]
    reference = ElmoEmbedder(small_bilm, batch_size=60, max_batch_tokens=10**6,
                             state=state).embed_sentences(sentences)
    for bound in (1, 50, 333, 8192):
        got = ElmoEmbedder(small_bilm, batch_size=60, max_batch_tokens=bound,
                           state=state).embed_sentences(sentences)
        for a, b in zip(got, reference):
            np.testing.assert_array_equal(a, b)


def test_stateful_state_runs_across_token_bounded_batches(small_bilm):
    sentences = _corpus(12, 10, seed=4)
    # Same batches by count and by tokens give the same carried state.
    by_count = ElmoEmbedder(small_bilm, batch_size=3, state="stateful")
    by_tokens = ElmoEmbedder(small_bilm, batch_size=3, max_batch_tokens=10**6,
                             state="stateful")
    for a, b in zip(by_count.embed_sentences(sentences), by_tokens.embed_sentences(sentences)):
        np.testing.assert_array_equal(a, b)


def test_invalid_max_batch_tokens(small_bilm):
    for bad in (0, -1, 2.5, True, "10"):
        with pytest.raises(ValueError, match="max_batch_tokens must be a positive integer"):
            ElmoEmbedder(small_bilm, max_batch_tokens=bad)


def test_word_vectors_are_kept_on_the_model_across_embedders(small_model_files):
    from skelmo import BiLM

    bilm = BiLM.from_files(*small_model_files)
    cache = word_vector_cache(bilm)
    assert cache is word_vector_cache(bilm) and cache.max_bytes == WORD_CACHE_BYTES
    sentences = [["a", "b", "c"], ["b", "c", "d"]]
    first = ElmoEmbedder(bilm).embed_sentences(sentences)
    # <S>, </S> and four words, each encoded once.
    assert (cache.misses, len(cache)) == (6, 6)
    second = ElmoEmbedder(bilm, batch_size=1).embed_sentences(sentences)
    assert cache.misses == 6 and cache.hits > 0
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    # bfloat16 runs keep their own cache, whatever their layer 0 is.
    assert word_vector_cache(bilm, "bfloat16") is not cache


def test_word_vector_cache_bound_and_clear():
    cache = WordVectorCache(max_bytes=3 * 16)  # three vectors of four float32

    def encode(words):
        return torch.tensor([[float(len(w))] * 4 for w in words])

    cache.vectors(["a", "bb", "ccc"], encode)
    assert len(cache) == 3 and cache.nbytes == 48
    cache.vectors(["a"], encode)  # "a" is now the most recent
    out = cache.vectors(["dddd", "a"], encode)
    assert out[:, 0].tolist() == [4.0, 1.0]
    assert len(cache) == 3 and cache.get("bb") is None  # the least recently used went
    cache.max_bytes = 16
    assert len(cache) == 1 and cache.nbytes == 16
    cache.clear()
    assert (len(cache), cache.nbytes, cache.hits, cache.misses) == (0, 0, 0, 0)
    with pytest.raises(ValueError, match="max_bytes"):
        cache.max_bytes = -1
    zero = WordVectorCache(max_bytes=0)
    assert zero.vectors(["a", "b"], encode).shape == (2, 4) and len(zero) == 0


def test_a_copied_model_starts_with_an_empty_word_cache(small_model_files):
    from skelmo import BiLM

    bilm = BiLM.from_files(*small_model_files)
    ElmoEmbedder(bilm).embed_sentences([["x", "y"]])
    for other in (copy.deepcopy(bilm), pickle.loads(pickle.dumps(bilm))):
        assert len(word_vector_cache(other)) == 0
        np.testing.assert_array_equal(ElmoEmbedder(other).embed_sentence(["x", "y"]),
                                      ElmoEmbedder(bilm).embed_sentence(["x", "y"]))


def test_precision_is_checked(small_bilm, monkeypatch):
    for bad in ("float16", "bf16", None, 32):
        with pytest.raises(ValueError, match="precision must be one of"):
            check_precision(bad)
    monkeypatch.setattr(device_module, "bfloat16_supported", lambda device: False)
    with pytest.raises(ValueError, match="neither AVX512-BF16 nor AMX.*precision='float32'"):
        check_precision_on("bfloat16", torch.device("cpu"))
    with pytest.raises(ValueError, match="precision='bfloat16' needs native bfloat16"):
        ElmoEmbedder(small_bilm, precision="bfloat16")
    check_precision_on("float32", torch.device("cpu"))


@pytest.fixture
def no_isa_cap(monkeypatch):
    """No oneDNN instruction-set cap in the environment."""
    for name in device_module._ISA_CAPS:
        monkeypatch.delenv(name, raising=False)


def test_cpu_flags_decide_when_torch_has_no_probe(monkeypatch, no_isa_cap):
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported", raising=False)
    monkeypatch.setattr(device_module, "_onednn_bfloat16", lambda: True)
    monkeypatch.setattr(device_module, "_cpu_flags", lambda: {"avx2", "avx512f"})
    assert not device_module.bfloat16_supported(torch.device("cpu"))
    monkeypatch.setattr(device_module, "_cpu_flags", lambda: {"avx512f", "amx_bf16"})
    assert device_module.bfloat16_supported(torch.device("cpu"))


@pytest.mark.parametrize("variable", ["ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"])
def test_an_instruction_set_cap_below_bfloat16_refuses_it(monkeypatch, no_isa_cap, small_bilm,
                                                           variable):
    # Capped at AVX2, torch multiplies bfloat16 matrices in an emulation over a
    # hundred times slower than float32, whatever the CPU has.
    monkeypatch.setenv(variable, "AVX2")
    assert not bfloat16_supported(torch.device("cpu"))
    with pytest.raises(ValueError, match=f"{variable}=AVX2 keeps PyTorch's bfloat16 kernels off"):
        ElmoEmbedder(small_bilm, precision="bfloat16")
    monkeypatch.setenv(variable, "avx512_core")  # AVX-512 without its bfloat16 instructions
    assert not bfloat16_supported(torch.device("cpu"))


def test_an_instruction_set_cap_with_bfloat16_leaves_the_hardware_to_decide(monkeypatch,
                                                                           no_isa_cap):
    uncapped = bfloat16_supported(torch.device("cpu"))
    for cap in ("AVX512_CORE_AMX", "avx512_core_bf16", "ALL"):
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
        assert bfloat16_supported(torch.device("cpu")) is uncapped
    # oneDNN reads ONEDNN_MAX_CPU_ISA first: the older name does not override it.
    monkeypatch.setenv("DNNL_MAX_CPU_ISA", "AVX2")
    assert bfloat16_supported(torch.device("cpu")) is uncapped


def test_bfloat16_needs_torch_onednn_kernels(monkeypatch, no_isa_cap):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: False)
    assert not bfloat16_supported(torch.device("cpu"))
    with pytest.raises(ValueError, match="does not run bfloat16 products through oneDNN"):
        check_precision_on("bfloat16", torch.device("cpu"))


@needs_bfloat16
def test_bfloat16_is_close_to_float32_and_keeps_layer_zero(small_bilm):
    sentences = _corpus(40, 30, seed=5)
    exact = ElmoEmbedder(small_bilm).embed_sentences(sentences)
    low = ElmoEmbedder(small_bilm, precision="bfloat16").embed_sentences(sentences)
    assert all(b.dtype == np.float32 for b in low)
    a = np.concatenate([x[1:].reshape(-1, x.shape[-1]) for x in exact if x.shape[1]])
    b = np.concatenate([x[1:].reshape(-1, x.shape[-1]) for x in low if x.shape[1]])
    assert not np.array_equal(a, b)  # the products did run in bfloat16
    cosine = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    assert cosine.mean() > 0.99
    for x, y in zip(exact, low):
        np.testing.assert_array_equal(x[0], y[0])  # the character encoder stays float32
