"""Run the API under uvicorn (one process per worker, each with its own model holder).

Shutdown happens in two phases. On SIGTERM the single-worker server first drains: readiness
answers 503 for `OCCUPANCY_API_DRAIN_SECONDS` while every other route keeps serving, so a load
balancer or Kubernetes stops routing here. Then uvicorn closes the socket and lets in-flight
requests finish (up to `GRACEFUL_SECONDS`). A second signal skips the drain.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import sys
import threading
from types import FrameType

import uvicorn
from fastapi import FastAPI

from occupancy.api.app import create_app
from occupancy.config import Settings, get_settings
from occupancy.errors import ConfigError, ListenError

GRACEFUL_SECONDS = 20


def configure_logging() -> None:
    """The API's log lines (one JSON access line per request, model loads) on stderr, as is."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    api_log = logging.getLogger("occupancy.api")
    api_log.handlers = [handler]
    api_log.setLevel(logging.INFO)
    api_log.propagate = False


def app_factory() -> FastAPI:
    """uvicorn factory for multi-worker mode: settings come from the environment."""
    configure_logging()
    settings = get_settings()
    return create_app(settings, poll_seconds=settings.poll_seconds)


def run_server(
    settings: Settings, *, host: str, port: int, workers: int, poll_seconds: float
) -> None:
    """Serve until SIGTERM/SIGINT: drain (readiness 503), then finish in-flight requests."""
    # Bound before any model work, so a taken port or a wrong host fails at once in one sentence
    # (uvicorn would log its own line and exit 3 after starting the app).
    listener = listening_socket(host, port)
    configure_logging()
    common = {
        "host": host,
        "port": port,
        "log_level": "warning",
        "access_log": False,
        "timeout_graceful_shutdown": GRACEFUL_SECONDS,
    }
    if workers == 1:
        app = create_app(settings, poll_seconds=poll_seconds)
        config = uvicorn.Config(app, **common)  # type: ignore[arg-type]
        _DrainingServer(config, app, settings.api_drain_seconds).run(sockets=[listener])
        return
    # uvicorn's supervisor binds its own socket to share with the workers: this one only proved
    # the address usable (another process could still take it in between, then uvicorn says so).
    listener.close()
    # uvicorn's supervisor owns the workers' signals here: no drain phase, only its graceful stop.
    os.environ["OCCUPANCY_POLL_SECONDS"] = str(poll_seconds)  # read by each worker's Settings
    uvicorn.run("occupancy.api.server:app_factory", factory=True, workers=workers, **common)  # type: ignore[arg-type]


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port, as uvicorn binds it; one sentence when it cannot be."""
    try:
        family, *_, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise ConfigError(
            f"--host {host!r} is not an address of this machine ({exc.strerror}): use an IP "
            "address such as 127.0.0.1 or 0.0.0.0"
        ) from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ListenError(
                f"{host}:{port} is already in use: stop the process listening there or choose "
                "another --port"
            ) from None
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror}): choose a --host of this machine "
            "and a --port this user may open (1024 or above without privileges)"
        ) from None
    sock.set_inheritable(True)
    return sock


class _DrainingServer(uvicorn.Server):
    """uvicorn.Server whose first exit signal flips readiness and delays the real stop."""

    def __init__(self, config: uvicorn.Config, app: FastAPI, drain_seconds: float) -> None:
        super().__init__(config)
        self._app = app
        self._drain_seconds = drain_seconds
        self._timer: threading.Timer | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._timer is not None or self._drain_seconds <= 0:
            super().handle_exit(sig, frame)
            return
        self._app.state.draining = True
        self._timer = threading.Timer(self._drain_seconds, super().handle_exit, (sig, frame))
        self._timer.daemon = True
        self._timer.start()
