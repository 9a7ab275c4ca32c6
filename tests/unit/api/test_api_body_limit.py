"""The 16 MB body limit holds for chunked bodies too: counted as they arrive, 413 past it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import anyio
import httpx
from api_fakes import FakeHolder

from occupancy.api.app import create_app
from occupancy.api.middleware import MAX_BODY_BYTES

MEGABYTE = 1024 * 1024


class CountingBody:
    """A chunked request body of `chunks` 1 MB pieces that counts how many were pulled."""

    def __init__(self, chunks: int, piece: bytes = b" " * MEGABYTE) -> None:
        self.chunks = chunks
        self.piece = piece
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.pulled += 1
            yield self.piece


def _post(app, content) -> httpx.Response:
    """POST /predict through the app's ASGI interface; an async body goes chunked."""

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return await client.post(
                "/predict", content=content, headers={"content-type": "application/json"}
            )

    return anyio.run(call)


def test_a_chunked_body_over_the_limit_is_413_and_reading_stops_there(settings, served) -> None:
    body = CountingBody(chunks=32)  # 32 MB offered, no Content-Length
    response = _post(create_app(settings, holder=FakeHolder(served)), body)
    assert response.status_code == 413
    assert response.json() == {"detail": f"request body over {MAX_BODY_BYTES} bytes"}
    # 17 pieces pass 16 MB; nothing after that one is pulled (one more in flight at most).
    assert body.pulled <= MAX_BODY_BYTES // MEGABYTE + 2
    assert body.pulled < body.chunks


def test_a_chunked_body_under_the_limit_is_served_as_before(settings, served, listings) -> None:
    payload = json.dumps({"listings": listings(2)}).encode()
    body = CountingBody(chunks=1, piece=payload)
    response = _post(create_app(settings, holder=FakeHolder(served)), body)
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == 2
