"""The biLM against a literal NumPy transcription, on many architectures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skelmo import BiLM, batch_to_ids
from skelmo._engine import bfloat16_supported, character_columns
from skelmo._engine._bilm import _add_boundaries
from skelmo._format import read_model
from skelmo.testing import make_options, make_random_model
from tests._numpy_bilm import forward as numpy_forward

SENTENCES = [
    ["The", "bank", "raised", "its", "rates", "."],
    ["Hi"],
    [],
    ["naïve", "café", "日本語", "x" * 70, "<S>", "</S>"],
]

ARCHITECTURES = {
    "reference-shape": {},
    "tanh": {"activation": "tanh"},
    "no-highway": {"n_highway": 0},
    "three-highway": {"n_highway": 3},
    "no-projection": {"filters": ((1, 8), (2, 8)), "projection_dim": 16},
    "one-layer": {"n_layers": 1},
    "three-layers": {"n_layers": 3},
    "no-clipping": {"cell_clip": None, "proj_clip": None},
    "no-skip": {"use_skip_connections": False},
    "width-one": {"projection_dim": 1, "cell_dim": 1},
    "wide-filters": {"filters": ((1, 3), (3, 5), (7, 6), (9, 2)), "char_dim": 6,
                     "projection_dim": 12, "cell_dim": 20},
}


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_matches_numpy_transcription(tmp_path, name):
    files = make_random_model(tmp_path, seed=7, **ARCHITECTURES[name])
    options, weights = read_model(*files)
    bilm = BiLM.from_files(*files)
    out = bilm(batch_to_ids(SENTENCES))
    assert out.layers.shape == (options.n_layers + 1, len(SENTENCES), 6,
                                2 * options.projection_dim)
    for row, sentence in enumerate(SENTENCES):
        expected = numpy_forward(options, weights, sentence)
        got = out.layers[:, row, : len(sentence)].numpy()
        np.testing.assert_allclose(got, expected, atol=2e-5, rtol=1e-4)
        assert not out.layers[:, row, len(sentence):].any()
        assert out.mask[row].tolist() == [t < len(sentence) for t in range(6)]


def test_output_width_follows_projection(tmp_path):
    bilm = BiLM.from_files(*make_random_model(tmp_path, projection_dim=24, cell_dim=32))
    assert bilm.output_dim == 48
    assert bilm.n_layers == 3
    assert bilm(batch_to_ids([["a", "b"]])).layers.shape == (3, 1, 2, 48)


def test_keep_boundaries(small_bilm):
    ids = batch_to_ids([["a", "b", "c"], ["d"]])
    inner = small_bilm(ids)
    full = small_bilm(ids, keep_boundaries=True)
    assert full.layers.shape[2] == 5
    assert full.mask.tolist() == [[True] * 5, [True] * 3 + [False] * 2]
    torch.testing.assert_close(full.layers[:, 0, 1:4], inner.layers[:, 0], rtol=0, atol=0)
    torch.testing.assert_close(full.layers[:, 1, 1:2], inner.layers[:, 1, :1], rtol=0, atol=0)
    # The </S> of the short row sits at position 2 and padding follows.
    assert full.layers[:, 1, 2].abs().sum() > 0
    assert not full.layers[:, 1, 3:].any()


def test_empty_batch_and_empty_sentences(small_bilm):
    out = small_bilm(batch_to_ids([[], []]))
    assert out.layers.shape == (3, 2, 0, 32)
    assert out.mask.shape == (2, 0)
    assert out.state.h.shape == (2, 2, 2, 16)


def test_state_rows_follow_input_order(small_bilm):
    """The final state of each row belongs to that row's sentence, whatever the sort."""
    batch = [["short"], ["a", "much", "longer", "sentence", "here"]]
    both = small_bilm(batch_to_ids(batch)).state
    for row, sentence in enumerate(batch):
        alone = small_bilm(batch_to_ids([sentence])).state
        torch.testing.assert_close(both.h[:, :, row], alone.h[:, :, 0], rtol=0, atol=0)
        torch.testing.assert_close(both.c[:, :, row], alone.c[:, :, 0], rtol=0, atol=0)


def test_one_row_state_is_broadcast(small_bilm):
    ids = batch_to_ids([["a", "b"], ["c"]])
    state = small_bilm(batch_to_ids([["warm", "up"]])).state
    broadcast = small_bilm(ids, state=state).layers
    for row in range(2):
        alone = small_bilm(ids[row : row + 1], state=state).layers
        n = int(alone.shape[2])
        torch.testing.assert_close(broadcast[:, row, :n], alone[:, 0], rtol=0, atol=0)


def test_encode_tokens_masks_padding(small_bilm):
    ids = batch_to_ids([["a", "b"], ["a"]])
    encoded = small_bilm.encode_tokens(ids)
    assert encoded.shape == (2, 2, 16)
    torch.testing.assert_close(encoded[0, 0], encoded[1, 0], rtol=0, atol=0)
    assert not encoded[1, 1].any()


def test_inference_holds_no_gradients(small_bilm):
    assert not small_bilm.training
    assert all(not p.requires_grad for p in small_bilm.parameters())
    out = small_bilm(batch_to_ids([["a"]]))
    assert not out.layers.requires_grad


def test_unknown_device_is_a_clear_error(small_model_files):
    with pytest.raises(ValueError, match="device must be"):
        BiLM.from_files(*small_model_files, device="tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA present")
def test_cuda_without_gpu_is_a_clear_error(small_model_files):
    with pytest.raises(ValueError, match="CUDA is not available"):
        BiLM.from_files(*small_model_files, device="cuda")


def test_auto_device_loads(small_model_files):
    bilm = BiLM.from_files(*small_model_files, device="auto")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert bilm.device.type == expected


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(small_model_files):
    cpu = BiLM.from_files(*small_model_files)
    gpu = BiLM.from_files(*small_model_files, device="cuda")
    ids = batch_to_ids(SENTENCES)
    torch.testing.assert_close(gpu(ids).layers.cpu(), cpu(ids).layers, atol=1e-5, rtol=1e-4)


def test_make_options_defaults_match_reference_shape():
    options = make_options()
    assert options.n_filters == 124
    assert options.output_dim == 32


def test_skipping_boundary_steps_changes_no_inner_vector(small_bilm):
    sentences = [["a", "b", "c", "d"], ["e"], []]
    ids = batch_to_ids(sentences)
    lengths = (ids[..., 0] > 0).sum(dim=1)
    full = small_bilm(ids)
    tokens = small_bilm.encode_tokens(_add_boundaries(ids, lengths))
    state = small_bilm(batch_to_ids([["warm"]])).state
    lean = small_bilm.contextualize(tokens, lengths + 2, final_state=False)
    assert lean.state is None
    torch.testing.assert_close(lean.layers, full.layers, rtol=0, atol=0)
    with_state = small_bilm.contextualize(tokens, lengths + 2, state, final_state=False)
    torch.testing.assert_close(with_state.layers,
                               small_bilm(ids, state=state).layers, rtol=0, atol=0)


def test_shared_first_step_gives_the_same_vectors(small_bilm):
    """One broadcast state (first step computed once) equals the same state per row."""
    ids = batch_to_ids([["a", "b", "c"], ["d"], ["e", "f"]])
    one = small_bilm(batch_to_ids([["warm", "up"]])).state
    per_row = one.expand(3)
    per_row = type(one)(per_row.h.contiguous(), per_row.c.contiguous())
    shared = small_bilm(ids, state=one)
    separate = small_bilm(ids, state=per_row)
    torch.testing.assert_close(shared.layers, separate.layers, rtol=0, atol=0)
    torch.testing.assert_close(shared.state.h, separate.state.h, rtol=0, atol=0)
    torch.testing.assert_close(shared.state.c, separate.state.c, rtol=0, atol=0)


def test_copies_and_pickles_compute_the_same(small_bilm):
    import copy
    import pickle

    ids = batch_to_ids([["a", "b", "c"], ["d"]])
    expected = small_bilm(ids).layers
    for clone in (copy.deepcopy(small_bilm), pickle.loads(pickle.dumps(small_bilm))):
        torch.testing.assert_close(clone(ids).layers, expected, rtol=0, atol=0)


def test_character_columns_keep_every_filters_maximum(tmp_path):
    """Trimmed padding gives the maxima over all 50 columns, whatever the token's length."""
    bilm = BiLM.from_files(*make_random_model(tmp_path, seed=3, **ARCHITECTURES["wide-filters"]))
    words = ["", "a", "ab", "naïve", "x" * 7, "y" * 13, "z" * 30, "w" * 47, "v" * 48, "u" * 90]
    ids = batch_to_ids([words])[0]
    ids = ids[ids[:, 0] > 0]
    full = bilm.char_encoder(ids)  # every one of the 50 columns
    trimmed = bilm.encode_distinct(ids)
    torch.testing.assert_close(trimmed, full, rtol=0, atol=1e-6)
    # A token's vector does not depend on the lengths of the others encoded with it.
    for row in range(ids.shape[0]):
        alone = bilm.encode_distinct(ids[row : row + 1])
        torch.testing.assert_close(alone[0], trimmed[row], rtol=0, atol=0)


def test_character_columns_counts_token_and_widest_filter():
    ids = batch_to_ids([["ab", "x" * 60]])[0]
    # <bow> a b <eow>, then 7 padding columns; a long token keeps all 50.
    assert character_columns(ids, 7).tolist() == [4 + 7, 50]


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_word_ids_change_no_vector(small_bilm, precision):
    """The first layer's input products per distinct word give the per-position results."""
    if precision == "bfloat16" and not bfloat16_supported(torch.device("cpu")):
        pytest.skip("this CPU has no native bfloat16")
    sentences = [["a", "b", "a", "c", "a"], ["b", "b"], [], ["c", "a", "d", "e", "f", "g"]]
    ids = batch_to_ids(sentences)
    lengths = (ids[..., 0] > 0).sum(dim=1)
    tokens, token_ids = small_bilm._encode_tokens(_add_boundaries(ids, lengths))
    for keep in (False, True):
        per_position = small_bilm.contextualize(tokens, lengths + 2, keep_boundaries=keep,
                                                precision=precision)
        per_word = small_bilm.contextualize(tokens, lengths + 2, keep_boundaries=keep,
                                            precision=precision, token_ids=token_ids)
        torch.testing.assert_close(per_word.layers, per_position.layers, rtol=0, atol=1e-6)
        torch.testing.assert_close(per_word.state.h, per_position.state.h, rtol=0, atol=1e-6)
        assert torch.equal(per_word.mask, per_position.mask)


# -- what a caller can get wrong ----------------------------------------------------------


def test_no_sentence_at_all(small_bilm):
    out = small_bilm(batch_to_ids([]))
    assert out.layers.shape == (3, 0, 0, 32) and out.mask.shape == (0, 0)
    assert small_bilm.encode_tokens(torch.zeros(0, 50, dtype=torch.long)).shape == (0, 16)


def test_weights_are_fixed_once_built(small_bilm, tmp_path):
    other = BiLM.from_files(*make_random_model(tmp_path, seed=9))
    for module in (other, other.lstm, other.char_encoder):
        with pytest.raises(RuntimeError, match="fixed when it is built.*from_weights"):
            module.load_state_dict(small_bilm.state_dict())


@pytest.mark.parametrize(("char_ids", "error", "message"), [
    (torch.zeros(1, 2, 50), TypeError, "must be an integer tensor"),
    ([[[0] * 50]], TypeError, "must be an integer tensor"),
    (torch.zeros(1, 2, 49, dtype=torch.long), ValueError, "50 ids per token"),
    (torch.zeros(2, 50, dtype=torch.long), ValueError, r"shape \(batch, time, 50\)"),
    (torch.full((1, 2, 50), 263), ValueError, r"must lie in \[0, 261\]"),
    (torch.full((1, 2, 50), -1), ValueError, r"must lie in \[0, 261\]"),
])
def test_bad_character_ids_are_clear_errors(small_bilm, char_ids, error, message):
    with pytest.raises(error, match=message):
        small_bilm(char_ids)


def test_character_ids_of_any_integer_type(small_bilm):
    ids = batch_to_ids([["The", "cat"]])
    assert torch.equal(small_bilm(ids.int()).layers, small_bilm(ids).layers)


def test_a_state_of_other_rows_or_shape_is_an_error(small_bilm):
    ids2, ids3 = batch_to_ids([["a"], ["b"]]), batch_to_ids([["a"], ["b"], ["c"]])
    state3 = small_bilm(ids3).state
    with pytest.raises(ValueError, match=r"state must have 1 or 2 row\(s\) here, got 3"):
        small_bilm(ids2, state=state3)
    with pytest.raises(ValueError, match=r"state.h must be a float32 tensor of shape \(2, 2"):
        small_bilm(ids3, state=type(state3)(state3.h.double(), state3.c))
    with pytest.raises(TypeError, match="state must be an LstmState"):
        small_bilm(ids3, state=(state3.h, state3.c))


def test_low_level_calls_check_the_precision(small_bilm):
    tokens = small_bilm.encode_tokens(batch_to_ids([["<S>", "a", "</S>"]]))
    with pytest.raises(ValueError, match="precision must be one of"):
        small_bilm.contextualize(tokens, torch.tensor([3]), precision="bf16")


def test_a_packed_sentence_outside_its_row_is_an_error(small_bilm):
    tokens = small_bilm.encode_tokens(batch_to_ids([["a", "b"]]))
    boundaries = small_bilm.encode_tokens(batch_to_ids([["<S>", "</S>"]]))[0]
    with pytest.raises(ValueError, match="does not lie in its row: row 0 has 1 positions"):
        small_bilm.contextualize_packed(tokens, torch.tensor([1]), [[(0, 0, 2)]], boundaries)


def test_each_device_has_one_name(small_model_files):
    from skelmo import load_bilm
    from skelmo._engine import resolve_device

    assert resolve_device("cpu:0") == resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ValueError, match="there is one CPU device"):
        resolve_device("cpu:1")
    assert load_bilm(*small_model_files, device="cpu:0") is load_bilm(*small_model_files,
                                                                     device="cpu")


@pytest.mark.parametrize(("capability", "native"), [((7, 5), False), ((8, 0), True),
                                                    ((9, 0), True)])
def test_cuda_bfloat16_is_native_from_ampere_on(monkeypatch, capability, native):
    seen = []
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(torch.cuda, "get_device_capability",
                        lambda device=None: seen.append(device) or capability)
    assert bfloat16_supported(torch.device("cuda", 1)) is native
    assert seen == [torch.device("cuda", 1)]
