"""Draining before shutdown, for one process and for uvicorn's supervisor of several workers.

The first SIGTERM sets the drain flag, which readiness reads (503 from then on while every other
route keeps serving), and stops the server `drain_seconds` later; a second signal stops it at
once. Stopping is uvicorn's own: the socket closes, in-flight requests finish, the app shuts down.

    DrainFlag           what readiness reads: a `threading.Event` in one process, a
                        `multiprocessing` Event that every worker of a supervisor shares
    DrainingServer      one process: uvicorn.Server whose first exit signal drains first
    DrainingSupervisor  several workers: uvicorn's Multiprocess whose first SIGTERM drains them all
    WorkerAppFactory    what the supervisor hands each worker: the shared flag and the app's factory
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from socket import socket
from types import FrameType
from typing import Any, Protocol

import uvicorn
from uvicorn.importer import import_from_string
from uvicorn.supervisors.multiprocess import Multiprocess

log = logging.getLogger("occupancy.api")


class DrainFlag(Protocol):
    """Set once shutdown has begun; never cleared."""

    def is_set(self) -> bool: ...

    def set(self) -> None: ...


class DrainingServer(uvicorn.Server):
    """uvicorn.Server whose first exit signal sets the drain flag and delays the real stop."""

    def __init__(self, config: uvicorn.Config, drain: DrainFlag, drain_seconds: float) -> None:
        super().__init__(config)
        self._drain = drain
        self._drain_seconds = drain_seconds
        self._timer: threading.Timer | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._drain.set()
        if self._timer is not None or self._drain_seconds <= 0:
            super().handle_exit(sig, frame)
            return
        log.info("draining for %.1f s before shutting down", self._drain_seconds)
        self._timer = threading.Timer(self._drain_seconds, super().handle_exit, (sig, frame))
        self._timer.daemon = True
        self._timer.start()


class DrainingSupervisor(Multiprocess):
    """uvicorn's worker supervisor that drains every worker on the first SIGTERM.

    The workers' own signal handlers never see that SIGTERM (it is sent to the supervisor only,
    as Kubernetes does to PID 1): the supervisor sets the flag the workers share and keeps
    supervising them; after the drain it sends each worker uvicorn's usual SIGTERM. SIGINT stops
    at once as in uvicorn: Ctrl+C reaches every worker of the terminal's process group anyway.
    """

    def __init__(
        self,
        config: uvicorn.Config,
        sockets: list[socket],
        drain: DrainFlag,
        drain_seconds: float,
    ) -> None:
        super().__init__(config, sockets)
        self._drain = drain
        self._drain_seconds = drain_seconds
        self._timer: threading.Timer | None = None

    def handle_term(self) -> None:
        self._drain.set()
        if self._timer is not None or self._drain_seconds <= 0:
            if self._timer is not None:
                self._timer.cancel()
            super().handle_term()
            return
        log.info("draining %d workers for %.1f s", len(self.processes), self._drain_seconds)
        # run() leaves its loop, then terminates and joins the workers, once should_exit is set.
        self._timer = threading.Timer(self._drain_seconds, self.should_exit.set)
        self._timer.daemon = True
        self._timer.start()

    def terminate_all(self) -> None:
        # The supervisor's copy of the listening socket would keep the port accepting
        # connections into a backlog that no stopping worker will ever serve.
        for sock in self.sockets:
            sock.close()
        super().terminate_all()


@dataclass(frozen=True)
class WorkerAppFactory:
    """The app factory uvicorn's supervisor pickles into each worker, with the shared drain flag.

    A worker unpickles it before it answers the supervisor's health pings, which kills a worker
    silent for 5 s: so it holds only an import string and the flag, and the app's heavy imports
    (pandas, scikit-learn, MLflow) happen when uvicorn calls it, with the pings answered.
    """

    factory: str  # "module:function", called with the drain flag
    drain: DrainFlag

    def __call__(self) -> Any:
        build: Callable[[DrainFlag], Any] = import_from_string(self.factory)
        return build(self.drain)
