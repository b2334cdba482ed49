"""Named models: registry, download from a local HTTP server, verification, caching."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import numpy as np
import pytest

from skelmo import ElmoVectorizer, ModelFileError, ModelFileNotFoundError, models
from skelmo._format import read_options
from skelmo.cli import main
from skelmo.models import (
    ModelDownloadError,
    ModelIntegrityError,
    _fetch,
    _registry,
    resolve_model,
)
from skelmo.testing import make_random_model
from tests._http_server import SLOW_SECONDS, LocalServer, ModelServer

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


class ScriptedServer(LocalServer):
    """Answer each path with what the test put in ``routes``: a redirect or a given body.

    ``routes[path]`` is ``("redirect", location)`` (a 302 to ``location``),
    ``("body", data, content_length)`` (a 200 with ``data``; ``content_length``
    None sends no Content-Length header, and the connection closes after the body)
    or ``("chunked", data, cut)`` (``data`` as one chunk of a chunked transfer, of
    which only the first ``cut`` bytes are sent before the connection closes).
    """

    def __init__(self) -> None:
        super().__init__()
        self.routes: dict[str, tuple] = {}

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        route = self.routes.get(request.path)
        try:
            if route is None:
                request.send_error(404)
            elif route[0] == "redirect":
                request.send_response(302)
                request.send_header("Location", route[1])
                request.send_header("Content-Length", "0")
                request.end_headers()
            elif route[0] == "chunked":
                _, data, cut = route
                request.send_response(200)
                request.send_header("Transfer-Encoding", "chunked")
                request.end_headers()
                request.wfile.write(b"%x\r\n" % len(data) + data[:cut])
            else:
                _, data, content_length = route
                request.send_response(200)
                if content_length is not None:
                    request.send_header("Content-Length", str(content_length))
                request.send_header("Content-Type", "text/html" if data.startswith(b"<")
                                    else "application/octet-stream")
                request.end_headers()
                request.wfile.write(data)
            request.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def scripted():
    with ScriptedServer() as server:
        yield server


HTML = b"<!DOCTYPE html><html><body><h1>Welcome</h1><p>Please sign in.</p></body></html>\n"


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
    with pytest.raises(ModelDownloadError,
                       match="not a valid ELMo weights file.*not expected by the options") \
            as info:
        models.get_model_files("mixed")
    assert info.value.url == other[1].as_uri()
    assert isinstance(info.value.__cause__, ModelFileError)
    assert ".part" not in str(info.value)
    assert leftovers(home) == []


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


def _kill_once_downloading(proc: subprocess.Popen, directory: Path) -> None:
    """SIGKILL a downloading process once its weights are partly written."""
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


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_killed_download_leaves_nothing_loadable(served, home):
    server, _, weights_src = served
    register_served(server, weights_mode="trickle", name="killed", persist=True)
    proc = _downloader("killed", dict(os.environ))
    directory = home / "models" / "killed"
    _kill_once_downloading(proc, directory)
    assert not (directory / "weights.hdf5").exists()
    assert not (directory / "manifest.json").exists()
    with pytest.raises(ModelFileNotFoundError):
        models.get_model_files("killed", download=False)
    # The partial files are never picked up, not even the options that came complete.
    with pytest.raises(ModelFileError, match="expected an options.json"):
        ElmoVectorizer(model=str(directory)).transform(["x"])
    register_served(server, name="killed")  # now from a well-behaved address
    _, weight_file = models.download("killed")
    assert weight_file.read_bytes() == weights_src.read_bytes()
    assert not list(directory.glob("*.part")) and not list(directory.glob(".*.part"))


# -- redirects -------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["localhost", "elsewhere", "file", "ftp"])
def test_a_redirect_to_a_refused_address_is_not_followed(served, scripted, home, monkeypatch,
                                                         target):
    server, _, weights_src = served
    port = server.httpd.server_address[1]
    refused = {
        # The same good file, from a host the insecure switch does not cover here: followed,
        # it would download and cache a verified model.
        "localhost": f"http://localhost:{port}/good/weights.hdf5",
        "elsewhere": "http://example.invalid/weights.hdf5",
        "file": weights_src.as_uri(),
        "ftp": "ftp://127.0.0.1:9/weights.hdf5",
    }[target]
    monkeypatch.setattr(_fetch, "_LOCAL_HOSTS", ("127.0.0.1",))
    scripted.routes["/weights.hdf5"] = ("redirect", refused)
    models.register("tiny", options=f"{server.url}/good/options.json",
                    weights=f"{scripted.url}/weights.hdf5")
    with pytest.raises(ModelDownloadError, match=f"redirected to {re.escape(refused)}.*refused") \
            as info:
        models.get_model_files("tiny")
    assert info.value.url == f"{scripted.url}/weights.hdf5"
    assert leftovers(home) == []  # not even the options, fetched first
    with pytest.raises(ModelFileNotFoundError):
        models.get_model_files("tiny", download=False)


def test_a_redirect_to_an_allowed_address_is_followed(served, scripted, home):
    server, _, weights_src = served
    scripted.routes["/w"] = ("redirect", "/again")
    scripted.routes["/again"] = ("redirect", f"{server.url}/good/weights.hdf5")
    models.register("tiny", options=f"{server.url}/good/options.json", weights=f"{scripted.url}/w")
    _, weight_file = models.get_model_files("tiny")
    assert weight_file.read_bytes() == weights_src.read_bytes()
    manifest = json.loads((home / "models" / "tiny" / "manifest.json").read_text())
    assert manifest["files"]["weights.hdf5"]["url"] == f"{scripted.url}/w"


def _redirect(handler: urllib.request.HTTPRedirectHandler, url: str, newurl: str):
    request = urllib.request.Request(url)
    return handler.redirect_request(request, None, 302, "Found", {}, newurl)


def test_every_redirect_hop_is_checked(monkeypatch):
    handler = _fetch._RedirectHandler()
    # https anywhere is followed.
    assert _redirect(handler, "https://a.example/w", "https://b.example/w").full_url \
        == "https://b.example/w"
    for refused in ("http://b.example/w", "file:///etc/passwd", "ftp://b.example/w",
                    "data:,weights", "/etc/passwd"):
        with pytest.raises(ModelDownloadError, match=f"redirected to {re.escape(refused)}"):
            _redirect(handler, "https://a.example/w", refused)
    # Plain http to this machine only with the test switch.
    monkeypatch.delenv("SKELMO_ALLOW_INSECURE_LOCALHOST")
    for refused in ("http://localhost:8000/w", "http://127.0.0.1:8000/w"):
        with pytest.raises(ModelDownloadError, match="refused"):
            _redirect(handler, "https://a.example/w", refused)
    monkeypatch.setenv("SKELMO_ALLOW_INSECURE_LOCALHOST", "1")
    assert _redirect(handler, "https://a.example/w", "http://localhost:8000/w").full_url \
        == "http://localhost:8000/w"
    # skelmo's opener checks redirects; the process-wide one is left alone.
    assert any(isinstance(h, _fetch._RedirectHandler) for h in _fetch._opener().handlers)
    assert urllib.request._opener is None or not any(
        isinstance(h, _fetch._RedirectHandler) for h in urllib.request._opener.handlers)


# -- what the server sends instead of the file -----------------------------------------------


@pytest.mark.parametrize("case", ["html", "html-no-length", "short-length", "options-html"])
def test_a_page_instead_of_the_file_is_a_download_error(served, scripted, home, case):
    server, options_src, weights_src = served
    weights = weights_src.read_bytes()
    options_route = ("body", options_src.read_bytes(), options_src.stat().st_size)
    weights_route = {
        "html": ("body", HTML, len(HTML)),
        "html-no-length": ("body", HTML, None),
        "short-length": ("body", weights, len(weights) // 2),
        "options-html": ("body", weights, len(weights)),
    }[case]
    if case == "options-html":
        options_route = ("body", HTML, None)
    scripted.routes["/options.json"] = options_route
    scripted.routes["/weights.hdf5"] = weights_route
    models.register("tiny", options=f"{scripted.url}/options.json",
                    weights=f"{scripted.url}/weights.hdf5")
    what = "options" if case == "options-html" else "weights"
    with pytest.raises(ModelDownloadError, match=f"what the server sent is not a valid ELMo "
                                                 f"{what} file: ") as info:
        models.get_model_files("tiny")
    file_name = "options.json" if what == "options" else "weights.hdf5"
    assert info.value.url == f"{scripted.url}/{file_name}"
    assert str(info.value).startswith(f"Could not download {info.value.url}: ")
    assert isinstance(info.value.__cause__, ModelFileError)
    assert ".part" not in str(info.value) and str(home) not in str(info.value)
    assert leftovers(home) == []


def test_no_content_length_is_fine_for_a_good_file(served, scripted):
    _, options_src, weights_src = served
    scripted.routes["/o"] = ("body", options_src.read_bytes(), None)
    scripted.routes["/w"] = ("body", weights_src.read_bytes(), None)
    models.register("tiny", options=f"{scripted.url}/o", weights=f"{scripted.url}/w")
    assert models.get_model_files("tiny")[1].read_bytes() == weights_src.read_bytes()


# -- a failed re-download keeps the verified copy --------------------------------------------


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@pytest.mark.parametrize("failure", ["options-missing", "weights-missing", "drop", "html",
                                     "mixed"])
def test_a_failed_forced_download_keeps_the_verified_copy(served, scripted, home, tmp_path,
                                                          failure):
    server, options_src, weights_src = served
    register_served(server)
    options_file, weight_file = models.get_model_files("tiny")
    directory = options_file.parent
    before = _snapshot(directory)
    if failure == "mixed":  # good files, but not of one model
        other = make_random_model(tmp_path / "other", seed=0, **{**TINY, "n_layers": 2})
        models.register("tiny", options=options_src.as_uri(), weights=other[1].as_uri(),
                        replace=True)
    elif failure == "html":
        scripted.routes["/w"] = ("body", HTML, None)
        models.register("tiny", options=f"{server.url}/good/options.json",
                        weights=f"{scripted.url}/w", replace=True)
    else:
        modes = {"options-missing": ("missing", "good"), "weights-missing": ("good", "missing"),
                 "drop": ("good", "drop")}[failure]
        register_served(server, mode=modes[0], weights_mode=modes[1])
    with pytest.raises(ModelDownloadError):
        models.download("tiny", force=True)
    assert _snapshot(directory) == before  # no temporary file left either
    _registry._checked.clear()
    register_served(server)  # the copy is of the files first registered
    assert models.get_model_files("tiny", download=False) == (options_file, weight_file)
    assert weight_file.read_bytes() == weights_src.read_bytes()
    assert models.is_downloaded("tiny")


def test_a_crash_in_the_middle_of_the_swap_is_never_loaded(served, home, monkeypatch):
    server, _, weights_src = served
    register_served(server)
    options_file, weight_file = models.get_model_files("tiny")
    replace = os.replace
    calls = []

    def crash_on_second_rename(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process dies here
        replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_second_rename)
    with pytest.raises(KeyboardInterrupt):
        models.download("tiny", force=True)
    monkeypatch.setattr(os, "replace", replace)
    assert len(calls) == 2  # one file swapped in, the other not
    assert not (options_file.parent / "manifest.json").exists()
    assert not models.is_downloaded("tiny")
    with pytest.raises(ModelFileNotFoundError):
        models.get_model_files("tiny", download=False)
    assert models.get_model_files("tiny")[1].read_bytes() == weights_src.read_bytes()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_killed_forced_download_keeps_the_verified_copy(served, home):
    server, _, weights_src = served
    register_served(server, name="kept", persist=True)
    options_file, weight_file = models.get_model_files("kept")
    directory = options_file.parent
    before = _snapshot(directory)
    register_served(server, weights_mode="trickle", name="kept", persist=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", "from skelmo import models; models.download('kept', force=True)"],
        env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _kill_once_downloading(proc, directory)
    assert list(directory.glob(".*.part"))  # what the killed run left behind
    _registry._checked.clear()
    register_served(server, name="kept", persist=True)  # the copy is of the files first registered
    assert models.get_model_files("kept", download=False) == (options_file, weight_file)
    assert {name: data for name, data in _snapshot(directory).items()
            if not name.startswith(".")} == before
    # The next lock holder clears the leftovers.
    models.download("kept", force=True)
    assert not list(directory.glob(".*"))
    assert weight_file.read_bytes() == weights_src.read_bytes()


# -- the bundled model needs no registry -----------------------------------------------------


def test_a_corrupt_registry_file_does_not_stop_the_bundled_model(home):
    home.mkdir(parents=True)
    (home / "registry.json").write_text("{not json")
    options_file, weight_file = resolve_model(None)
    assert options_file.parent == Path(_registry._BUILTIN[models.BUNDLED_MODEL].directory)
    assert ElmoVectorizer().fit_transform(["a b"]).shape == (1, 256)
    # Names that need the registry still report the file.
    for call in (lambda: models.lookup("mine"), lambda: resolve_model("mine"),
                 models.available_models):
        with pytest.raises(ModelFileError, match="registry.json: not a valid skelmo registry"):
            call()


# -- what the review found -----------------------------------------------------------------


@pytest.mark.parametrize("timeout", [1e10, float("inf"), float("nan"), 0, -1, "60", True])
def test_a_timeout_out_of_range_is_a_clear_error(served, home, tmp_path, timeout):
    register_served(served[0])
    before = served[0].count()
    for call in (lambda: models.download("tiny", timeout=timeout),
                 lambda: models.get_model_files("tiny", timeout=timeout),
                 lambda: _fetch.fetch(f"{served[0].url}/good/options.json",
                                      tmp_path / "options.json", timeout=timeout)):
        with pytest.raises(ValueError, match=r"timeout must be a number of seconds above 0 "
                                             r"and at most 86400 \(one day\), got "):
            call()
    assert served[0].count() == before and leftovers(home) == []
    models.download("tiny", timeout=_fetch.MAX_TIMEOUT)  # the limit itself is fine


def test_a_symlinked_model_folder_is_used(served, home, tmp_path, capsys):
    register_served(served[0])
    options_file, weight_file = models.get_model_files("tiny")
    elsewhere = tmp_path / "other-disk" / "tiny"
    elsewhere.parent.mkdir()
    shutil.move(home / "models" / "tiny", elsewhere)
    (home / "models" / "tiny").symlink_to(elsewhere, target_is_directory=True)
    assert models.model_directory("tiny") == home / "models" / "tiny"
    _registry._checked.clear()
    assert models.get_model_files("tiny", download=False) == (options_file, weight_file)
    assert models.download("tiny") == (options_file, weight_file)
    assert models.is_downloaded("tiny")
    assert main(["models"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("tiny"))
    assert line.split()[-2:] == ["yes", str(home / "models" / "tiny")]
    for name in ("../tiny", "tiny/..", "."):
        with pytest.raises(ValueError, match="Invalid model name"):
            models.model_directory(name)


def test_a_name_registered_again_is_downloaded_again(served, home, tmp_path):
    server, _, weights_src = served
    register_served(server)
    options_file, weight_file = models.get_model_files("tiny")
    directory = options_file.parent
    first = _snapshot(directory)
    # Other files under the same name: the cached copy is not that model.
    other = make_random_model(tmp_path / "other", seed=7, **TINY)
    models.register("tiny", options=other[0].as_uri(), weights=other[1].as_uri(), replace=True)
    assert not models.is_downloaded("tiny")
    with pytest.raises(ModelFileNotFoundError, match="the cached copy of model 'tiny' is of other "
                                                     "files than the name is registered with now"):
        models.get_model_files("tiny", download=False)
    assert models.get_model_files("tiny") == (options_file, weight_file)
    assert weight_file.read_bytes() == other[1].read_bytes()
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["files"]["weights.hdf5"]["url"] == other[1].as_uri()
    assert models.is_downloaded("tiny")
    # Registered again with the first URLs but another expected size: the download that
    # follows fails, and the verified copy stays as it was.
    register_served(server)
    models.get_model_files("tiny")
    assert _snapshot(directory) == first
    register_served(server, weights_size=weights_src.stat().st_size + 1)
    with pytest.raises(ModelDownloadError, match="expected"):
        models.get_model_files("tiny")
    assert _snapshot(directory) == first


def test_an_intact_copy_needs_no_lock(served, home, monkeypatch, capsys):
    register_served(served[0])
    files = models.download("tiny")

    def read_only(path, timeout=None):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(_registry, "file_lock", read_only)  # as on a read-only cache
    _registry._checked.clear()
    before = served[0].count()
    assert models.download("tiny") == files
    assert main(["download", "tiny"]) == 0
    assert capsys.readouterr().out == f"tiny: {files[0].parent}\n"
    assert served[0].count() == before
    with pytest.raises(OSError, match="Read-only file system"):  # something to download
        models.download("tiny", force=True)


@pytest.mark.parametrize("source", ["http", "file"])
def test_a_full_disk_is_a_download_error(served, home, monkeypatch, source):
    server, options_src, weights_src = served
    if source == "http":
        register_served(server)
        url = f"{server.url}/good/weights.hdf5"
    else:
        url = weights_src.as_uri()
        models.register("tiny", options=options_src.as_uri(), weights=url)
    real_open = open

    class FullDisk:
        def __init__(self, file):
            self.file = file

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

    def open_on_a_full_disk(path, mode="r", *args, **kwargs):
        file = real_open(path, mode, *args, **kwargs)
        return FullDisk(file) if "w" in mode and Path(path).name.startswith(".weights") \
            else file

    monkeypatch.setattr(_fetch, "open", open_on_a_full_disk, raising=False)
    with pytest.raises(ModelDownloadError, match="could not write the download into .* "
                                                 f"\\({os.strerror(errno.ENOSPC)}\\)") as info:
        models.get_model_files("tiny")
    assert info.value.url == url
    assert "Free some disk space there" in str(info.value)
    assert leftovers(home) == []


def _manifest_damage(manifest: dict, how: str) -> str:
    record = manifest["files"]["weights.hdf5"]
    if how == "size is a string":
        record["size"] = str(record["size"])
    elif how == "checksum is a number":
        record["sha256"] = 123
    elif how == "files is a list":
        manifest["files"] = []
    else:
        return how
    return json.dumps(manifest)


@pytest.mark.parametrize("how", ["[]", "null", '"manifest"', "size is a string",
                                 "checksum is a number", "files is a list"])
def test_a_malformed_manifest_is_a_damaged_copy(served, home, how):
    register_served(served[0])
    options_file, weight_file = models.get_model_files("tiny")
    manifest_file = options_file.parent / "manifest.json"
    manifest_file.write_text(_manifest_damage(json.loads(manifest_file.read_text()), how))
    _registry._checked.clear()
    for call in (models.get_model_files, models.download):
        with pytest.raises(ModelIntegrityError, match=r"is damaged or was changed \(the "
                                                      r"manifest.* is malformed\). Download it "
                                                      r"again with `skelmo download tiny --force`"
                           ) as info:
            call("tiny")
        assert info.value.path == str(manifest_file)
    assert models.download("tiny", force=True) == (options_file, weight_file)
    assert models.get_model_files("tiny") == (options_file, weight_file)


@pytest.mark.parametrize("content", [
    [], {"models": []}, {"models": {"x": {}}}, {"models": {"x": "dir"}},
    {"models": {"x": {"options": ["a"], "weights": "https://example.org/w.hdf5"}}},
    {"models": {"x": {"options": "https://example.org/o.json",
                      "weights": "https://example.org/w.hdf5", "weights_size": "big"}}},
    {"models": {"x": {"directory": 5}}},
    {"models": {"x": {"directory": "/tmp", "dim": True}}},
    {"models": {"x": {"directory": "/tmp", "description": None}}},
    {"models": {"x": {"directory": "/tmp", "options": "https://example.org/o.json"}}},
    {"models": {"x": {"options": "/o.json", "weights": "https://example.org/w.hdf5"}}},
    {"models": {"x": {"directory": "/tmp", "sha256": "0" * 64}}},
])
def test_a_malformed_registry_file_is_a_registry_error(home, content, capsys):
    home.mkdir(parents=True)
    (home / "registry.json").write_text(json.dumps(content))
    message = r"registry.json: not a valid skelmo registry file \(.+\); fix or delete it."
    for call in (models.available_models, lambda: models.lookup("x"),
                 lambda: models.get_model_files("x"), lambda: models.is_downloaded("x"),
                 lambda: resolve_model("x")):
        with pytest.raises(ModelFileError, match=message):
            call()
    assert main(["models"]) == 1
    err = capsys.readouterr().err
    assert re.fullmatch(f"skelmo: error: .*{message}\n", err)


def test_a_registry_file_written_by_register_is_valid(home, small_model_files):
    models.register("dir", directory=small_model_files[0].parent, persist=True, dim=16)
    models.register("pair", options=small_model_files[0], weights=small_model_files[1],
                    persist=True)
    models.register("url", options="https://example.org/o.json",
                    weights="https://example.org/w.hdf5", weights_size=5, persist=True)
    saved = dict(_registry._registered)
    _registry._registered.clear()
    assert [models.lookup(name) for name in saved] == list(saved.values())


def test_a_truncated_chunked_download_counts_what_came(served, scripted, home):
    _, options_src, weights_src = served
    weights = weights_src.read_bytes()
    scripted.routes["/o"] = ("body", options_src.read_bytes(), None)
    scripted.routes["/w"] = ("chunked", weights, len(weights) // 2)
    models.register("tiny", options=f"{scripted.url}/o", weights=f"{scripted.url}/w")
    with pytest.raises(ModelDownloadError, match=rf"the connection closed after "
                                                 rf"{len(weights) // 2} bytes, before the end "
                                                 rf"of the transfer \(incomplete download\)"):
        models.get_model_files("tiny")
    assert leftovers(home) == []


def test_an_empty_model_is_refused():
    with pytest.raises(ValueError, match="model is the empty string.*'.' for the current one"):
        resolve_model("")
    with pytest.raises(ValueError, match="model is the empty string"):
        ElmoVectorizer(model="").fit_transform(["a b"])


def test_hidden_files_are_no_model_files(small_model_files, tmp_path):
    directory = tmp_path / "model"
    directory.mkdir()
    shutil.copy(small_model_files[0], directory / "elmo_options.json")
    shutil.copy(small_model_files[1], directory / "weights.hdf5")
    for junk in ("._elmo_options.json", "._weights.hdf5", ".weights.hdf5.1234abcd.part.h5"):
        (directory / junk).write_bytes(b"\0\5\x16\7 AppleDouble")  # what macOS leaves
    assert resolve_model(str(directory)) == (directory / "elmo_options.json",
                                             directory / "weights.hdf5")


def test_an_unknown_name_mentions_skelmo_home():
    with pytest.raises(ModelFileNotFoundError, match="not a registered model name.*found here "
                                                     "only with SKELMO_HOME set to that directory"):
        resolve_model("downloaded-elsewhere")


def test_the_damaged_copy_advice_names_the_cache_dir(served, home, tmp_path):
    register_served(served[0])
    other = tmp_path / "other cache"
    for cache, option, argument in ((None, "", ""),
                                    (other, f" --cache-dir '{other}'", f", cache_dir='{other}'")):
        _, weight_file = models.get_model_files("tiny", cache_dir=cache)
        weight_file.write_bytes(b"garbage")
        with pytest.raises(ModelIntegrityError) as info:
            models.get_model_files("tiny", cache_dir=cache)
        assert (f"Download it again with `skelmo download tiny --force{option}` (or "
                f"skelmo.models.download('tiny', force=True{argument})), or delete "
                f"{weight_file.parent}.") in str(info.value)


def test_a_directory_given_as_a_model_file_is_named_as_such(tmp_path):
    from skelmo import ModelFileError
    from skelmo.models import resolve_model

    options_file, _ = make_random_model(tmp_path / "m", seed=2)
    with pytest.raises(ModelFileError, match="is a directory, not the weights file"):
        resolve_model((options_file, tmp_path))
