"""A local HTTP server on 127.0.0.1 that serves model files and misbehaves on request.

Paths are ``/<mode>/<file name>``; the file comes from the served directory.
Modes:

``good``      the file, with its Content-Length.
``missing``   404.
``drop``      the full Content-Length, then half the file, then the connection closes.
``lie``       a Content-Length 100 bytes larger than the file, then the file, then close.
``slow``      sleeps ``SLOW_SECONDS`` before answering.
``delay``     sleeps 0.5 s before answering, then the file (overlapping downloads).
``trickle``   the file in 512-byte pieces, 0.1 s apart (a download that takes seconds).

Every handler does a bounded amount of work and sleeping.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SLOW_SECONDS = 3.0


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 (port chosen by the system).

    Subclasses answer GET requests in ``handle``; every request path is
    recorded (as ``request_key`` gives it) for the tests to count.
    """

    def __init__(self) -> None:
        self.requests: list[str] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                with server._lock:
                    server.requests.append(server.request_key(self.path))
                server.handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def request_key(self, path: str) -> str:
        """How a request path is recorded."""
        return path

    def count(self, fragment: str = "") -> int:
        with self._lock:
            return sum(fragment in path for path in self.requests)

    def __enter__(self) -> LocalServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError


class ModelServer(LocalServer):
    """Serve ``directory`` in the modes listed above."""

    def __init__(self, directory: Path):
        super().__init__()
        self.directory = Path(directory)

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        parts = request.path.strip("/").split("/")
        if len(parts) != 2 or parts[0] == "missing" or "/" in parts[1]:
            request.send_error(404)
            return
        mode, name = parts
        path = self.directory / name
        if not path.is_file():
            request.send_error(404)
            return
        body = path.read_bytes()
        try:
            if mode == "slow":
                time.sleep(SLOW_SECONDS)
            elif mode == "delay":
                time.sleep(0.5)
            request.send_response(200)
            declared = len(body) + 100 if mode == "lie" else len(body)
            request.send_header("Content-Length", str(declared))
            request.send_header("Content-Type", "application/octet-stream")
            request.end_headers()
            if mode == "drop":
                request.wfile.write(body[: len(body) // 2])
                request.wfile.flush()
                request.close_connection = True
            elif mode == "trickle":
                for start in range(0, len(body), 512):
                    request.wfile.write(body[start : start + 512])
                    request.wfile.flush()
                    time.sleep(0.1)
            else:
                request.wfile.write(body)
            request.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            pass
