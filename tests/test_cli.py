"""The ``skelmo`` command line, run as ``python -m skelmo`` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from skelmo import BiLM, ElmoEmbedder, models
from skelmo.cli import main
from skelmo.testing import make_random_model
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
