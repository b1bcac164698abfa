"""A tiny local Hugging Face Hub for download tests: the few routes huggingface_hub calls.

``FakeHub({"org/name": {"file": b"bytes"}})`` serves ``/api/models/<repo>`` (file list with
sizes), ``HEAD``/``GET /<repo>/resolve/<rev>/<file>`` (with the commit, ETag and size
headers huggingface_hub reads) and the 1-second reachability check. Repos named in
``gated`` answer 401 GatedRepo on their files; unknown repos 404 RepoNotFound.
``delay_s`` sleeps between 256 KiB pieces of a body, so a download can be caught mid-way.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import time
from urllib.parse import unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"
PIECE = 256 * 1024


class FakeHub:
    def __init__(self, repos: dict[str, dict[str, bytes]], gated: tuple[str, ...] = (), delay_s: float = 0.0):
        self.repos, self.gated, self.delay_s = repos, set(gated), delay_s
        self.requests: list[tuple[str, str]] = []
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_HEAD(self) -> None:  # noqa: N802
                hub._answer(self, body=False)

            def do_GET(self) -> None:  # noqa: N802
                hub._answer(self, body=True)

            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeHub":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        self.server.shutdown()
        self.server.server_close()

    def fetched(self, name: str) -> int:
        """How many GETs asked for a file called ``name``."""
        return sum(1 for method, path in self.requests if method == "GET" and path.endswith("/" + name))

    # ------------------------------------------------------------- routes
    def _answer(self, handler: http.server.BaseHTTPRequestHandler, body: bool) -> None:
        path = unquote(urlparse(handler.path).path)
        self.requests.append((handler.command, path))
        if path == "/api/models":
            return self._send(handler, 200, b"[]", body)
        if path.startswith("/api/models/"):
            repo = path[len("/api/models/"):].split("/revision/")[0]
            if repo not in self.repos:
                return self._error(handler, 404, "RepoNotFound", body)
            siblings = [{"rfilename": n, "size": len(d), "blobId": hashlib.sha1(d).hexdigest()}
                        for n, d in self.repos[repo].items()]
            data = json.dumps({"id": repo, "modelId": repo, "sha": COMMIT, "siblings": siblings}).encode()
            return self._send(handler, 200, data, body, {"Content-Type": "application/json"})
        if "/resolve/" in path:
            repo, _, rest = path.lstrip("/").partition("/resolve/")
            name = rest.partition("/")[2]
            if repo not in self.repos:
                return self._error(handler, 404, "RepoNotFound", body)
            if repo in self.gated:
                return self._error(handler, 401, "GatedRepo", body)
            if name not in self.repos[repo]:
                return self._error(handler, 404, "EntryNotFound", body)
            data = self.repos[repo][name]
            headers = {"X-Repo-Commit": COMMIT, "ETag": f'"{hashlib.sha256(data).hexdigest()}"'}
            return self._send(handler, 200, data, body, headers)
        return self._error(handler, 404, "", body)

    def _error(self, handler, code: int, error_code: str, body: bool) -> None:  # noqa: ANN001
        headers = {"X-Error-Code": error_code, "X-Error-Message": error_code or "Not found"} if error_code else {}
        self._send(handler, code, json.dumps({"error": error_code or "Not found"}).encode(), body,
                   {"Content-Type": "application/json", **headers})

    def _send(self, handler, code: int, data: bytes, body: bool, headers: dict | None = None) -> None:  # noqa: ANN001
        handler.send_response(code)
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if not body:
            return
        try:
            for start in range(0, len(data), PIECE):
                handler.wfile.write(data[start:start + PIECE])
                if self.delay_s:
                    time.sleep(self.delay_s)
        except (BrokenPipeError, ConnectionResetError):  # the client cancelled
            pass
