"""Pure ASGI middleware around every HTTP request: request id, body-size limit, metrics, and one
JSON log line each (`server.configure_logging` sends them to stderr); security headers on every
response.

Pure ASGI rather than `BaseHTTPMiddleware`: no extra task per request and the body stream is
left alone. An over-limit Content-Length is refused before the app reads a byte of it; a body
without one (chunked) is counted as it arrives and refused as soon as it passes the limit.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi.responses import HTMLResponse, JSONResponse, Response

from occupancy.api.metrics import ApiMetrics

MAX_BODY_BYTES = 16 * 1024 * 1024  # 1,000 full CSV rows with long descriptions fit
REQUEST_ID_HEADER = b"x-request-id"
log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]
]


class _BodyTooLargeError(Exception):
    """Raised from `receive` inside the app once the body passes MAX_BODY_BYTES."""


# The prediction page's own routes: a person there reads the refusal as a page, not as JSON.
PAGE_PATHS = frozenset({"/", "/batch"})
_TOO_LARGE_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Too large</title>'
    '<link rel="stylesheet" href="/static/page.css"></head><body><main><section class="card">'
    f"<h1>The upload is over {MAX_BODY_BYTES // (1024 * 1024)} MB</h1><p>The page scores files "
    "of up to 1,000 listings; <code>occupancy predict</code> scores files of any size.</p>"
    '<p><a href="/">Back to the form</a></p></section></main></body></html>'
)


def _too_large(scope: Scope) -> Response:
    if scope.get("path") in PAGE_PATHS:
        return HTMLResponse(_TOO_LARGE_PAGE, status_code=413)
    return JSONResponse(
        status_code=413, content={"detail": f"request body over {MAX_BODY_BYTES} bytes"}
    )


class RequestMiddleware:
    """Request id (the client's X-Request-Id, else a new one), 413 over MAX_BODY_BYTES, metrics
    by route and status, and one JSON log line per request."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope.get("headers") or [])
        request_id = headers.get(REQUEST_ID_HEADER, b"").decode("latin-1")[:64] or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id  # request.state.request_id
        status = 500
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            status = 413
            await _too_large(scope)(scope, receive, send)
            self._record(scope, status, started, request_id)
            return
        received = 0
        over_limit = False
        responding = False

        async def counted_receive() -> Message:
            # A chunked body has no Content-Length to check: count it as it arrives, and stop
            # reading the moment it passes the limit; the app never gets the truncated body.
            nonlocal received, over_limit
            message: Message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY_BYTES:
                    over_limit = True
                    raise _BodyTooLargeError
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status, responding
            if message["type"] == "http.response.start":
                responding = True
                status = message["status"]
                message.setdefault("headers", []).append(
                    (REQUEST_ID_HEADER, request_id.encode("latin-1"))
                )
            await send(message)

        async def send_from_app(message: Message) -> None:
            if over_limit and not responding:
                return  # the app's answer to the aborted read (a 500); the 413 replaces it
            await send_with_id(message)

        try:
            await self.app(scope, counted_receive, send_from_app)
        except Exception:
            if not over_limit or responding:
                raise  # a real failure, or too late for a 413: the server closes the connection
        finally:
            if over_limit and not responding:
                await _too_large(scope)(scope, receive, send_with_id)
            self._record(scope, status, started, request_id)

    def _record(self, scope: Scope, status: int, started: float, request_id: str) -> None:
        seconds = time.perf_counter() - started
        route = getattr(scope.get("route"), "path", "unmatched")
        self.metrics.requests.labels(scope["method"], route, str(status)).inc()
        self.metrics.latency.labels(route).observe(seconds)
        log.info(
            json.dumps(
                {
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "ms": round(seconds * 1000, 2),
                }
            )
        )


# On every response: no MIME sniffing, no framing, no Referer to third parties.
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
# JSON and metrics load nothing.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# FastAPI's /docs and /redoc load Swagger UI / ReDoc from this CDN (its default) plus one inline
# script on /docs, allowed by its hash; styles are inline too (ReDoc injects them at run time),
# ReDoc's fonts come from Google Fonts and its search runs in a blob: worker.
DOCS_CDN = "https://cdn.jsdelivr.net"
DOCS_CSP = (
    "default-src 'none'; script-src {scripts}; "
    f"style-src {DOCS_CDN} https://fonts.googleapis.com 'unsafe-inline'; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; worker-src blob:; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S)


def docs_csp(html: bytes) -> str:
    """The docs pages' CSP: the CDN and the sha256 of each inline script in exactly this page."""
    hashes = [
        f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(html)
    ]
    return DOCS_CSP.format(scripts=" ".join([DOCS_CDN, *hashes]))


class SecurityHeadersMiddleware:
    """SECURITY_HEADERS on every response; API_CSP, or for HTML (the docs) `docs_csp`, unless
    the route set a policy of its own.

    An HTML page is held until its last chunk so its inline scripts can be hashed (the docs are
    a few kilobytes); every other response streams through untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        chunks: list[bytes] = []

        async def send_with_headers(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), *SECURITY_HEADERS]
                message["headers"] = headers
                named = dict(headers)
                if b"content-security-policy" in named:
                    pass  # the route set its own policy (the prediction page, GET /)
                elif named.get(b"content-type", b"").startswith(b"text/html"):
                    held = message
                    return
                else:
                    headers.append((b"content-security-policy", API_CSP.encode()))
            elif held is not None and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                html = b"".join(chunks)
                held["headers"].append((b"content-security-policy", docs_csp(html).encode()))
                await send(held)
                message = {"type": "http.response.body", "body": html}
            await send(message)

        await self.app(scope, receive, send_with_headers)
