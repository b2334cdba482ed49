"""Named models: registry, download from a local HTTP server, verification, caching."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from skelmo import ElmoVectorizer, ModelFileError, ModelFileNotFoundError, models
from skelmo._format import read_options
from skelmo.models import ModelDownloadError, ModelIntegrityError, _registry, resolve_model
from skelmo.testing import make_random_model
from tests._http_server import SLOW_SECONDS, ModelServer

TINY = dict(filters=((1, 4), (2, 8)), n_highway=1, projection_dim=8, cell_dim=16, n_layers=1)
TINY_DIM = 16


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A tiny model served over HTTP on 127.0.0.1: (server, options_file, weight_file)."""
    directory = tmp_path_factory.mktemp("served")
    options_file, weight_file = make_random_model(directory, seed=3, **TINY)
    with ModelServer(directory) as server:
        yield server, options_file, weight_file


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """A private cache directory; localhost HTTP allowed; the in-process registry restored."""
    home = tmp_path / "skelmo-home"
    monkeypatch.setenv("SKELMO_HOME", str(home))
    monkeypatch.setenv("SKELMO_ALLOW_INSECURE_LOCALHOST", "1")
    saved = dict(_registry._registered)
    yield home
    _registry._registered.clear()
    _registry._registered.update(saved)


def register_served(server, mode="good", name="tiny", weights_mode=None, **kwargs):
    weights_mode = weights_mode or mode
    return models.register(
        name, options=f"{server.url}/{mode if mode != 'drop' else 'good'}/options.json",
        weights=f"{server.url}/{weights_mode}/weights.hdf5", replace=True, **kwargs,
    )


def leftovers(home: Path) -> list[str]:
    """Files in the models part of the cache (lock files live elsewhere)."""
    root = home / "models"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) \
        if root.exists() else []


# -- the registry ----------------------------------------------------------------------------


def test_published_models_are_registered():
    names = models.available_models()
    assert names[:4] == ["small", "medium", "original", "original-5.5b"]
    dims = {name: models.lookup(name).dim for name in names[:4]}
    assert dims == {"small": 256, "medium": 512, "original": 1024, "original-5.5b": 1024}
    entry = models.lookup("original-5.5b")
    assert entry.weights == (
        "https://s3-us-west-2.amazonaws.com/allennlp/models/elmo/2x4096_512_2048cnn_2xhighway_5.5B"
        "/elmo_2x4096_512_2048cnn_2xhighway_5.5B_weights.hdf5"
    )
    assert models.lookup("small").options.endswith(
        "/2x1024_128_2048cnn_1xhighway/elmo_2x1024_128_2048cnn_1xhighway_options.json")
    assert all(models.lookup(n).downloads for n in names[:4])


def test_cache_dir_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("SKELMO_HOME", str(tmp_path / "x"))
    assert models.cache_dir() == tmp_path / "x"
    monkeypatch.delenv("SKELMO_HOME")
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert models.cache_dir() == tmp_path / "xdg" / "skelmo"
        monkeypatch.delenv("XDG_CACHE_HOME")
        assert models.cache_dir() == Path.home() / ".cache" / "skelmo"


@pytest.mark.parametrize("name", ["../evil", "a/b", "/abs", "..", ".", "a\\b", "", "x/../y",
                                  "C:evil", "a..b", ".hidden", "name\n", "a" * 101])
def test_names_never_leave_the_cache(name, tmp_path):
    with pytest.raises(ValueError, match="Invalid model name"):
        models.register(name, directory=tmp_path)
    with pytest.raises(ValueError, match="Invalid model name"):
        models.get_model_files(name)
    with pytest.raises(ValueError, match="Invalid model name"):
        models.download(name)
    with pytest.raises(ValueError, match="Invalid model name"):
        models.model_directory(name)


def test_registry_file_with_a_bad_name_is_rejected(home):
    home.mkdir(parents=True)
    (home / "registry.json").write_text(json.dumps(
        {"format": 1, "models": {"../x": {"directory": "/tmp"}}}))
    with pytest.raises(ModelFileError, match="registry"):
        models.available_models()


def test_only_https_or_local(served, monkeypatch):
    with pytest.raises(ModelDownloadError, match="only https"):
        models.register("x", options="http://example.com/o.json", weights="http://example.com/w")
    with pytest.raises(ModelDownloadError, match="only https"):
        models.register("x", options="ftp://example.com/o.json", weights="ftp://example.com/w")
    monkeypatch.delenv("SKELMO_ALLOW_INSECURE_LOCALHOST")
    server = served[0]
    with pytest.raises(ModelDownloadError, match="only https"):
        register_served(server)


def test_register_twice_needs_replace(tmp_path, small_model_files):
    models.register("mine", directory=small_model_files[0].parent)
    with pytest.raises(ValueError, match="already registered"):
        models.register("mine", directory=small_model_files[0].parent)
    with pytest.raises(ValueError, match="already registered"):
        models.register("small", directory=small_model_files[0].parent)


def test_register_local_directory_and_files(small_model_files, home):
    directory = small_model_files[0].parent
    models.register("local-dir", directory=directory)
    models.register("local-files", options=small_model_files[0], weights=small_model_files[1])
    for name in ("local-dir", "local-files"):
        assert models.get_model_files(name) == tuple(p.resolve() for p in small_model_files)
        assert models.is_downloaded(name)
        assert name in models.available_models()
    assert leftovers(home) == []  # used in place, nothing copied
    expected = ElmoVectorizer(model=directory).transform(["a b c"])
    np.testing.assert_array_equal(ElmoVectorizer(model="local-dir").transform(["a b c"]),
                                  expected)
    with pytest.raises(ModelFileNotFoundError):
        models.register("nowhere", directory=directory / "missing")


def test_persisted_registration_is_seen_after_a_restart(small_model_files, home):
    models.register("kept", directory=small_model_files[0].parent, persist=True,
                    description="mine")
    _registry._registered.clear()
    assert models.lookup("kept").description == "mine"
    assert json.loads((home / "registry.json").read_text())["models"]["kept"]["directory"]
    models.unregister("kept")
    with pytest.raises(KeyError, match="Registered names: small"):
        models.lookup("kept")


def test_model_none_is_the_bundled_model(tmp_path, monkeypatch):
    bundled = models.lookup(models.BUNDLED_MODEL)
    assert not bundled.downloads
    options_file, weight_file = resolve_model(None)
    assert options_file.parent == weight_file.parent == Path(bundled.directory)
    assert read_options(options_file).output_dim == bundled.dim
    assert models.BUNDLED_MODEL in models.available_models()
    # An installation without its bundled files says what to do.
    monkeypatch.setitem(_registry._BUILTIN, models.BUNDLED_MODEL,
                        models.RegisteredModel(name=models.BUNDLED_MODEL,
                                               directory=str(tmp_path / "gone")))
    with pytest.raises(ModelFileNotFoundError, match="bundled model .* is missing.*Reinstall"):
        resolve_model(None)


def test_resolve_model_strings(small_model_files, tmp_path):
    directory = small_model_files[0].parent
    assert resolve_model(str(directory)) == small_model_files
    with pytest.raises(ModelFileNotFoundError, match=r"not a registered model name.*small"):
        resolve_model("no-such-model")
    # An existing directory wins over a registered name.
    models.register("shadow", directory=directory)
    (tmp_path / "shadow").mkdir()
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with pytest.raises(ModelFileNotFoundError, match="options.json"):
            resolve_model("shadow")
    finally:
        os.chdir(cwd)


# -- downloads -------------------------------------------------------------------------------


def test_download_caches_verifies_and_reuses(served, home):
    server, options_src, weights_src = served
    register_served(server, dim=TINY_DIM)
    before = server.count()
    options_file, weight_file = models.get_model_files("tiny")
    assert options_file == home / "models" / "tiny" / "options.json"
    assert weight_file.read_bytes() == weights_src.read_bytes()
    assert options_file.read_bytes() == options_src.read_bytes()
    assert server.count() == before + 2
    manifest = json.loads((home / "models" / "tiny" / "manifest.json").read_text())
    assert manifest["files"]["weights.hdf5"]["size"] == weights_src.stat().st_size
    assert len(manifest["files"]["weights.hdf5"]["sha256"]) == 64
    assert leftovers(home) == ["tiny/manifest.json", "tiny/options.json", "tiny/weights.hdf5"]
    # Later calls (and a fresh check of the checksums) make no request.
    _registry._checked.clear()
    assert models.get_model_files("tiny") == (options_file, weight_file)
    assert models.download("tiny") == (options_file, weight_file)
    assert server.count() == before + 2
    assert models.is_downloaded("tiny")
    models.download("tiny", force=True)
    assert server.count() == before + 4


def test_vectorizer_accepts_a_registered_name(served):
    server, options_src, weights_src = served
    register_served(server)
    out = ElmoVectorizer(model="tiny").fit_transform(["a short text", "another"])
    assert out.shape == (2, TINY_DIM)
    np.testing.assert_array_equal(
        out, ElmoVectorizer(model=(options_src, weights_src)).transform(["a short text", "another"])
    )


def test_download_false_does_not_download(served):
    register_served(served[0])
    before = served[0].count()
    with pytest.raises(ModelFileNotFoundError, match="skelmo download tiny"):
        models.get_model_files("tiny", download=False)
    assert served[0].count() == before


def test_file_url_is_copied_and_verified(served, home):
    _, options_src, weights_src = served
    models.register("copied", options=options_src.as_uri(), weights=weights_src.as_uri())
    _, weight_file = models.get_model_files("copied")
    assert weight_file.parent == home / "models" / "copied"
    assert weight_file.read_bytes() == weights_src.read_bytes()


def test_404_is_a_clear_error_and_leaves_nothing(served, home):
    server = served[0]
    register_served(server, mode="missing")
    with pytest.raises(ModelDownloadError, match=r"/missing/options.json: .*HTTP 404.*register") \
            as info:
        models.get_model_files("tiny")
    assert isinstance(info.value, OSError)
    assert "model='path/to/model_dir'" in str(info.value)
    assert leftovers(home) == []


def test_connection_dropped_mid_file(served, home):
    register_served(served[0], weights_mode="drop")
    with pytest.raises(ModelDownloadError, match="incomplete"):
        models.get_model_files("tiny")
    assert "tiny/weights.hdf5" not in leftovers(home)
    assert "tiny/manifest.json" not in leftovers(home)
    assert not any(name.endswith(".part") for name in leftovers(home))
    with pytest.raises(ModelFileNotFoundError):
        models.get_model_files("tiny", download=False)


def test_content_length_lie(served, home):
    register_served(served[0], weights_mode="lie")
    with pytest.raises(ModelDownloadError, match="incomplete"):
        models.get_model_files("tiny")
    assert "tiny/weights.hdf5" not in leftovers(home)


def test_expected_size_differs(served, home):
    register_served(served[0], weights_size=served[2].stat().st_size + 1)
    with pytest.raises(ModelDownloadError, match="expected"):
        models.get_model_files("tiny")
    assert "tiny/weights.hdf5" not in leftovers(home)


def test_wrong_dim_is_rejected(served, home):
    register_served(served[0], dim=1024)
    with pytest.raises(ModelDownloadError, match="dim=1024"):
        models.get_model_files("tiny")
    assert leftovers(home) == []


def test_weights_that_do_not_match_the_options(served, tmp_path, home):
    other = make_random_model(tmp_path / "other", seed=0, **{**TINY, "n_layers": 2})
    models.register("mixed", options=served[1].as_uri(), weights=other[1].as_uri())
    with pytest.raises(ModelFileError, match="not expected by the options"):
        models.get_model_files("mixed")
    assert "mixed/weights.hdf5" not in leftovers(home)


def test_slow_server_times_out(served, home):
    register_served(served[0], mode="slow")
    start = time.monotonic()
    with pytest.raises(ModelDownloadError, match="timed out"):
        models.get_model_files("tiny", timeout=0.5)
    assert time.monotonic() - start < SLOW_SECONDS
    assert leftovers(home) == []


def test_corrupted_cache_is_detected(served, home):
    register_served(served[0])
    _, weight_file = models.get_model_files("tiny")
    data = bytearray(weight_file.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8] = bytes(b ^ 0xFF for b in data[middle : middle + 8])
    weight_file.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match=r"skelmo download tiny --force") as info:
        models.get_model_files("tiny")
    assert info.value.path == str(weight_file)
    assert "SHA-256" in str(info.value) and str(weight_file.parent) in str(info.value)
    with pytest.raises(ModelIntegrityError):
        ElmoVectorizer(model="tiny").transform(["text"])
    models.download("tiny", force=True)
    assert models.get_model_files("tiny")[1].read_bytes() == served[2].read_bytes()


def test_truncated_cache_is_detected(served):
    register_served(served[0])
    _, weight_file = models.get_model_files("tiny")
    with open(weight_file, "r+b") as f:
        f.truncate(100)
    with pytest.raises(ModelIntegrityError, match="bytes"):
        models.get_model_files("tiny")


# -- several processes -----------------------------------------------------------------------

_DOWNLOADER = textwrap.dedent("""
    import sys
    from skelmo import models
    options, weights = models.download(sys.argv[1])
    print(weights)
""")


def _downloader(name: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _DOWNLOADER, name], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_processes_download_at_once(served, home):
    server, _, weights_src = served
    register_served(server, mode="delay", name="together", persist=True)
    before = server.count("/delay/weights.hdf5")
    env = dict(os.environ)
    procs = [_downloader("together", env) for _ in range(2)]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
    paths = {out.strip() for out, _ in outputs}
    assert paths == {str(home / "models" / "together" / "weights.hdf5")}
    assert server.count("/delay/weights.hdf5") == before + 1  # one download, one reuse
    assert Path(paths.pop()).read_bytes() == weights_src.read_bytes()
    assert leftovers(home) == ["together/manifest.json", "together/options.json",
                               "together/weights.hdf5"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_killed_download_leaves_nothing_loadable(served, home):
    server, _, weights_src = served
    register_served(server, weights_mode="trickle", name="killed", persist=True)
    proc = _downloader("killed", dict(os.environ))
    directory = home / "models" / "killed"
    deadline = time.monotonic() + 60
    try:
        while not list(directory.glob(".weights.hdf5.*.part")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the download never started"
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    assert not (directory / "weights.hdf5").exists()
    assert not (directory / "manifest.json").exists()
    with pytest.raises(ModelFileNotFoundError):
        models.get_model_files("killed", download=False)
    with pytest.raises(ModelFileError, match="found 0"):  # the partial file is never picked up
        ElmoVectorizer(model=str(directory)).transform(["x"])
    register_served(server, name="killed")  # now from a well-behaved address
    _, weight_file = models.download("killed")
    assert weight_file.read_bytes() == weights_src.read_bytes()
    assert not list(directory.glob("*.part")) and not list(directory.glob(".*.part"))
