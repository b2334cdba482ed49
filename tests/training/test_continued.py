"""Continued pretraining: train(init_model=...) starts from a model's biLM weights."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch

from skelmo.testing import make_options, make_random_model
from skelmo.training import evaluate_perplexity, train

OPTIONS = make_options(char_dim=4, filters=((1, 4), (2, 8), (3, 8)), n_highway=1,
                       projection_dim=8, cell_dim=16, n_layers=2)
SMALL = {"batch_size": 4, "unroll_steps": 5, "vocab_size": 40, "min_count": 1,
         "warmup_steps": 2, "learning_rate": 1e-2, "progress": False, "device": "cpu"}


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Bitwise comparisons need a fixed number of threads."""


def _datasets(weight_file):
    found = {}
    with h5py.File(weight_file, "r") as f:
        f.visititems(lambda name, item: found.__setitem__(name, item[()])
                     if isinstance(item, h5py.Dataset) else None)
    return found


def _write_text(path, words, n, seed):
    rng = np.random.default_rng(seed)
    path.write_text("\n".join(" ".join(rng.choice(words, int(rng.integers(3, 8))))
                              for _ in range(n)) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def start_model(tmp_path_factory):
    return make_random_model(tmp_path_factory.mktemp("start"), options=OPTIONS, seed=3)


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    root = tmp_path_factory.mktemp("text")
    return _write_text(root / "b.txt", ["a", "cat", "sat", "on", "the", "mat", "."], 120, 0)


def test_learning_rate_zero_exports_the_starting_weights_bit_for_bit(start_model, text,
                                                                     tmp_path):
    train(text, tmp_path, init_model=start_model[0].parent, max_steps=3,
          **{**SMALL, "learning_rate": 0.0})
    before, after = _datasets(start_model[1]), _datasets(tmp_path / "weights.hdf5")
    assert before.keys() == after.keys()
    for name, array in before.items():
        assert array.dtype == after[name].dtype and array.tobytes() == after[name].tobytes(), name


def test_learning_rate_zero_keeps_negative_zeros(text, tmp_path):
    """-0.0 == 0.0, so only the bytes tell whether a zero step was applied."""
    start = make_random_model(tmp_path / "start", options=OPTIONS, seed=4)[1]
    def negate_every_third(name, item):
        if isinstance(item, h5py.Dataset) and item.dtype.kind == "f":
            item[...] = np.where(np.arange(item.size).reshape(item.shape) % 3 == 0, -0.0,
                                 item[()])
            item.attrs.pop("skelmo_sha256", None)  # the values change on purpose

    with h5py.File(start, "r+") as f:
        f.visititems(negate_every_third)
    train(text, tmp_path / "out", init_model=start.parent, max_steps=3,
          **{**SMALL, "learning_rate": 0.0})
    before, after = _datasets(start), _datasets(tmp_path / "out" / "weights.hdf5")
    assert any(np.signbit(a).any() for a in before.values())
    for name, array in before.items():
        assert array.tobytes() == after[name].tobytes(), name


def test_the_starting_model_is_never_overwritten(text, tmp_path):
    start = make_random_model(tmp_path / "model", options=OPTIONS, seed=5)[1]
    content = start.read_bytes()
    with pytest.raises(ValueError, match="a file training writes; train into another"):
        train(text, tmp_path / "model", init_model=tmp_path / "model", max_steps=2, **SMALL)
    assert start.read_bytes() == content
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["options.json",
                                                                      "weights.hdf5"]


@pytest.mark.parametrize("how", ["directory", "pair"])
def test_the_architecture_comes_from_the_model(start_model, text, tmp_path, how):
    init = start_model[0].parent if how == "directory" else start_model
    train(text, tmp_path, init_model=init, max_steps=2, **SMALL)
    written = json.loads((tmp_path / "options.json").read_text())
    assert written == json.loads(start_model[0].read_text())
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert len(saved["config"]["init_model"]["weights_sha256"]) == 64


def test_the_biLM_stays_fixed_while_the_output_layer_warms_up(start_model, text, tmp_path):
    train(text, tmp_path / "warm", init_model=start_model, max_steps=3, output_warmup_steps=3,
          **SMALL)
    before, after = _datasets(start_model[1]), _datasets(tmp_path / "warm" / "weights.hdf5")
    assert all(before[n].tobytes() == after[n].tobytes() for n in before)
    softmax = torch.load(tmp_path / "warm" / "softmax.pt", weights_only=True)
    assert softmax["state"]  # the output layer was trained and written
    # Past the warm-up the biLM learns.
    train(text, tmp_path / "on", init_model=start_model, max_steps=4, output_warmup_steps=2,
          **SMALL)
    after = _datasets(tmp_path / "on" / "weights.hdf5")
    assert any(before[n].tobytes() != after[n].tobytes() for n in before)


def test_options_that_differ_from_the_model_are_an_error(start_model, text, tmp_path):
    with pytest.raises(ValueError, match=r"cell_dim.*leave options out"):
        train(text, tmp_path, init_model=start_model, options=make_options(cell_dim=32),
              max_steps=1, **SMALL)
    # The same architecture, given again, is fine.
    train(text, tmp_path, init_model=start_model, options=OPTIONS, max_steps=1, **SMALL)


def test_a_missing_model_is_the_estimators_error(text, tmp_path):
    with pytest.raises(FileNotFoundError):
        train(text, tmp_path, init_model=tmp_path / "nowhere", max_steps=1, **SMALL)
    assert not (tmp_path / "checkpoint.pt").exists()


def test_options_as_a_dict_or_a_file_are_the_same_run(start_model, text, tmp_path):
    as_dict = json.loads(start_model[0].read_text())
    runs = {"object": OPTIONS, "dict": as_dict, "file": start_model[0]}
    for name, options in runs.items():
        train(text, tmp_path / name, options=options, max_steps=2, seed=0, **SMALL)
    weights = [_datasets(tmp_path / name / "weights.hdf5") for name in runs]
    for other in weights[1:]:
        assert all(np.array_equal(weights[0][n], other[n]) for n in weights[0])
    with pytest.raises(TypeError, match="options must be"):
        train(text, tmp_path / "bad", options=3, max_steps=1, **SMALL)


def test_negative_learning_rate_is_refused(text, tmp_path):
    with pytest.raises(ValueError, match="learning_rate must be a finite number >= 0"):
        train(text, tmp_path, max_steps=1, **{**SMALL, "learning_rate": -1e-3})


def test_continuing_from_a_model_of_related_text_beats_scratch(tmp_path):
    """A model that learnt text A reaches a lower perplexity on text B at equal steps."""
    words_a = ["the", "cat", "dog", "sat", "ran", "on", "under", "mat", "rug", "a", "."]
    words_b = words_a + ["bird", "flew", "over", "tree"]
    text_a = _write_text(tmp_path / "a.txt", words_a, 600, 1)
    text_b = _write_text(tmp_path / "b.txt", words_b, 300, 2)
    heldout_b = _write_text(tmp_path / "b-heldout.txt", words_b, 60, 3)
    settings = {**SMALL, "options": OPTIONS, "vocab_size": 60}
    train(text_a, tmp_path / "a", max_steps=150, **settings)
    del settings["options"]
    scratch = train(text_b, tmp_path / "scratch", max_steps=30, options=OPTIONS, **settings)
    continued = train(text_b, tmp_path / "continued", init_model=tmp_path / "a", max_steps=30,
                      output_warmup_steps=10, **settings)
    assert continued.steps == scratch.steps == 30
    ppl_scratch = evaluate_perplexity(tmp_path / "scratch", heldout_b, device="cpu").mean
    ppl_continued = evaluate_perplexity(tmp_path / "continued", heldout_b, device="cpu").mean
    assert ppl_continued < ppl_scratch


def test_continuing_the_published_reference_model(reference_dir, text, tmp_path):
    """The published file layout (bilm-tf's, 261 character rows) is a starting point too."""
    files = (reference_dir / "options.json", reference_dir / "lm_weights.hdf5")
    train(text, tmp_path, init_model=files, max_steps=2, **{**SMALL, "learning_rate": 0.0})
    before, after = _datasets(files[1]), _datasets(tmp_path / "weights.hdf5")
    for name, array in before.items():
        np.testing.assert_array_equal(after[name], array, err_msg=name)


@pytest.mark.parametrize("bad", [5, ("only-one",)])
def test_an_invalid_init_model_names_the_argument(text, tmp_path, bad):
    with pytest.raises(ValueError, match="^init_model: model"):
        train(text, tmp_path, init_model=bad, max_steps=1, **SMALL)
