"""The biLM trainer: data streams, learning, checkpoints and resume, export."""

from __future__ import annotations

import contextlib
import json
import math
import pickle
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
import torch

from skelmo import BiLM, ModelFileError, batch_to_ids, read_model
from skelmo._format import expected_shapes, token_to_ids
from skelmo.testing import make_options, make_random_model
from skelmo.training import default_options, evaluate_perplexity, train
from skelmo.training._data import (
    Vocabulary,
    count_words,
    epoch_rows,
    n_windows,
    read_corpus,
    windows,
)
from skelmo.training._model import LmSoftmax, TrainableBiLM, _dropout, _trim_padding

OPTIONS = make_options(char_dim=4, filters=((1, 4), (2, 8), (3, 8)), n_highway=1,
                       projection_dim=8, cell_dim=16, n_layers=2)
SMALL = {"options": OPTIONS, "batch_size": 4, "unroll_steps": 5, "vocab_size": 40,
         "min_count": 1, "warmup_steps": 2, "learning_rate": 1e-2, "progress": False,
         "device": "cpu"}
SUBJECTS = ["the cat", "a dog", "my friend", "the old man", "her sister"]
VERBS = ["sees", "likes", "finds", "follows"]
OBJECTS = ["the ball", "a bird", "the red house", "some bread", "the river"]


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Bitwise comparisons need a fixed number of threads."""


@pytest.fixture(scope="module")
def corpus_files(tmp_path_factory):
    """A small regular language: sentences a biLM can learn in a few steps."""
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("corpus")

    def sentences(n):
        return [f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} ."
                for _ in range(n)]

    (root / "train.txt").write_text("\n".join(sentences(400)) + "\n", encoding="utf-8")
    (root / "heldout.txt").write_text("\n".join(sentences(40)) + "\n", encoding="utf-8")
    return root / "train.txt", root / "heldout.txt"


def _weights(model_dir):
    with h5py.File(model_dir / "weights.hdf5", "r") as f:
        return {name: f[name][()] for name in expected_shapes(OPTIONS)}


# -- data ------------------------------------------------------------------------------------


def test_vocabulary_orders_by_frequency_then_word(tmp_path):
    counts = count_words_of(tmp_path, "b a c a b a d\nc b z\n")
    vocabulary = Vocabulary.from_counts(counts, max_size=6, min_count=2)
    assert vocabulary.words == ("<S>", "</S>", "<UNK>", "a", "b", "c")
    path = tmp_path / "vocab.txt"
    vocabulary.save(path)
    assert Vocabulary.load(path) == vocabulary


def count_words_of(tmp_path, text):
    path = tmp_path / "text.txt"
    path.write_text(text, encoding="utf-8")
    return count_words(path)


def test_read_corpus_maps_rare_words_to_unk(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a b rare\n\nb a\n", encoding="utf-8")
    vocabulary = Vocabulary(("<S>", "</S>", "<UNK>", "a", "b"))
    corpus = read_corpus(path, vocabulary)
    assert corpus.types == ["<S>", "</S>", "a", "b", "rare"]
    assert [s.tolist() for s in corpus.sentences] == [[2, 3, 4], [3, 2]]
    assert corpus.targets.tolist() == [0, 1, 3, 4, 2]
    assert torch.equal(corpus.char_ids[4], torch.from_numpy(token_to_ids("rare")))
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n", encoding="utf-8")
    with pytest.raises(ValueError, match="no sentences"):
        read_corpus(empty, vocabulary)


def test_windows_cover_the_rows_and_read_them_backwards(corpus_files):
    vocabulary = Vocabulary.from_counts(count_words(corpus_files[0]), 40, 1)
    corpus = read_corpus(corpus_files[0], vocabulary)
    rows = epoch_rows(corpus, batch_size=4, seed=3, epoch=1)
    assert rows.shape[0] == 4
    # Every sentence brings one <S> (type 0) and one </S> (type 1); the rows
    # cut at most one sentence short at the end.
    assert abs(int((rows == 0).sum()) - int((rows == 1).sum())) <= 1
    steps = 5
    all_windows = list(windows(corpus, 4, steps, seed=3, epoch=1))
    assert len(all_windows) == n_windows(corpus, 4, steps) > 0
    for k, window in enumerate(all_windows):
        assert window.forward.shape == (4, steps + 1)
        np.testing.assert_array_equal(window.forward.numpy(),
                                      rows[:, k * steps: (k + 1) * steps + 1])
        np.testing.assert_array_equal(window.backward.numpy(),
                                      rows[:, ::-1][:, k * steps: (k + 1) * steps + 1])
    # Consecutive windows overlap by one token: each target is the next input.
    assert torch.equal(all_windows[0].forward[:, -1], all_windows[1].forward[:, 0])
    # Resuming at a window gives the same windows; another epoch another order.
    resumed = list(windows(corpus, 4, steps, seed=3, epoch=1, start=2))
    assert torch.equal(resumed[0].forward, all_windows[2].forward)
    assert not np.array_equal(epoch_rows(corpus, 4, seed=3, epoch=2), rows)


def test_trimmed_characters_give_the_engines_token_vectors():
    model = TrainableBiLM(OPTIONS, torch.Generator().manual_seed(1), dropout=0.0).eval()
    bilm = BiLM.from_weights(OPTIONS, model.to_weights())
    tokens = ["a", "word", "x" * 30, "y" * 48, "<S>", "</S>", "h\u00e9llo"]
    char_ids = torch.from_numpy(np.stack([token_to_ids(t) for t in tokens]))
    assert _trim_padding(char_ids[:2], 3).shape[1] == 6 + 3
    with torch.no_grad():
        np.testing.assert_allclose(model.encode(char_ids).numpy(),
                                   bilm.encode_tokens(char_ids).numpy(), atol=1e-6)
        np.testing.assert_allclose(model.encode(char_ids[:2]).numpy(),
                                   model.encode(char_ids)[:2].numpy(), atol=1e-6)


def test_encoder_windows_under_autograd_are_the_engines_and_so_are_their_gradients():
    """With gradients the convolutions read their windows from shifted slices, not unfold."""
    from skelmo._engine import convolutions_max

    torch.manual_seed(2)
    chars = torch.randn(7, 11, 4)
    widths = [1, 2, 3, 5]
    matrices = [torch.randn(w * 4, 6, requires_grad=True) for w in widths]
    biases = [torch.randn(6) for _ in widths]
    with torch.no_grad():
        inference = convolutions_max(chars, widths, matrices, biases)
    leaf = chars.clone().requires_grad_()
    trained = convolutions_max(leaf, widths, matrices, biases)
    assert torch.equal(trained.detach(), inference)  # the same windows, the same products
    upstream = torch.randn_like(trained)
    got = torch.autograd.grad((trained * upstream).sum(), [leaf, *matrices])

    def through_unfold(x):  # the inference path's windows, under autograd
        return torch.cat([torch.addmm(b, x.unfold(1, w, 1).transpose(2, 3).reshape(-1, w * 4), m)
                          .view(7, -1, 6).amax(dim=1)
                          for w, m, b in zip(widths, matrices, biases)], dim=-1)

    leaf2 = chars.clone().requires_grad_()
    want = torch.autograd.grad((through_unfold(leaf2) * upstream).sum(), [leaf2, *matrices])
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-6, atol=1e-6)


# -- training --------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_dropout_zeroes_a_share_p_scales_the_rest_and_follows_torchs_seed(p):
    x = torch.rand(1000, 1000) + 1.0
    torch.manual_seed(5)
    y = _dropout(x, p, training=True)
    kept = y != 0
    assert abs(kept.float().mean().item() - (1 - p)) < 0.005  # 1e6 draws: sd below 5e-4
    # p applies as the nearest multiple of 1/65,536.
    scale = 65536 / (65536 - round(p * 65536))
    torch.testing.assert_close(y[kept], x[kept] * scale, rtol=1e-6, atol=0)
    torch.manual_seed(5)
    assert torch.equal(_dropout(x, p, training=True), y)
    assert not torch.equal(_dropout(x, p, training=True), y)  # the generator moved on
    assert _dropout(x, p, training=False) is x and _dropout(x, 0.0, training=True) is x
    leaf = x.clone().requires_grad_()
    torch.manual_seed(5)
    _dropout(leaf, p, training=True).sum().backward()
    torch.testing.assert_close(leaf.grad, torch.where(kept, scale, 0.0))
    assert _dropout(x, 1.0, training=True).count_nonzero() == 0


def test_training_lowers_the_loss_and_exports_a_loadable_model(corpus_files, tmp_path):
    losses = []
    result = train(corpus_files[0], tmp_path / "model", heldout=corpus_files[1],
                   max_steps=60, seed=0, callback=lambda step, loss: losses.append(loss),
                   **SMALL)
    assert result.steps == 60 and len(losses) == 60
    assert np.mean(losses[-10:]) < 0.8 * np.mean(losses[:5])
    assert math.isclose(result.train_perplexity, math.exp(np.mean(losses[-60:])), rel_tol=1e-3)
    # A regular language: held-out perplexity far below the vocabulary size.
    n_words = len(Vocabulary.load(tmp_path / "model" / "vocab.txt"))
    assert result.heldout.mean < 0.5 * n_words, (result.heldout, n_words)
    assert result.heldout == evaluate_perplexity(tmp_path / "model", corpus_files[1],
                                                 batch_size=4, unroll_steps=5, device="cpu")
    log = json.loads((tmp_path / "model" / "training.json").read_text())
    assert log["steps"] == 60 and log["heldout_perplexity"]["mean"] == result.heldout.mean

    options, _ = read_model(tmp_path / "model" / "options.json",
                                  tmp_path / "model" / "weights.hdf5")
    assert options == OPTIONS
    assert set(_weights(tmp_path / "model")) == set(expected_shapes(OPTIONS))


def test_bfloat16_training_follows_the_float32_curve(corpus_files, tmp_path):
    """Mixed precision: the same run in bfloat16 learns as float32 does; weights stay float32."""
    curves = {}
    for precision in ("float32", "bfloat16"):
        curves[precision] = []
        train(corpus_files[0], tmp_path / precision, max_steps=60, seed=0, precision=precision,
              callback=lambda step, loss, c=curves[precision]: c.append(loss), **SMALL)
    first, low = np.array(curves["float32"]), np.array(curves["bfloat16"])
    assert abs(low[0] - first[0]) < 0.02 * first[0]
    assert np.mean(low[-10:]) < 0.8 * np.mean(low[:5])
    assert abs(np.mean(low[-10:]) - np.mean(first[-10:])) < 0.1 * np.mean(first[-10:])
    assert all(array.dtype == np.float32 for array in _weights(tmp_path / "bfloat16").values())
    with pytest.raises(ValueError, match="precision must be one of 'float32', 'bfloat16'"):
        train(corpus_files[0], tmp_path / "x", max_steps=1, precision="float16", **SMALL)


def test_exported_model_gives_the_engine_the_trained_outputs(corpus_files, tmp_path):
    train(corpus_files[0], tmp_path, max_steps=5, seed=0, **SMALL)
    options, weights = read_model(tmp_path / "options.json", tmp_path / "weights.hdf5")
    model = TrainableBiLM(options, torch.Generator().manual_seed(9), dropout=0.0).eval()
    model.load_weights(weights)
    bilm = BiLM.from_files(tmp_path / "options.json", tmp_path / "weights.hdf5")
    sentences = [["the", "cat", "sees", "a", "bird", "."], ["unseen", "words", "too"]]
    expected = bilm(batch_to_ids(sentences), keep_boundaries=True)
    with torch.no_grad():
        for row, sentence in enumerate(sentences):
            tokens = ["<S>", *sentence, "</S>"]
            x = model.encode(torch.from_numpy(np.stack([token_to_ids(t) for t in tokens])))
            time_major = x[:, None]  # (steps, batch of one, proj)
            outputs, _, _ = model.run_stacks(torch.stack([time_major, time_major.flip(0)]),
                                             model.zero_state(1, torch.device("cpu")))
            top = torch.cat([outputs[0, :, 0], outputs[1, :, 0].flip(0)], dim=-1)
            n = len(tokens)
            np.testing.assert_allclose(expected.layers[-1][row, :n].numpy(), top.numpy(),
                                       atol=1e-5)
            np.testing.assert_allclose(expected.layers[0][row, :n].numpy(),
                                       torch.cat([x, x], -1).numpy(), atol=1e-5)


def test_same_seed_same_model_other_seed_other_model(corpus_files, tmp_path):
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        train(corpus_files[0], tmp_path / name, max_steps=4, seed=seed, **SMALL)
    a, b, c = (_weights(tmp_path / n) for n in "abc")
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["char_embed"], c["char_embed"])


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, RuntimeError])
def test_resume_after_an_interruption_gives_the_uninterrupted_model(
        corpus_files, tmp_path, interruption):
    settings = dict(max_steps=9, seed=0, checkpoint_every=3, **SMALL)
    reference = []
    train(corpus_files[0], tmp_path / "whole", callback=lambda s, loss: reference.append(loss),
          **settings)

    def stop_at_step_5(step, loss):
        if step == 5:
            raise interruption("stopped")

    with pytest.raises(interruption):
        train(corpus_files[0], tmp_path / "split", callback=stop_at_step_5, **settings)
    # Checkpoints hold only tensors and plain values: they load without unpickling objects.
    saved = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=True)
    # Interrupted between steps, by Ctrl-C or a failure, the run keeps every step done.
    assert saved["step"] == 5
    assert not (tmp_path / "split" / "weights.hdf5").exists()
    resumed = []
    result = train(corpus_files[0], tmp_path / "split",
                   callback=lambda s, loss: resumed.append(loss), **settings)
    assert result.steps == 9
    assert resumed == reference[saved["step"]:]
    whole, split = _weights(tmp_path / "whole"), _weights(tmp_path / "split")
    assert all(np.array_equal(whole[k], split[k]) for k in whole)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_during_an_update_lets_the_step_finish_and_keeps_it(corpus_files, tmp_path,
                                                                   monkeypatch):
    settings = dict(max_steps=6, seed=0, checkpoint_every=100, **SMALL)
    reference = []
    train(corpus_files[0], tmp_path / "whole", callback=lambda s, loss: reference.append(loss),
          **settings)
    adam_step = torch.optim.Adam.step
    calls = []

    def interrupted_step(self, *args, **kwargs):
        calls.append(None)
        if len(calls) == 3:
            # Ctrl-C arrives while the third step moves the weights.
            signal.raise_signal(signal.SIGINT)
        return adam_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", interrupted_step)
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        train(corpus_files[0], tmp_path / "split", **settings)
    saved = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=True)
    assert saved["step"] == 3 and len(saved["history"]) == 3
    assert signal.getsignal(signal.SIGINT) is handler
    monkeypatch.undo()
    resumed = []
    train(corpus_files[0], tmp_path / "split", callback=lambda s, loss: resumed.append(loss),
          **settings)
    assert resumed == reference[3:]
    whole, split = _weights(tmp_path / "whole"), _weights(tmp_path / "split")
    assert all(np.array_equal(whole[k], split[k]) for k in whole)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_second_ctrl_c_does_not_cut_short_the_checkpoint_of_the_first(corpus_files, tmp_path,
                                                                       monkeypatch):
    def stop_at_step_3(step, loss):
        if step == 3:
            raise KeyboardInterrupt

    save = torch.save
    saves = []

    def impatient_save(*args, **kwargs):
        saves.append(None)
        signal.raise_signal(signal.SIGINT)  # pressed again while the checkpoint is written
        return save(*args, **kwargs)

    monkeypatch.setattr(torch, "save", impatient_save)
    with pytest.raises(KeyboardInterrupt):
        train(corpus_files[0], tmp_path / "run", max_steps=6, seed=0, checkpoint_every=100,
              callback=stop_at_step_3, **SMALL)
    monkeypatch.undo()
    assert len(saves) == 1
    saved = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert saved["step"] == 3 and len(saved["history"]) == 3


def test_stop_at_step_exports_part_of_the_schedule_and_the_run_continues(corpus_files,
                                                                        tmp_path):
    settings = dict(max_steps=8, seed=0, checkpoint_every=100, **SMALL)
    reference = []
    train(corpus_files[0], tmp_path / "whole", callback=lambda s, loss: reference.append(loss),
          **settings)
    part = []
    result = train(corpus_files[0], tmp_path / "split", stop_at_step=3,
                   callback=lambda s, loss: part.append(loss), **settings)
    assert result.steps == 3 and part == reference[:3]
    log = json.loads((tmp_path / "split" / "training.json").read_text())
    assert (log["steps"], log["planned_steps"]) == (3, 8)
    assert (tmp_path / "split" / "weights.hdf5").exists()
    rest = []
    result = train(corpus_files[0], tmp_path / "split",
                   callback=lambda s, loss: rest.append(loss), **settings)
    # The schedule spanned all 8 steps from the start: the same run as without the stop.
    assert result.steps == 8 and rest == reference[3:]
    whole, split = _weights(tmp_path / "whole"), _weights(tmp_path / "split")
    assert all(np.array_equal(whole[k], split[k]) for k in whole)
    with pytest.raises(ValueError, match="stop_at_step must be None or a positive integer"):
        train(corpus_files[0], tmp_path / "other", stop_at_step=0, **settings)


def test_resume_refuses_a_checkpoint_from_other_arguments(corpus_files, tmp_path):
    train(corpus_files[0], tmp_path, max_steps=2, seed=0, **SMALL)
    with pytest.raises(ValueError, match="other arguments"):
        train(corpus_files[0], tmp_path, max_steps=2, seed=1, **SMALL)
    result = train(corpus_files[0], tmp_path, max_steps=2, seed=1, resume=False,
                   **SMALL)
    assert result.steps == 2


def test_a_finished_run_called_again_does_no_more_steps(corpus_files, tmp_path):
    train(corpus_files[0], tmp_path, max_steps=3, seed=0, **SMALL)
    calls = []
    result = train(corpus_files[0], tmp_path, max_steps=3, seed=0,
                   callback=lambda s, loss: calls.append(s), **SMALL)
    assert result.steps == 3 and calls == []


def test_epochs_set_the_number_of_steps(corpus_files, tmp_path):
    vocabulary = Vocabulary.from_counts(count_words(corpus_files[0]), 40, 1)
    per_epoch = n_windows(read_corpus(corpus_files[0], vocabulary), 4, 5)
    result = train(corpus_files[0], tmp_path, epochs=2, seed=0,
                   **{**SMALL, "batch_size": 4, "unroll_steps": 5})
    assert result.steps == 2 * per_epoch


def test_too_little_text_is_a_clear_error(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("one two\n", encoding="utf-8")
    with pytest.raises(ValueError, match="too"):
        train(path, tmp_path / "out", max_steps=1, **SMALL)


def test_evaluate_needs_a_trained_model_directory(tmp_path, corpus_files):
    with pytest.raises(FileNotFoundError, match="not a directory written by skelmo.train"):
        evaluate_perplexity(tmp_path, corpus_files[1])


def test_default_options_fit_the_size_limit_of_a_bundled_model():
    shapes = expected_shapes(default_options())
    n_parameters = sum(int(np.prod(s)) for s in shapes.values())
    assert 4 * n_parameters < 25 * 2**20


def test_command_line_trains_and_resumes(corpus_files, tmp_path, capsys):
    from skelmo.cli import main

    options_file = tmp_path / "arch.json"
    options_file.write_text(json.dumps(OPTIONS.to_dict()), encoding="utf-8")
    args = ["train", str(corpus_files[0]), str(tmp_path / "model"), "--options",
            str(options_file),
            "--heldout", str(corpus_files[1]), "--steps", "4", "--batch-size", "4",
            "--unroll-steps", "5", "--vocab-size", "40", "--min-count", "1", "--device", "cpu",
            "--learning-rate", "0.01", "--warmup-steps", "2", "--checkpoint-every", "2",
            "--no-progress"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "4 steps" in out and "held-out perplexity" in out
    direct = train(corpus_files[0], tmp_path / "direct", heldout=corpus_files[1], max_steps=4,
                   checkpoint_every=2, **SMALL)
    assert _weights(tmp_path / "model").keys() == _weights(tmp_path / "direct").keys()
    assert all(np.array_equal(a, b) for a, b in zip(_weights(tmp_path / "model").values(),
                                                    _weights(tmp_path / "direct").values()))
    assert f"{direct.heldout.mean:.1f}" in out
    # Other arguments over the same checkpoint: a one-line error, exit status 1.
    assert main([*args[:-1], "--seed", "5", "--no-progress"]) == 1
    assert "other arguments" in capsys.readouterr().err


def test_command_line_reports_a_diverging_run_in_one_line(corpus_files, tmp_path, capsys,
                                                          monkeypatch):
    import skelmo.training
    from skelmo.cli import main

    def diverge(*args, **kwargs):
        raise FloatingPointError("training diverged at step 3: the loss is nan.")

    monkeypatch.setattr(skelmo.training, "train", diverge)
    assert main(["train", str(corpus_files[0]), str(tmp_path / "model"), "--no-progress"]) == 1
    assert capsys.readouterr().err == ("skelmo: error: training diverged at step 3: the loss "
                                       "is nan.\n")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_command_line_checkpoints_on_sigterm(corpus_files, tmp_path):
    options_file = tmp_path / "arch.json"
    options_file.write_text(json.dumps(OPTIONS.to_dict()), encoding="utf-8")
    out = tmp_path / "model"
    command = [sys.executable, "-m", "skelmo", "train", str(corpus_files[0]), str(out),
               "--options", str(options_file), "--steps", "1000000", "--batch-size", "4",
               "--unroll-steps", "5", "--vocab-size", "40", "--min-count", "1", "--device",
               "cpu", "--threads", "1", "--checkpoint-every", "1000000", "--no-progress"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not out.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # the directory appears as the first step starts
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143, err
    assert err.decode().strip() == "skelmo: terminated."
    saved = torch.load(out / "checkpoint.pt", weights_only=True)
    assert saved["step"] >= 1 and len(saved["history"]) == saved["step"]


# -- files from elsewhere --------------------------------------------------------------------


class _RunsCode:
    """Unpickling this object creates ``marker``: what a malicious checkpoint would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def _write_malicious(path, marker, form):
    """A file that runs code when unpickled: a torch.save archive or a bare pickle."""
    payload = {"config": _RunsCode(marker), "step": 0}
    if form == "torch":
        torch.save(payload, path)
    else:
        with open(path, "wb") as f:
            pickle.dump(payload, f)


def _assert_would_have_run(path, marker):
    """The crafted file really runs code when unpickled (so refusing it was the point)."""
    assert not marker.exists()
    # A bare pickle runs its code, then torch finds no magic number after it.
    with contextlib.suppress(RuntimeError):
        torch.load(path, weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("form", ["torch", "pickle"])
def test_resume_refuses_a_checkpoint_that_runs_code(corpus_files, tmp_path, form):
    marker = tmp_path / "marker"
    out = tmp_path / "model"
    out.mkdir()
    _write_malicious(out / "checkpoint.pt", marker, form)
    with pytest.raises(ModelFileError, match="not a checkpoint written by skelmo.train") as info:
        train(corpus_files[0], out, max_steps=2, seed=0, **SMALL)
    assert info.value.path == str(out / "checkpoint.pt")
    assert "weights_only" in str(info.value)
    assert not marker.exists()
    _assert_would_have_run(out / "checkpoint.pt", marker)


@pytest.mark.parametrize("form", ["torch", "pickle"])
def test_evaluate_refuses_an_output_layer_that_runs_code(corpus_files, tmp_path, form):
    train(corpus_files[0], tmp_path, max_steps=2, seed=0, **SMALL)
    marker = tmp_path / "marker"
    _write_malicious(tmp_path / "softmax.pt", marker, form)
    with pytest.raises(ModelFileError, match="not an output layer written by skelmo.train"):
        evaluate_perplexity(tmp_path, corpus_files[1], batch_size=4, unroll_steps=5,
                            device="cpu")
    assert not marker.exists()
    _assert_would_have_run(tmp_path / "softmax.pt", marker)


@pytest.mark.parametrize("content", ["truncated", "garbage", "list", "missing keys"])
def test_unreadable_checkpoints_are_clear_errors(corpus_files, tmp_path, content):
    train(corpus_files[0], tmp_path, max_steps=2, seed=0, **SMALL)
    checkpoint, softmax = tmp_path / "checkpoint.pt", tmp_path / "softmax.pt"
    for path in (checkpoint, softmax):
        data = path.read_bytes()
        if content == "truncated":
            path.write_bytes(data[: len(data) // 2])
        elif content == "garbage":
            path.write_bytes(b"not a checkpoint\n")
        elif content == "list":
            torch.save([1, 2, 3], path)
        else:
            torch.save({"step": 2}, path)
    with pytest.raises(ModelFileError, match="not a checkpoint written by skelmo.train"):
        train(corpus_files[0], tmp_path, max_steps=2, seed=0, **SMALL)
    with pytest.raises(ModelFileError, match="not an output layer written by skelmo.train"):
        evaluate_perplexity(tmp_path, corpus_files[1], batch_size=4, unroll_steps=5,
                            device="cpu")


def test_checkpoint_config_is_plain_data(corpus_files, tmp_path):
    options = make_options(char_dim=4, filters=((1, 4), (2, 8), (3, 8)), n_highway=1,
                           projection_dim=8, cell_dim=16, n_layers=2)
    options.extra["note"] = ("a", "tuple")  # written to options.json as a list
    # NumPy scalars, as a hyperparameter grid gives them.
    settings = {**SMALL, "options": options, "learning_rate": np.float64(1e-2),
                "warmup_steps": np.int64(2)}
    train(corpus_files[0], tmp_path, max_steps=np.int64(2), seed=0, checkpoint_every=1,
          **settings)
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert saved["config"]["options"]["note"] == ["a", "tuple"]
    assert type(saved["config"]["learning_rate"]) is float
    assert json.loads(json.dumps(saved["config"])) == saved["config"]
    # The same arguments resume it (no more steps to take); plain ones too.
    assert train(corpus_files[0], tmp_path, max_steps=2, seed=0, **settings).steps == 2
    assert train(corpus_files[0], tmp_path, max_steps=2, seed=0,
                 **{**settings, "learning_rate": 1e-2, "warmup_steps": 2}).steps == 2


@pytest.mark.parametrize(("argument", "value", "message"), [
    ("learning_rate", torch.tensor(1e-2), "learning_rate must be a finite number >= 0"),
    ("learning_rate", math.inf, "learning_rate must be a finite number >= 0"),
    ("clip_norm", -1.0, "clip_norm must be a finite number > 0"),
    ("clip_norm", 0, "clip_norm must be a finite number > 0"),
    ("dropout", 2, r"dropout must be a finite number in \[0, 1\)"),
    ("batch_size", 0, "batch_size must be a positive integer"),
    ("batch_size", 4.0, "batch_size must be a positive integer"),
    ("unroll_steps", 2.5, "unroll_steps must be a positive integer"),
    ("vocab_size", 5.5, "vocab_size must be a positive integer"),
    ("min_count", 0, "min_count must be a positive integer"),
    ("epochs", 0, "epochs must be a positive integer"),
    ("max_steps", 0, "max_steps must be None or a positive integer"),
    ("max_steps", "3", "max_steps must be None or a positive integer"),
    ("checkpoint_every", 0, "checkpoint_every must be a positive integer"),
    ("warmup_steps", -5, "warmup_steps must be a non-negative integer"),
    ("seed", -1, "seed must be a non-negative integer"),
    ("seed", 1.5, "seed must be a non-negative integer"),
    ("seed", 2**70, "seed must be below 2"),
    ("resume", "yes", "resume must be True or False"),
])
def test_bad_arguments_are_refused_before_anything_is_written(corpus_files, tmp_path, argument,
                                                              value, message):
    settings = {**SMALL, "max_steps": 2, "seed": 0, argument: value}
    with pytest.raises(ValueError, match=message):
        train(corpus_files[0], tmp_path / "out", **settings)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("n_words", [50, 3000])
def test_output_layer_log_probabilities_are_torchs(n_words):
    """LmSoftmax.log_prob computes what nn.AdaptiveLogSoftmaxWithLoss (or a full softmax) does.

    With 3,000 words, 600 rows span two blocks of the head's logits (524 rows, then 76).
    """
    torch.manual_seed(3)
    layer = LmSoftmax(32, n_words, (20, 40) if n_words == 50 else LmSoftmax.default_cutoffs(
        n_words))
    hidden = torch.randn(600, 32, requires_grad=True)
    targets = torch.cat([torch.arange(n_words), torch.randint(0, n_words, (600,))])[:600]
    got = layer.log_prob(hidden, targets)
    want = layer.layer(hidden, targets).output
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
    inputs = [hidden, *layer.parameters()]
    weights = torch.randn(600)  # an uneven upstream gradient
    grad_got = torch.autograd.grad((got * weights).sum(), inputs, allow_unused=True)
    grad_want = torch.autograd.grad((layer.layer(hidden, targets).output * weights).sum(),
                                    inputs, allow_unused=True)
    assert grad_got[0] is not None and grad_got[1] is not None  # the input and the head
    for g, w in zip(grad_got, grad_want):
        assert (g is None) == (w is None)  # a cluster no target falls in gets no gradient
        if g is not None:
            torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-6)
    low = layer.log_prob(hidden, targets, matmul_dtype=torch.bfloat16)
    assert low.dtype == torch.float32
    torch.testing.assert_close(low, want, rtol=0, atol=0.1)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # the dtypes are explicit, not ambient
        torch.testing.assert_close(layer.log_prob(hidden, targets), got, rtol=0, atol=0)


# -- what a user can get wrong -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["vocab.txt", "training.json", "options.json", "checkpoint.pt"])
def test_an_input_among_the_files_training_writes_is_refused(corpus_files, tmp_path, name):
    out = tmp_path / "out"
    out.mkdir()
    corpus = out / name
    corpus.write_bytes(corpus_files[0].read_bytes())
    with pytest.raises(ValueError, match=f"corpus {corpus} is .*a file training writes"):
        train(corpus, out, max_steps=2, **SMALL)
    with pytest.raises(ValueError, match=f"heldout {corpus} is .*a file training writes"):
        train(corpus_files[0], out, heldout=corpus, max_steps=2, **SMALL)
    assert corpus.read_bytes() == corpus_files[0].read_bytes()
    assert [p.name for p in out.iterdir()] == [name]


def test_a_model_training_did_not_write_is_not_overwritten(corpus_files, tmp_path):
    make_random_model(tmp_path, options=OPTIONS, seed=1)
    before = (tmp_path / "weights.hdf5").read_bytes()
    with pytest.raises(ValueError, match="holds a model that skelmo.train did not write"):
        train(corpus_files[0], tmp_path, max_steps=2, **SMALL)
    assert (tmp_path / "weights.hdf5").read_bytes() == before


def test_a_failed_new_run_leaves_the_previous_export_whole(corpus_files, tmp_path):
    train(corpus_files[0], tmp_path, max_steps=3, seed=0, **SMALL)
    exported = {n: (tmp_path / n).read_bytes()
                for n in ("options.json", "weights.hdf5", "softmax.pt", "vocab.txt")}
    before = evaluate_perplexity(tmp_path, corpus_files[1], device="cpu")
    other = tmp_path.parent / "other.txt"
    other.write_text("\n".join(f"w{i % 7} x{i % 5} y{i % 3} ." for i in range(300)) + "\n",
                     encoding="utf-8")

    def fail(step, loss):
        raise RuntimeError("stopped")

    with pytest.raises(RuntimeError, match="stopped"):
        train(other, tmp_path, max_steps=3, seed=0, resume=False, callback=fail, **SMALL)
    assert {n: (tmp_path / n).read_bytes() for n in exported} == exported
    assert evaluate_perplexity(tmp_path, corpus_files[1], device="cpu") == before


def test_resume_refuses_a_corpus_whose_text_changed(corpus_files, tmp_path):
    corpus = tmp_path / "corpus.txt"
    lines = corpus_files[0].read_text(encoding="utf-8").splitlines()
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    train(corpus, tmp_path / "out", max_steps=6, stop_at_step=2, seed=0, **SMALL)
    corpus.write_text("\n".join(reversed(lines)) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"other arguments \(corpus text\)"):
        train(corpus, tmp_path / "out", max_steps=6, seed=0, **SMALL)


@pytest.mark.parametrize("content", [None, b"", b"caf\xe9 .\n"])
def test_a_bad_heldout_file_is_reported_before_training(corpus_files, tmp_path, content):
    heldout = tmp_path / "heldout.txt"
    if content is not None:
        heldout.write_bytes(content)
    steps = []
    with pytest.raises((OSError, ValueError), match="heldout.txt"):
        train(corpus_files[0], tmp_path / "out", heldout=heldout, max_steps=2,
              callback=lambda s, loss: steps.append(s), **SMALL)
    assert steps == []


def test_text_that_is_not_utf8_names_the_file_and_the_line(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"one two .\nthree four .\ncaf\xe9 au lait .\n")
    with pytest.raises(ValueError, match=r"latin1.txt: line 3 is not valid UTF-8"):
        count_words(path)


def test_a_diverging_run_is_a_clear_error_and_keeps_the_last_checkpoint(corpus_files,
                                                                        tmp_path):
    settings = {**SMALL, "learning_rate": 1e-2, "checkpoint_every": 2, "max_steps": 8}
    seen = []

    def blow_up(step, loss):
        seen.append(step)
        if step == 3:  # the next step's loss is not finite
            with torch.no_grad():
                for p in model_parameters:
                    p.fill_(math.nan)

    import skelmo.training._train as training_module
    model_parameters = []
    real = training_module.TrainableBiLM

    class Recorded(real):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            model_parameters.extend(self.parameters())

    training_module.TrainableBiLM = Recorded
    try:
        with pytest.raises(FloatingPointError, match="training diverged at step 4: the loss is "
                           "nan. Lower learning_rate"):
            train(corpus_files[0], tmp_path, callback=blow_up, **settings)
    finally:
        training_module.TrainableBiLM = real
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert saved["step"] == 2 and seen == [1, 2, 3]
    assert not (tmp_path / "weights.hdf5").exists()


def test_an_output_dir_with_another_weights_file_is_refused(corpus_files, tmp_path):
    make_random_model(tmp_path / "start", options=OPTIONS, seed=2)
    (tmp_path / "start" / "weights.hdf5").rename(tmp_path / "start" / "elmo_weights.hdf5")
    (tmp_path / "start" / "options.json").rename(tmp_path / "start" / "elmo_options.json")
    with pytest.raises(ValueError, match=r"holds other weights files \(elmo_weights.hdf5\)"):
        train(corpus_files[0], tmp_path / "start", init_model=tmp_path / "start", max_steps=2,
              **{k: v for k, v in SMALL.items() if k != "options"})
    assert sorted(p.name for p in (tmp_path / "start").iterdir()) == ["elmo_options.json",
                                                                      "elmo_weights.hdf5"]
