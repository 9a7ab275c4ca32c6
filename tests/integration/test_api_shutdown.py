"""`occupancy serve` shuts down gracefully with any number of workers: on SIGTERM every worker's
readiness fails first while predictions keep being served, then in-flight requests finish."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import time
from pathlib import Path

import pytest
from api_support import publish, serve_env, start_serve, wait_until
from servers import free_port
from servers.process import log_tail, terminate

from occupancy.api.holder import PROBE_LISTING

pytestmark = pytest.mark.integration
DRAIN_SECONDS = 4.0
BODY = json.dumps({"listings": [PROBE_LISTING]}).encode()


class Pinned:
    """One keep-alive connection, so every request on it is answered by the same worker."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def status(self, method: str, path: str, body: bytes | None = None) -> int:
        """The response's status, or 0 if the server closed the connection."""
        headers = {"Content-Type": "application/json"} if body else {}
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            response.read()
            return int(response.status)
        except (OSError, http.client.HTTPException):
            self.connection.close()
            return 0

    def client_port(self) -> int:
        assert self.connection.sock is not None
        return int(self.connection.sock.getsockname()[1])

    def close(self) -> None:
        self.connection.close()


def _process_tree(root: int) -> set[int]:
    """`root` and all its descendants, from /proc (the API's workers are its children)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # exited while we looked
            continue
        parents[int(text.split()[0])] = int(text[text.rfind(")") + 2 :].split()[1])
    tree, grew = {root}, True
    while grew:
        children = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= children
        grew = bool(children)
    return tree


def _socket_inode(server_port: int, client_port: int) -> str | None:
    """The inode of the server's end of the connection from `client_port` (/proc/net/tcp)."""
    local, remote = f"0100007F:{server_port:04X}", f"0100007F:{client_port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[2] == remote:
            return fields[9]
    return None


def _serving_process(pinned: Pinned, port: int, server_pid: int) -> int:
    """The process (of the server's tree) that holds the server end of `pinned`."""
    inode = _socket_inode(port, pinned.client_port())
    assert inode is not None, "no server socket for the connection"
    target = f"socket:[{inode}]"
    for pid in _process_tree(server_pid):
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            try:
                if fd.readlink().as_posix() == target:
                    return pid
            except OSError:
                continue
    raise AssertionError(f"no process of {server_pid} holds {target}")


def _pin_every_worker(port: int, server_pid: int, workers: int) -> dict[int, Pinned]:
    """One ready keep-alive connection per worker process (the kernel picks who accepts)."""
    pinned: dict[int, Pinned] = {}
    for _ in range(200):
        candidate = Pinned(port)
        assert candidate.status("GET", "/health/ready") == 200
        pid = _serving_process(candidate, port, server_pid)
        if pid in pinned:
            candidate.close()
        else:
            pinned[pid] = candidate
        if len(pinned) == workers:
            return pinned
    raise AssertionError(f"only {len(pinned)} of {workers} workers took a connection")


def _loaded(log: Path) -> int:
    """How many worker processes have loaded the model so far (each logs it once)."""
    return log.read_text().count("serving shutdown-test v1")


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_drains_every_worker_first_then_finishes_in_flight_requests(
    tmp_path, fitted, workers
) -> None:
    model, valid = fitted
    tracking = f"sqlite:///{tmp_path}/mlflow.db"
    publish(tracking, "shutdown-test", model, valid.head(50))
    port = free_port()
    env = serve_env(
        tmp_path, tracking, "shutdown-test", OCCUPANCY_API_DRAIN_SECONDS=str(DRAIN_SECONDS)
    )
    log = tmp_path / "serve.log"
    server = start_serve(env, port, log, "--workers", str(workers))
    in_flight = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    pinned: dict[int, Pinned] = {}
    try:
        wait_until(lambda: _loaded(log) == workers, 300, "every worker to load the model")
        pinned = _pin_every_worker(port, server.pid, workers)
        # A request the server has started reading when the signal lands: headers and half a body.
        in_flight.putrequest("POST", "/predict")
        in_flight.putheader("Content-Type", "application/json")
        in_flight.putheader("Content-Length", str(len(BODY)))
        in_flight.endheaders()
        in_flight.send(BODY[: len(BODY) // 2])

        server.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        not_ready_after: dict[int, float] = {}
        for pid, connection in pinned.items():
            wait_until(
                lambda c=connection: c.status("GET", "/health/ready") == 503,
                5,
                f"readiness of worker {pid} to fail",
            )
            not_ready_after[pid] = time.monotonic() - signalled
        # Until the drain is nearly over, every worker keeps predicting and stays not ready.
        probes = 0
        while time.monotonic() - signalled < DRAIN_SECONDS - 0.5:
            for pid, connection in pinned.items():
                assert connection.status("POST", "/predict", BODY) == 200, f"worker {pid}"
                assert connection.status("GET", "/health/ready") == 503, f"worker {pid}"
                assert connection.status("GET", "/health/live") == 200, f"worker {pid}"
                probes += 1
        assert probes >= 2 * workers

        wait_until(lambda: not _accepts_connections(port), 30, "the listening socket to close")
        closed_after = time.monotonic() - signalled
        in_flight.send(BODY[len(BODY) // 2 :])
        response = in_flight.getresponse()
        assert response.status == 200
        assert len(json.loads(response.read())["predictions"]) == 1
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
        exited_after = time.monotonic() - signalled
        print(
            f"workers={workers}: readiness 503 after "
            f"{', '.join(f'{t:.2f}' for t in sorted(not_ready_after.values()))} s, "
            f"socket closed after {closed_after:.2f} s, exit after {exited_after:.2f} s"
        )
        assert max(not_ready_after.values()) < 1.5
        assert DRAIN_SECONDS <= closed_after < DRAIN_SECONDS + 5
        assert exited_after < DRAIN_SECONDS + 10
    except BaseException:
        print(log_tail(log))
        raise
    finally:
        in_flight.close()
        for connection in pinned.values():
            connection.close()
        terminate(server)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_second_sigterm_skips_the_drain(tmp_path, fitted, workers) -> None:
    model, valid = fitted
    tracking = f"sqlite:///{tmp_path}/mlflow.db"
    publish(tracking, "shutdown-test", model, valid.head(50))
    port = free_port()
    env = serve_env(tmp_path, tracking, "shutdown-test", OCCUPANCY_API_DRAIN_SECONDS="60")
    log = tmp_path / "serve.log"
    server = start_serve(env, port, log, "--workers", str(workers))
    pinned: dict[int, Pinned] = {}
    try:
        wait_until(lambda: _loaded(log) == workers, 300, "every worker to load the model")
        pinned = _pin_every_worker(port, server.pid, workers)
        server.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        for pid, connection in pinned.items():
            wait_until(
                lambda c=connection: c.status("GET", "/health/ready") == 503,
                5,
                f"readiness of worker {pid} to fail",
            )
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
        assert time.monotonic() - signalled < 30  # not the 60 s drain
    except BaseException:
        print(log_tail(log))
        raise
    finally:
        for connection in pinned.values():
            connection.close()
        terminate(server)
