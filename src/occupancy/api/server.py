"""Run the API under uvicorn (one process per worker, each with its own model holder).

Shutdown happens in two phases with any number of workers. On SIGTERM the server first drains:
every worker's readiness answers 503 for `OCCUPANCY_API_DRAIN_SECONDS` while every other route
keeps serving, so a load balancer or Kubernetes stops routing here. Then uvicorn closes the
socket and lets in-flight requests finish (up to `GRACEFUL_SECONDS`). A second signal skips the
drain. With `--workers N` the supervisor (`DrainingSupervisor`) receives the signal and sets a
drain flag that all its workers share; see `occupancy.api.shutdown`.
"""

from __future__ import annotations

import errno
import logging
import multiprocessing
import os
import socket
import sys

import uvicorn
from fastapi import FastAPI

from occupancy.api.app import create_app
from occupancy.api.shutdown import DrainFlag, DrainingServer, DrainingSupervisor, WorkerAppFactory
from occupancy.config import Settings, get_settings
from occupancy.errors import ConfigError, ListenError

GRACEFUL_SECONDS = 20
# How long a thread may hold the GIL while another waits for it (CPython's default is 5 ms). The
# event loop needs the GIL a few times per request, each time behind a scoring thread: at 5 ms,
# probes during two 1,000-listing batches waited up to 120-150 ms on 2 cores; at 0.2 ms, at most
# 25-27 ms, with the same throughput (wrk, 16 connections: 653-780 req/s either way).
GIL_SWITCH_SECONDS = 0.0002


def configure_logging() -> None:
    """The API's log lines (one JSON access line per request, model loads) on stderr, as is."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    api_log = logging.getLogger("occupancy.api")
    api_log.handlers = [handler]
    api_log.setLevel(logging.INFO)
    api_log.propagate = False


def worker_app(drain: DrainFlag) -> FastAPI:
    """One worker's app (multi-worker mode): settings come from the environment."""
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
    configure_logging()
    settings = get_settings()
    return create_app(settings, poll_seconds=settings.poll_seconds, drain=drain)


def run_server(
    settings: Settings, *, host: str, port: int, workers: int, poll_seconds: float
) -> None:
    """Serve until SIGTERM/SIGINT: drain (readiness 503), then finish in-flight requests."""
    # Bound before any model work, so a taken port or a wrong host fails at once in one sentence
    # (uvicorn would log its own line and exit 3 after starting the app).
    listener = listening_socket(host, port)
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
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
        DrainingServer(config, app.state.drain, settings.api_drain_seconds).run(sockets=[listener])
        return
    # The supervisor binds its own socket to share with the workers: this one only proved the
    # address usable (another process could still take it in between, then uvicorn says so).
    listener.close()
    os.environ["OCCUPANCY_POLL_SECONDS"] = str(poll_seconds)  # read by each worker's Settings
    # uvicorn spawns its workers; an Event of the same context can be handed to them.
    drain = multiprocessing.get_context("spawn").Event()
    config = uvicorn.Config(
        WorkerAppFactory("occupancy.api.server:worker_app", drain),
        factory=True,
        workers=workers,
        **common,  # type: ignore[arg-type]
    )
    sockets = [config.bind_socket()]
    DrainingSupervisor(config, sockets, drain, settings.api_drain_seconds).run()


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
