"""A local HTTP server that serves listings files the way real servers fail to.

Each path names a behaviour (`/<behaviour>/<file name>`); the file's bytes come from `files`.
Every request is recorded (path and Range header), so a test can tell a resumed download from a
restarted one and a refused URL asked once from one retried.

  ok         200 with Content-Length, a strong ETag, and 206 for `Range` + matching `If-Range`
  drop       as `ok`, but the first answer closes the connection half-way through the body
  drop-norange  drops like `drop`, and ignores `Range` (always 200 with the whole body)
  flaky      503 twice, then as `ok`
  down       always 503
  missing    404
  html       200, Content-Type text/html, a portal's error page
  html-body  200, Content-Type application/octet-stream, an HTML page as the body
  cut        200, a body cut to its first half, Content-Length saying so (a truncated upload)
  chunked    200 without Content-Length (chunked), the whole body
  stall      sends half the body, then waits (until the test ends) before the rest
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ERROR_PAGE = b"<!DOCTYPE html><html><body><h1>Temporarily unavailable</h1></body></html>"


@dataclass
class ListingsServer:
    files: dict[str, bytes]
    url: str = ""
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)
    _served: dict[str, int] = field(default_factory=dict)

    def link(self, behaviour: str, name: str) -> str:
        return f"{self.url}/{behaviour}/{name}"

    def asked(self, behaviour: str, name: str) -> list[str | None]:
        """The Range header of every request of that URL, in order (None: no Range)."""
        return [rng for path, rng in self.requests if path == f"/{behaviour}/{name}"]

    def count(self, path: str) -> int:
        """How many times `path` was asked before this request (and count this one)."""
        seen = self._served.get(path, 0)
        self._served[path] = seen + 1
        return seen


def _handler(server: ListingsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return  # quiet: pytest shows what the test asserts

        def do_GET(self) -> None:
            server.requests.append((self.path, self.headers.get("Range")))
            behaviour, _, name = self.path.lstrip("/").partition("/")
            body = server.files.get(name)
            if body is None or behaviour == "missing":
                return self._answer(404, b"not found", "text/plain")
            seen = server.count(self.path)
            if behaviour == "down" or (behaviour == "flaky" and seen < 2):
                return self._answer(503, b"busy", "text/plain")
            if behaviour == "html":
                return self._answer(200, ERROR_PAGE, "text/html; charset=utf-8")
            if behaviour == "html-body":
                return self._answer(200, ERROR_PAGE, "application/octet-stream")
            if behaviour == "cut":
                return self._answer(200, body[: len(body) // 2], "application/gzip")
            if behaviour == "chunked":
                return self._chunked(body)
            etag = f'"{len(body)}-{hash(body) & 0xFFFF:x}"'
            start = 0
            wanted = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
            resumable = behaviour != "drop-norange" and self.headers.get("If-Range") == etag
            if wanted and resumable:
                start = int(wanted.group(1))
            self.send_response(206 if start else 200)
            self.send_header("Content-Type", "application/gzip")
            self.send_header("Content-Length", str(len(body) - start))
            self.send_header("ETag", etag)
            self.send_header("Accept-Ranges", "bytes")
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            self.end_headers()
            rest = body[start:]
            if behaviour in ("drop", "drop-norange") and seen == 0:
                self.wfile.write(rest[: len(rest) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            if behaviour == "stall":
                self.wfile.write(rest[: len(rest) // 2])
                self.wfile.flush()
                server.released.wait(30)
                self.close_connection = True
                return
            self.wfile.write(rest)

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _chunked(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/gzip")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(body), 1 << 16):
                part = body[start : start + (1 << 16)]
                self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")

    return Handler


@contextmanager
def serve_listings(files: dict[str, bytes]) -> Iterator[ListingsServer]:
    """The server on a free loopback port, stopped (and any stalled answer released) on exit."""
    state = ListingsServer(files)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.released.set()
        httpd.shutdown()
        httpd.server_close()
