"""The ``skelmo`` command line, through main() in this process and as ``python -m skelmo``."""

from __future__ import annotations

import codecs
import errno
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np
import pytest
import torch

from skelmo import BiLM, ElmoEmbedder, __version__, models
from skelmo.cli import main
from skelmo.models import _fetch
from skelmo.testing import make_options, make_random_model
from tests._http_server import ModelServer

TINY = dict(filters=((1, 4), (2, 8)), n_highway=1, projection_dim=8, cell_dim=16, n_layers=2)
SENTENCES = ["The cat sat on the mat .", "Hello", "A longer sentence with more words in it",
             "Hello"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cli-model")
    make_random_model(directory, seed=5, **TINY)
    return directory


@pytest.fixture(scope="module")
def expected(model_dir):
    """ElmoEmbedder's output for SENTENCES: (n_layers, T, dim) each."""
    bilm = BiLM.from_files(model_dir / "options.json", model_dir / "weights.hdf5")
    return ElmoEmbedder(bilm, state="warm").embed_sentences([s.split() for s in SENTENCES])


@pytest.fixture
def env(tmp_path):
    return {**os.environ, "SKELMO_HOME": str(tmp_path / "home"),
            "SKELMO_ALLOW_INSECURE_LOCALHOST": "1"}


def skelmo(*args, env=None, stdin=None):
    return subprocess.run([sys.executable, "-m", "skelmo", *map(str, args)], env=env,
                          input=stdin, capture_output=True, timeout=300)


@pytest.fixture
def input_file(tmp_path):
    path = tmp_path / "input.txt"
    path.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("layers", ["all", "top", "average"])
def test_embed_matches_the_embedder(layers, model_dir, expected, input_file, tmp_path, env):
    output = tmp_path / "out.hdf5"
    result = skelmo("embed", input_file, output, "--model", model_dir, "--layers", layers,
                    "--batch-size", "2", env=env)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stderr == b""
    with h5py.File(output, "r") as fin:
        assert sorted(fin.keys()) == ["0", "1", "2", "3", "sentence_to_index"]
        for i, want in enumerate(expected):
            got = fin[str(i)][...]
            want = {"all": want, "top": want[-1], "average": want.mean(axis=0)}[layers]
            assert got.dtype == np.float32
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
        mapping = json.loads(fin["sentence_to_index"][0])
    assert mapping == {"The cat sat on the mat .": "0", "Hello": "3",
                       "A longer sentence with more words in it": "2"}
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_embed_shapes_and_stdin(model_dir, tmp_path, env):
    output = tmp_path / "out.hdf5"
    result = skelmo("embed", "-", output, "--model", model_dir, "--layers", "mix",
                    env=env, stdin=b"one two three\nfour\n")
    assert result.returncode == 0, result.stderr.decode()
    with h5py.File(output, "r") as fin:
        assert fin["0"].shape == (3, 16) and fin["1"].shape == (1, 16)


def test_embed_through_a_registered_name(model_dir, tmp_path, env, expected, input_file):
    subprocess.run([sys.executable, "-c",
                    "import sys; from skelmo import models; "
                    "models.register('mine', directory=sys.argv[1], persist=True)",
                    str(model_dir)], env=env, check=True, timeout=300)
    output = tmp_path / "out.hdf5"
    result = skelmo("embed", input_file, output, "--model", "mine", "--layers", "all", env=env)
    assert result.returncode == 0, result.stderr.decode()
    with h5py.File(output, "r") as fin:
        np.testing.assert_allclose(fin["2"][...], expected[2], rtol=1e-6, atol=1e-6)


def test_blank_line_is_an_error(model_dir, tmp_path, env):
    source = tmp_path / "in.txt"
    source.write_text("first line\nsecond\n\nfourth\n", encoding="utf-8")
    output = tmp_path / "out.hdf5"
    result = skelmo("embed", source, output, "--model", model_dir, env=env)
    assert result.returncode == 1
    message = result.stderr.decode()
    assert "line 3 is blank" in message and "Traceback" not in message
    assert not output.exists()
    assert list(tmp_path.glob(".out.hdf5*")) == []


def test_invalid_utf8_is_an_error(model_dir, tmp_path, env):
    source = tmp_path / "in.txt"
    source.write_bytes(b"good line\nbad \xff\xfe byte\n")
    result = skelmo("embed", source, tmp_path / "out.hdf5", "--model", model_dir, env=env)
    assert result.returncode == 1
    assert "line 2 is not valid UTF-8" in result.stderr.decode()
    assert not (tmp_path / "out.hdf5").exists()


def test_existing_output_needs_overwrite(model_dir, input_file, tmp_path, env):
    output = tmp_path / "out.hdf5"
    output.write_bytes(b"precious")
    result = skelmo("embed", input_file, output, "--model", model_dir, env=env)
    assert result.returncode == 1
    assert "--overwrite" in result.stderr.decode()
    assert output.read_bytes() == b"precious"
    result = skelmo("embed", input_file, output, "--model", model_dir, "--overwrite", env=env)
    assert result.returncode == 0, result.stderr.decode()
    assert h5py.is_hdf5(output)


def test_model_defaults_to_the_bundled_one_and_is_checked(input_file, tmp_path, env):
    output = tmp_path / "out.hdf5"
    result = skelmo("embed", input_file, output, "--layers", "top", env=env)
    assert result.returncode == 0, result.stderr.decode()
    with h5py.File(output, "r") as f:
        assert f["0"].shape[-1] == models.lookup(models.BUNDLED_MODEL).dim
    result = skelmo("embed", input_file, tmp_path / "other.hdf5", "--model", "nope", env=env)
    assert result.returncode == 1
    message = result.stderr.decode()
    assert "not a registered model name" in message and "small" in message
    assert "Traceback" not in message


@pytest.mark.parametrize("args", [[], ["embed"], ["models"], ["download"], ["info"],
                                  ["train"]])
def test_help(args, capsys):
    assert main([*args, "--help"]) == 0
    assert "usage: skelmo" in capsys.readouterr().out


def test_help_through_python_m(env):
    result = skelmo("embed", "--help", env=env)
    assert result.returncode == 0 and b"OUTPUT" in result.stdout


@pytest.mark.parametrize("args", [
    [], ["frobnicate"], ["embed"], ["embed", "in.txt"], ["embed", "a", "b", "--layers", "bad"],
    ["embed", "a", "b", "--batch-size", "0"], ["download"], ["info"], ["models", "extra"],
    ["embed", "a", "b", "--threads", "0"], ["embed", "a", "b", "--threads", "x"],
    ["train", "a", "b", "--threads", "0"], ["train", "a", "b", "--threads", "-1"],
])
def test_usage_errors_exit_2(args, capsys):
    assert main(args) == 2
    assert "usage:" in capsys.readouterr().err


def test_usage_error_through_python_m(env):
    result = skelmo("embed", env=env)
    assert result.returncode == 2 and b"usage:" in result.stderr


def test_info(model_dir, env):
    result = skelmo("info", model_dir, env=env)
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    assert "highway:      1 layer" in out
    assert "projection:   12 -> 8" in out
    assert "lstm:         2 layers per direction, cell 16, projection 8" in out
    assert "output:       3 layers of width 16" in out
    assert "parameters:" in out and "weights.hdf5" in out
    result = skelmo("info", "small", env=env)
    assert result.returncode == 0
    assert "not downloaded" in result.stdout.decode()
    assert "2x1024_128_2048cnn_1xhighway" in result.stdout.decode()
    result = skelmo("info", "no-such-model", env=env)
    assert result.returncode == 1 and b"Registered names" in result.stderr


def test_models_and_download(model_dir, tmp_path, env):
    with ModelServer(model_dir) as server:
        register = (
            "import sys; from skelmo import models; "
            "models.register('served', options=sys.argv[1] + '/good/options.json', "
            "weights=sys.argv[1] + '/good/weights.hdf5', dim=16, persist=True)"
        )
        subprocess.run([sys.executable, "-c", register, server.url], env=env, check=True,
                       timeout=300)
        result = skelmo("models", env=env)
        assert result.returncode == 0, result.stderr.decode()
        lines = result.stdout.decode().splitlines()
        assert lines[0].split() == ["NAME", "DIM", "WEIGHTS", "SIZE", "CACHED", "LOCATION"]
        served = next(line for line in lines if line.startswith("served"))
        assert served.split()[1:4] == ["16", "unknown", "no"]
        result = skelmo("download", "served", "--no-progress", env=env)
        assert result.returncode == 0, result.stderr.decode()
        cached = tmp_path / "home" / "models" / "served"
        assert (cached / "weights.hdf5").read_bytes() == (model_dir / "weights.hdf5").read_bytes()
        assert (cached / "manifest.json").is_file()
        assert server.count() == 2
        result = skelmo("download", "served", env=env)  # already there: no request
        assert result.returncode == 0 and server.count() == 2
        served = next(line for line in skelmo("models", env=env).stdout.decode().splitlines()
                      if line.startswith("served"))
        assert served.split()[3:] == ["yes", str(cached)]
        # A damaged copy is reported, and --force repairs it.
        (cached / "weights.hdf5").write_bytes(b"garbage")
        result = skelmo("embed", "-", tmp_path / "o.hdf5", "--model", "served", env=env,
                        stdin=b"a b\n")
        assert result.returncode == 1
        assert b"skelmo download served --force" in result.stderr
        assert skelmo("download", "served", "--force", env=env).returncode == 0
        assert server.count() == 4
    result = skelmo("download", "nope", env=env)
    assert result.returncode == 1 and b"No model named 'nope'" in result.stderr


def test_download_failure_is_one_line(tmp_path, env):
    register = ("from skelmo import models; models.register('gone', "
                "options='https://127.0.0.1:9/o.json', weights='https://127.0.0.1:9/w.hdf5', "
                "persist=True)")
    subprocess.run([sys.executable, "-c", register], env=env, check=True, timeout=300)
    result = skelmo("download", "gone", "--timeout", "2", env=env)
    assert result.returncode == 1
    message = result.stderr.decode()
    assert "https://127.0.0.1:9/o.json" in message and "Traceback" not in message
    assert "register" in message


# -- the output file, the input file ---------------------------------------------------------


@pytest.mark.parametrize("how", ["same path", "other spelling", "symlink", "hard link",
                                 "input is a symlink", "stdin"])
def test_output_that_is_the_input_is_refused(how, model_dir, input_file, tmp_path, capsys,
                                              monkeypatch):
    before = input_file.read_bytes()
    source, output = str(input_file), input_file
    if how == "other spelling":
        (tmp_path / "sub").mkdir()
        output = tmp_path / "sub" / ".." / input_file.name
    elif how == "symlink":
        output = tmp_path / "link.hdf5"
        output.symlink_to(input_file)
    elif how == "hard link":
        output = tmp_path / "hard.hdf5"
        os.link(input_file, output)
    elif how == "input is a symlink":
        source = str(tmp_path / "link.txt")
        Path(source).symlink_to(input_file)
    elif how == "stdin":
        source = "-"
        stdin = open(input_file, encoding="utf-8")
        monkeypatch.setattr(sys, "stdin", stdin)
    try:
        status = main(["embed", source, str(output), "--model", str(model_dir), "--overwrite"])
    finally:
        if how == "stdin":
            stdin.close()
    assert status == 1
    message = capsys.readouterr().err
    assert "is the input" in message and message.count("\n") == 1
    assert input_file.read_bytes() == before
    assert list(tmp_path.glob(".*.tmp")) == []


def test_an_output_directory_is_refused_up_front(input_file, tmp_path, capsys):
    directory = tmp_path / "outdir"
    directory.mkdir()
    for extra in ([], ["--overwrite"]):
        # The model does not exist: the output is checked before anything is loaded.
        status = main(["embed", str(input_file), str(directory), "--model",
                       str(tmp_path / "no-model"), *extra])
        assert status == 1
        message = capsys.readouterr().err
        assert "is a directory" in message and "no-model" not in message
    assert list(directory.iterdir()) == []
    assert list(tmp_path.glob(".*.tmp")) == []


def test_a_byte_order_mark_is_not_part_of_the_first_sentence(model_dir, expected, tmp_path,
                                                              capsys):
    source = tmp_path / "bom.txt"
    source.write_bytes(codecs.BOM_UTF8 + ("\n".join(SENTENCES) + "\n").encode("utf-8"))
    output = tmp_path / "out.hdf5"
    assert main(["embed", str(source), str(output), "--model", str(model_dir)]) == 0
    with h5py.File(output, "r") as fin:
        np.testing.assert_allclose(fin["0"][...], expected[0], rtol=1e-6, atol=1e-6)
        mapping = json.loads(fin["sentence_to_index"][0])
    assert mapping["The cat sat on the mat ."] == "0"


# -- info --------------------------------------------------------------------------------------


@pytest.fixture
def truncated_model(model_dir, tmp_path):
    directory = tmp_path / "truncated"
    shutil.copytree(model_dir, directory)
    weights = directory / "weights.hdf5"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) * 2 // 3])
    return directory


def test_info_reads_the_weights_in_full(truncated_model, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SKELMO_HOME", str(tmp_path / "home"))
    assert main(["info", str(truncated_model)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "weights.hdf5" in captured.err and captured.err.count("\n") == 1
    models.register("truncated-for-info", directory=truncated_model)
    try:
        assert main(["info", "truncated-for-info"]) == 1
    finally:
        models.unregister("truncated-for-info")
    captured = capsys.readouterr()
    assert captured.out == "" and "weights.hdf5" in captured.err


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_info_says_what_is_wrong_with_a_path(kind, model_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SKELMO_HOME", str(tmp_path / "home"))
    path = tmp_path / "nowhere" if kind == "missing" else model_dir / "weights.hdf5"
    assert main(["info", str(path)]) == 1
    message = capsys.readouterr().err
    assert "Invalid model name" not in message and str(path) in message
    if kind == "missing":
        assert "no such model directory" in message
        assert "not a registered model name" in message and "small" in message
    else:
        assert "is a file" in message and "directory" in message


# -- the whole command -------------------------------------------------------------------------


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"skelmo {__version__}\n"


def test_an_interrupt_anywhere_in_main_is_one_line(monkeypatch, capsys):
    from skelmo import cli

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_parser", interrupted)
    try:
        status = main(["models"])
    except KeyboardInterrupt:
        pytest.fail("the interrupt escaped main()")
    assert status == 130
    assert capsys.readouterr().err == "skelmo: interrupted.\n"


def _other_thread_count() -> int:
    return 1 if torch.get_num_threads() != 1 else 2


def test_embed_threads_reach_torch(model_dir, input_file, tmp_path, monkeypatch, capsys):
    before = torch.get_num_threads()
    wanted = _other_thread_count()
    seen = []
    original = ElmoEmbedder.iter_batches

    def spy(self, sentences):
        seen.append(torch.get_num_threads())
        yield from original(self, sentences)

    monkeypatch.setattr(ElmoEmbedder, "iter_batches", spy)
    args = ["embed", str(input_file), "--model", str(model_dir)]
    assert main([*args, str(tmp_path / "a.hdf5"), "--threads", str(wanted)]) == 0
    assert seen == [wanted] and torch.get_num_threads() == before
    assert main([*args, str(tmp_path / "b.hdf5")]) == 0  # default: torch's own setting
    assert seen == [wanted, before]
    assert main(["embed", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "torch CPU threads (default: torch's setting" in help_text


def test_train_threads_reach_torch(tmp_path, monkeypatch, capsys):
    from skelmo import training

    before = torch.get_num_threads()
    wanted = _other_thread_count()
    seen = []

    def fake_train(corpus, output_dir, **kwargs):
        seen.append(torch.get_num_threads())
        return SimpleNamespace(model_dir=Path(output_dir), steps=1, seconds=0.0,
                               train_perplexity=1.0, heldout=None)

    monkeypatch.setattr(training, "train", fake_train)
    assert main(["train", "corpus.txt", str(tmp_path / "m"), "--threads", str(wanted)]) == 0
    assert main(["train", "corpus.txt", str(tmp_path / "m")]) == 0
    assert seen == [wanted, before] and torch.get_num_threads() == before
    assert main(["train", "--help"]) == 0
    assert "--threads" in capsys.readouterr().out


def test_the_parser_knows_the_engines_state_policies():
    from skelmo import _engine, cli

    assert cli.STATE_POLICIES is _engine.STATE_POLICIES


def test_train_init_model_continues_a_model(tmp_path, capsys):
    options = make_options(char_dim=4, filters=((1, 4), (2, 8)), n_highway=1,
                           projection_dim=8, cell_dim=16, n_layers=1)
    start = make_random_model(tmp_path / "start", options=options, seed=2)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat .\na dog sat on a rug .\n" * 20, encoding="utf-8")
    args = ["train", str(corpus), str(tmp_path / "out"), "--init-model", str(tmp_path / "start"),
            "--steps", "2", "--batch-size", "2", "--unroll-steps", "4", "--min-count", "1",
            "--output-warmup-steps", "2", "--device", "cpu"]
    assert main(args) == 0
    assert "2 steps" in capsys.readouterr().out
    assert json.loads((tmp_path / "out" / "options.json").read_text()) == json.loads(
        start[0].read_text())
    # Two warm-up steps of two: the biLM weights are the starting ones.
    with h5py.File(start[1], "r") as before, h5py.File(tmp_path / "out" / "weights.hdf5") as after:
        assert np.array_equal(before["char_embed"][()], after["char_embed"][()])
    assert main([*args[:-4], "--output-warmup-steps", "-1"]) == 2
    assert "non-negative integer" in capsys.readouterr().err


def test_embed_split_sentences_and_token_bounds(model_dir, tmp_path):
    source = tmp_path / "docs.txt"
    source.write_text("It rained . We stayed in .\nNo end here\n", encoding="utf-8")
    bilm = BiLM.from_files(model_dir / "options.json", model_dir / "weights.hdf5")
    pieces = ElmoEmbedder(bilm).embed_sentences(
        [["It", "rained", "."], ["We", "stayed", "in", "."], ["No", "end", "here"]])
    expected = [np.concatenate(pieces[:2], axis=1), pieces[2]]
    for run, extra in enumerate(([], ["--max-batch-tokens", "1"], ["--batch-size", "1"])):
        output = tmp_path / f"out{run}.hdf5"
        assert main(["embed", str(source), str(output), "--model", str(model_dir),
                     "--split-sentences", *extra]) == 0
        with h5py.File(output, "r") as fin:
            for i, want in enumerate(expected):
                np.testing.assert_array_equal(fin[str(i)][...], want)
    # Without the flag a line is one sequence.
    whole = tmp_path / "whole.hdf5"
    assert main(["embed", str(source), str(whole), "--model", str(model_dir)]) == 0
    with h5py.File(whole, "r") as fin:
        assert fin["0"].shape == expected[0].shape
        assert not np.array_equal(fin["0"][...], expected[0])


def test_embed_refuses_bfloat16_without_native_support(model_dir, input_file, tmp_path,
                                                       monkeypatch, capsys):
    from skelmo._engine import _device

    monkeypatch.setattr(_device, "bfloat16_supported", lambda device: False)
    output = tmp_path / "out.hdf5"
    assert main(["embed", str(input_file), str(output), "--model", str(model_dir),
                 "--precision", "bfloat16"]) == 1
    assert "precision='bfloat16' needs native bfloat16" in capsys.readouterr().err
    assert not output.exists()


# -- what the review found -----------------------------------------------------------------


def test_progress_without_tqdm_is_one_line(model_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SKELMO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SKELMO_ALLOW_INSECURE_LOCALHOST", "1")
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm fails
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with ModelServer(model_dir) as server:
        models.register("served-no-tqdm", options=f"{server.url}/good/options.json",
                        weights=f"{server.url}/good/weights.hdf5")
        try:
            status = main(["download", "served-no-tqdm", "--progress"])
        finally:
            models.unregister("served-no-tqdm")
    assert status == 1
    assert capsys.readouterr().err == "skelmo: error: progress=True needs tqdm: pip install tqdm\n"


@pytest.mark.parametrize("value", ["1e10", "86401", "inf"])
def test_a_huge_timeout_is_a_usage_error(value, capsys):
    assert main(["download", "small", "--timeout", value]) == 2
    err = capsys.readouterr().err
    assert "usage: skelmo download" in err and "--timeout" in err
    assert "at most 86400 seconds" in err or "expected a positive number" in err
    assert "Traceback" not in err


def test_the_parser_knows_the_download_timeout_limit():
    from skelmo import cli

    assert cli._MAX_TIMEOUT == _fetch.MAX_TIMEOUT


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_only_a_regular_file_is_overwritten(input_file, tmp_path, capsys):
    fifo = tmp_path / "out.hdf5"
    os.mkfifo(fifo)
    for extra in ([], ["--overwrite"]):
        # The model does not exist: OUTPUT is refused before anything is loaded.
        status = main(["embed", str(input_file), str(fifo), "--model",
                       str(tmp_path / "no-model"), *extra])
        assert status == 1
        err = capsys.readouterr().err
        assert f"{fifo} is not a regular file" in err and "must be a regular file" in err
        assert "no-model" not in err and err.count("\n") == 1
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert list(tmp_path.glob(".*.tmp")) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_named_pipe_is_a_valid_input(model_dir, expected, tmp_path, capsys):
    fifo = tmp_path / "sentences"
    os.mkfifo(fifo)
    data = ("\n".join(SENTENCES) + "\n").encode("utf-8")

    def feed():
        try:
            with open(fifo, "wb") as pipe:
                pipe.write(data)
        except OSError:  # the reader went away
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    output = tmp_path / "out.hdf5"
    try:
        status = main(["embed", str(fifo), str(output), "--model", str(model_dir)])
    finally:
        if writer.is_alive():  # the pipe was never opened: release the writer
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        writer.join(timeout=5)
    assert status == 0, capsys.readouterr().err
    with h5py.File(output, "r") as fin:
        np.testing.assert_allclose(fin["2"][...], expected[2], rtol=1e-6, atol=1e-6)


def test_an_input_directory_is_named_as_such(tmp_path, capsys):
    status = main(["embed", str(tmp_path), str(tmp_path / "out.hdf5"), "--model",
                   str(tmp_path / "no-model")])
    assert status == 1
    err = capsys.readouterr().err
    assert f"{tmp_path} is a directory; INPUT is the text file" in err
    assert "no such input file" not in err


def test_closed_stdin_is_one_line(model_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", None)  # `skelmo embed - out.hdf5 <&-`
    output = tmp_path / "out.hdf5"
    assert main(["embed", "-", str(output), "--model", str(model_dir)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("skelmo: error: INPUT is - but standard input is closed")
    assert err.count("\n") == 1 and not output.exists()


@pytest.mark.parametrize("extra, named", [
    (["--gamma", "2"], "--gamma"),
    (["--layers", "top", "--mix-weights", "0,0,0"], "--mix-weights"),
    (["--layers", "average", "--mix-weights", "0,0,0", "--gamma", "2"],
     "--mix-weights and --gamma"),
])
def test_mix_options_need_layers_mix(extra, named, input_file, tmp_path, capsys):
    output = tmp_path / "out.hdf5"
    assert main(["embed", str(input_file), str(output), "--model", str(tmp_path / "no-model"),
                 *extra]) == 2
    err = capsys.readouterr().err
    assert "usage: skelmo embed" in err
    assert f"{named} apply only with --layers mix" in err
    assert not output.exists()


def test_mix_gamma_scales_the_mix(model_dir, input_file, tmp_path):
    base = ["embed", str(input_file), "--model", str(model_dir)]
    assert main([*base, str(tmp_path / "average.hdf5"), "--layers", "average"]) == 0
    assert main([*base, str(tmp_path / "mix.hdf5"), "--layers", "mix", "--gamma", "2"]) == 0
    with h5py.File(tmp_path / "average.hdf5", "r") as average, \
            h5py.File(tmp_path / "mix.hdf5", "r") as mix:
        # Equal weights: the mix is gamma times the average of the layers.
        np.testing.assert_allclose(mix["0"][...], 2 * average["0"][...], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("args", [["info", ""], ["embed", "in.txt", "out.hdf5", "-m", ""],
                                  ["train", "corpus.txt", "out", "--init-model", ""]])
def test_an_empty_model_is_refused(args, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    make_random_model(tmp_path, seed=1, **TINY)  # the current directory is a model directory
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "expected a registered name (see `skelmo models`) or a model directory" in err
    assert capsys.readouterr().out == ""


class _ClosedPipe(io.TextIOBase):
    """Standard output whose reader went away."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")


def test_a_broken_pipe_ends_quietly(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SKELMO_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(["info", models.BUNDLED_MODEL]) == 141
    assert capsys.readouterr().err == ""


def test_a_broken_pipe_ends_quietly_through_python_m(env):
    # Buffered standard output, as usual: what is left in the buffer is written at the end.
    env = {key: value for key, value in env.items() if key != "PYTHONUNBUFFERED"}
    read_end, write_end = os.pipe()
    os.close(read_end)  # `| head -1` that has already exited
    try:
        result = subprocess.run([sys.executable, "-m", "skelmo", "--version"], env=env,
                                stdout=write_end, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(write_end)
    assert result.returncode == 141
    assert result.stderr == b""  # no message, no "Exception ignored ... BrokenPipeError"


def test_an_unknown_name_mentions_skelmo_home(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SKELMO_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert main(["info", "fetched-elsewhere"]) == 1
    err = capsys.readouterr().err
    assert "not a registered model name" in err
    assert "--cache-dir applies to `skelmo models` and `skelmo download` only" in err
    assert "SKELMO_HOME=DIR" in err
    assert main(["embed", "-", str(tmp_path / "out.hdf5"), "-m", "fetched-elsewhere"]) == 1
    assert "SKELMO_HOME set to that directory" in capsys.readouterr().err
