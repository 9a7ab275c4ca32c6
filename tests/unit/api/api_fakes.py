"""A stand-in for `ModelHolder`: its public surface over a fixed model, no registry behind it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from occupancy.api.holder import ServedModel
from occupancy.api.middleware import MAX_BODY_BYTES


class FakeHolder:
    """The holder's public surface over a fixed model: each refresh reports `outcome`."""

    def __init__(self, served: ServedModel | None, outcome: str = "unchanged") -> None:
        self.current = served
        self.last_error: str | None = None if served else "LookupError: no champion yet"
        self.last_check_at: str | None = None
        self.outcome = outcome
        self.refreshes = 0
        self.started = False
        self._listeners: list[Callable[[str, ServedModel | None], None]] = []

    def add_listener(self, listener: Callable[[str, ServedModel | None], None]) -> None:
        self._listeners.append(listener)

    def refresh(self) -> str:
        self.refreshes += 1
        self.last_check_at = "2025-10-01T00:00:00+00:00"
        for listener in self._listeners:
            listener(self.outcome, self.current)
        return self.outcome

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.started = False


def post_over_the_body_limit(client: Any) -> Any:
    """POST /predict announcing one byte more than the limit in Content-Length (body not sent)."""
    return client.post(
        "/predict",
        content=b"{}",
        headers={"content-type": "application/json", "content-length": str(MAX_BODY_BYTES + 1)},
    )
