"""Local stand-ins for package registries: a PyPI "simple" index and an npm registry.

Everything is served from 127.0.0.1 or faked on PATH; nothing reaches the
internet. Helpers also build the small packages that the fakes hand out.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import socket
import tarfile
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import unquote

from tests._http_server import LocalServer


class RouteServer(LocalServer):
    """Serve fixed bodies by exact path on 127.0.0.1 (port chosen by the system)."""

    def __init__(self) -> None:
        super().__init__()
        self.routes: dict[str, tuple[int, str, bytes]] = {}

    def request_key(self, path: str) -> str:
        return unquote(path.split("?", 1)[0])

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        with self._lock:
            route = self.routes.get(self.request_key(request.path))
        if route is None:
            request.send_error(404)
            return
        status, content_type, body = route
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def add(self, path: str, body: bytes, content_type: str = "application/octet-stream",
            status: int = 200) -> None:
        with self._lock:
            self.routes[path] = (status, content_type, body)

    # PyPI -----------------------------------------------------------------
    def add_sdist(self, name: str, version: str, archive: bytes) -> str:
        """Publish an sdist under /simple/<name>/; return its file name."""
        normalized = name.lower().replace("_", "-").replace(".", "-")
        filename = f"{name.replace('-', '_')}-{version}.tar.gz"
        self.add(f"/files/{filename}", archive)
        digest = hashlib.sha256(archive).hexdigest()
        page = (f'<!DOCTYPE html><html><body><a href="/files/{filename}#sha256={digest}">'
                f"{filename}</a></body></html>").encode()
        self.add(f"/simple/{normalized}/", page, "text/html")
        return filename

    # npm ------------------------------------------------------------------
    def add_npm_package(self, name: str, versions: dict[str, bytes],
                        latest: str | None = None) -> None:
        """Publish an npm packument for ``name`` with the given tarballs."""
        base = name.rsplit("/", 1)[-1]
        entries = {}
        for version, tgz in versions.items():
            tarball_path = f"/{name}/-/{base}-{version}.tgz"
            self.add(tarball_path, tgz)
            entries[version] = {
                "name": name, "version": version,
                "dist": {"tarball": self.url + tarball_path,
                         "shasum": hashlib.sha1(tgz).hexdigest(),
                         "integrity": "sha512-" + base64.b64encode(
                             hashlib.sha512(tgz).digest()).decode()},
            }
        packument = {"name": name, "versions": entries,
                     "dist-tags": {"latest": latest or max(versions)}}
        self.add(f"/{name}", json.dumps(packument).encode(), "application/json")


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def tar_bytes(files: dict[str, bytes], mode: str = "w:gz") -> bytes:
    """A tar archive (gzip-compressed by default) holding ``files``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_600_000_000
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def npm_tarball(name: str, version: str, files: dict[str, bytes]) -> bytes:
    """An npm package tarball with package.json and the given files under package/."""
    content = {"package/package.json": json.dumps({"name": name, "version": version,
                                                   "license": "CC0-1.0"}).encode()}
    content.update({f"package/{path}": data for path, data in files.items()})
    return tar_bytes(content, "w:gz")


_BACKEND = '''\
import os

def get_requires_for_build_wheel(config_settings=None):
    return []

def prepare_metadata_for_build_wheel(directory, config_settings=None):
    name = "{dist}-{version}.dist-info"
    os.makedirs(os.path.join(directory, name))
    with open(os.path.join(directory, name, "METADATA"), "w") as handle:
        handle.write("Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n")
    return name

def build_wheel(directory, config_settings=None, metadata_directory=None):
    raise RuntimeError("only metadata is needed")
'''


def sdist(name: str, version: str, files: dict[str, bytes]) -> bytes:
    """An sdist whose in-tree build backend needs nothing from an index."""
    dist = name.replace("-", "_")
    root = f"{dist}-{version}"
    content = {
        f"{root}/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{root}/pyproject.toml": (b'[build-system]\nrequires = []\n'
                                   b'build-backend = "backend"\nbackend-path = ["."]\n'),
        f"{root}/backend.py": _BACKEND.format(dist=dist, name=name, version=version).encode(),
    }
    content.update({f"{root}/{path}": data for path, data in files.items()})
    return tar_bytes(content, "w:gz")


def isolate_clients(tmp: Path, monkeypatch, *, pypi: str | None = None,
                    npm: str | None = None) -> None:
    """Point pip and npm at local registries (or closed ports) with no retries or caches."""
    tmp.mkdir(parents=True, exist_ok=True)
    for variable in ("PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX",
                     "PIP_REQUIRE_VIRTUALENV"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("PIP_INDEX_URL", f"{pypi or closed_port_url()}/simple/")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "5")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    userconfig = tmp / "npmrc"
    userconfig.write_text("")
    monkeypatch.setenv("npm_config_userconfig", str(userconfig))
    monkeypatch.setenv("npm_config_registry", f"{npm or closed_port_url()}/")
    monkeypatch.setenv("npm_config_cache", str(tmp / "npm-cache"))
    monkeypatch.setenv("npm_config_fetch_retries", "0")
    monkeypatch.setenv("npm_config_fetch_timeout", "10000")
    monkeypatch.setenv("npm_config_update_notifier", "false")
    monkeypatch.setenv("npm_config_audit", "false")
    monkeypatch.setenv("npm_config_fund", "false")
    monkeypatch.setenv("npm_config_loglevel", "error")
