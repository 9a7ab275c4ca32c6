"""Run the API under uvicorn (one process per worker, each with its own model holder)."""

from __future__ import annotations

import os

from fastapi import FastAPI

from occupancy.api.app import configure_logging, create_app
from occupancy.config import Settings, get_settings

_POLL_ENV = "OCCUPANCY_POLL_SECONDS"


def app_factory() -> FastAPI:
    """uvicorn factory for multi-worker mode: settings come from the environment."""
    configure_logging()
    return create_app(get_settings(), poll_seconds=float(os.environ.get(_POLL_ENV, "30")))


def run_server(
    settings: Settings, *, host: str, port: int, workers: int, poll_seconds: float
) -> None:
    """Serve until SIGTERM/SIGINT; in-flight requests finish first (uvicorn's graceful shutdown)."""
    import uvicorn

    configure_logging()
    common = {
        "host": host,
        "port": port,
        "log_level": "warning",
        "access_log": False,
        "timeout_graceful_shutdown": 20,
    }
    if workers == 1:
        uvicorn.run(create_app(settings, poll_seconds=poll_seconds), **common)  # type: ignore[arg-type]
        return
    os.environ[_POLL_ENV] = str(poll_seconds)
    uvicorn.run("occupancy.api.server:app_factory", factory=True, workers=workers, **common)  # type: ignore[arg-type]
