"""Process handling shared by every test server: ports, spawning, readiness, logs, stopping.

* Every server listens on 127.0.0.1 on ports picked at run time (`free_port`, `free_port_pair`);
  a port picked as free can still be taken before the server binds it, so start-ups are retried
  when the log says so (`retry_on_port_clash`).
* Readiness is established by polling the real protocol inside a deadline (`wait_until_ready`),
  never by a fixed sleep.
* Each server runs in its own process group (`spawn`), so stopping it (`terminate`) also stops
  its children (the MLflow CLI forks uvicorn workers).
* Every start-up failure raises `ServerStartError` with the tail of the server's log.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

_T = TypeVar("_T")

LOCALHOST = "127.0.0.1"

_POLL_INTERVAL = 0.1  # seconds between readiness probes; short so start-up is not slowed down
_STOP_TIMEOUT = 20.0  # seconds a server gets to exit after SIGTERM before SIGKILL
_START_ATTEMPTS = 3  # a port picked as free can be taken by someone else before the server binds


class ServerStartError(RuntimeError):
    """A server did not start or did not become ready in time; the message ends with its log."""


class PortClashError(ServerStartError):
    """Start-up failed because a port picked as free was taken by the time the server bound it."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago.

    The kernel picks it (bind to port 0). Another process can still grab it before the server
    binds it; the start functions retry on "address already in use" for that reason.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOCALHOST, port))
        except OSError:
            return False
        return True


def free_port_pair(offset: int = 10000) -> tuple[int, int]:
    """Return free ports `(p, p + offset)`.

    SeaweedFS serves gRPC on `http port + 10000` and some of its internal clients assume that
    offset even when another gRPC port is configured (the mini worker dials `admin.port + 10000`),
    so both ports of every pair must be free and the gRPC port must be exactly `p + offset`.
    """
    rng = random.SystemRandom()
    for _ in range(1000):
        # Not bind(0): the kernel's pick could be too high for p + offset to be a valid port.
        port = rng.randint(20000, 65535 - offset - 1)
        if _port_is_free(port) and _port_is_free(port + offset):
            return port, port + offset
    raise RuntimeError(f"no free pair of TCP ports {offset} apart on {LOCALHOST}")


def log_tail(path: Path, lines: int = 60) -> str:
    """Return the last `lines` lines of a log file, or a note if it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"<log {path} unreadable: {exc}>"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else f"<log {path} is empty>"


def start_error(what: str, log_path: Path, reason: str) -> ServerStartError:
    """A `ServerStartError` saying what failed and why, followed by the tail of its log."""
    return ServerStartError(
        f"{what} {reason}. Last lines of {log_path}:\n{log_tail(log_path)}",
    )


def looks_like_port_clash(log_path: Path) -> bool:
    """True if the log says a port was already taken (the start-up is then worth retrying)."""
    text = log_tail(log_path, lines=200).lower()
    return "address already in use" in text or "could not bind" in text


def spawn(
    cmd: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str],
    cwd: Path,
) -> subprocess.Popen[bytes]:
    """Start `cmd` in a new session with stdout and stderr appended to `log_path`.

    A new session (and so process group) lets `terminate` signal the server and all its
    children at once. The log file is closed in this process right away: the child keeps its own
    descriptor, and an open file object here would trigger a ResourceWarning (an error under
    `filterwarnings = error`).
    """
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )


def _group_alive(pgid: int) -> bool:
    """True if a live (non-zombie) process is still in process group `pgid`.

    Zombies are ignored: an orphaned child is only reaped by PID 1, and some container inits
    never reap, so counting zombies would make every stop wait for the full timeout.
    """
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: fall back to "some process, maybe a zombie, is there"
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process exited while we looked
            continue
        # Format: "pid (comm) state ppid pgrp ..."; comm may contain spaces and parentheses.
        fields = text[text.rfind(")") + 2 :].split()
        if len(fields) >= 3 and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def terminate(process: subprocess.Popen[bytes], timeout: float = _STOP_TIMEOUT) -> None:
    """Stop a process started by `spawn` and its whole process group.

    SIGTERM first so servers shut down cleanly (SeaweedFS flushes its volumes, uvicorn drains),
    SIGKILL for whatever is left after `timeout`.
    """
    pgid = process.pid  # start_new_session=True makes the child a group leader
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            process.wait()
    # The leader is gone; children it did not reap (e.g. a uvicorn worker) may still be in the
    # group. Give them the same grace period, then kill them.
    deadline = time.monotonic() + timeout
    while _group_alive(pgid) and time.monotonic() < deadline:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        time.sleep(_POLL_INTERVAL)
    if _group_alive(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


def wait_until_ready(
    probe: Callable[[], bool],
    *,
    what: str,
    process: subprocess.Popen[bytes] | None,
    log_path: Path,
    timeout: float,
) -> None:
    """Call `probe` every `_POLL_INTERVAL` seconds until it returns True.

    Raises `ServerStartError` (with the log tail) when the process exits first or `timeout`
    passes. `probe` should return False, not raise, while the server is still starting.
    """
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise start_error(what, log_path, f"exited with status {process.returncode}")
        if probe():
            return
        if time.monotonic() > deadline:
            raise start_error(what, log_path, f"was not ready after {timeout:.0f} s")
        time.sleep(_POLL_INTERVAL)


def venv_bin(name: str) -> Path:
    """Find an executable installed in the virtualenv that runs the tests.

    The venv's bin directory is not necessarily on PATH (tests are often run as
    `.venv/bin/python -m pytest`), so look next to `sys.executable` and under `sys.prefix`.
    """
    candidates = [Path(sys.executable).parent, Path(sys.prefix) / "bin"]
    for directory in candidates:
        found = shutil.which(name, path=str(directory))
        if found:
            return Path(found)
    found = shutil.which(name)
    if found:
        return Path(found)
    raise FileNotFoundError(f"{name!r} not found in {candidates} nor on PATH")


def clean_env(drop_prefixes: Sequence[str] = ("AWS_", "MLFLOW_")) -> dict[str, str]:
    """Return a copy of this process's environment without variables that would leak into a server.

    A developer's own AWS or MLflow settings must not change how a test server behaves.
    Loopback traffic must also never go through an HTTP proxy that happens to be configured.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(tuple(drop_prefixes))}
    no_proxy = ",".join(filter(None, [env.get("NO_PROXY", ""), "127.0.0.1,localhost"]))
    env["NO_PROXY"] = env["no_proxy"] = no_proxy
    return env


def retry_on_port_clash(start: Callable[[], _T], what: str) -> _T:
    """Call `start` again (with new ports) if it failed because a port was taken meanwhile."""
    for attempt in range(1, _START_ATTEMPTS + 1):
        try:
            return start()
        except PortClashError:
            if attempt == _START_ATTEMPTS:
                raise
    raise AssertionError(f"unreachable: {what}")  # pragma: no cover


def run_logged(
    cmd: Sequence[str], *, log_path: Path, cwd: Path, env: Mapping[str, str], what: str
) -> None:
    """Run a short command to completion with its output appended to `log_path`.

    Output goes to a file, not a pipe: `pg_ctl start` leaves the postmaster running, and a
    postmaster holding a pipe open would make a pipe reader wait forever.
    """
    with log_path.open("ab") as log:
        result = subprocess.run(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=dict(env),
            check=False,
            timeout=180,
        )
    if result.returncode != 0:
        error = start_error(what, log_path, f"failed with status {result.returncode}")
        if looks_like_port_clash(log_path):
            raise PortClashError(str(error))
        raise error
