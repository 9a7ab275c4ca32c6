"""Pure ASGI middleware around every HTTP request: request id, body-size limit, metrics, and one
JSON log line each (`server.configure_logging` sends them to stderr).

Pure ASGI rather than `BaseHTTPMiddleware`: no extra task per request and the body stream is
left alone. An over-limit Content-Length is refused before the app reads a byte of it.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi.responses import JSONResponse

from occupancy.api.metrics import ApiMetrics

MAX_BODY_BYTES = 16 * 1024 * 1024  # 1,000 full CSV rows with long descriptions fit
REQUEST_ID_HEADER = b"x-request-id"
log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]
]


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
        status = 500
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            response = JSONResponse(
                status_code=413, content={"detail": f"request body over {MAX_BODY_BYTES} bytes"}
            )
            status = 413
            await response(scope, receive, send)
            self._record(scope, status, started, request_id)
            return

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append(
                    (REQUEST_ID_HEADER, request_id.encode("latin-1"))
                )
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
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
