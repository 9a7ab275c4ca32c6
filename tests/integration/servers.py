"""Start real PostgreSQL, S3 (SeaweedFS) and MLflow servers as subprocesses for integration tests.

Each server has a context manager (`start_postgres`, `start_s3`, `start_mlflow`) that yields a
small frozen dataclass holding what a client needs, and stops the server on exit. For MLflow,
`MlflowLauncher` (and the lower-level `launch_mlflow`) return running servers that the caller
stops itself: tests use them to stop MLflow in the middle of a scenario and to start it again on
the same port.

Design notes:

* Every server listens on 127.0.0.1 on ports picked at run time, and keeps its files in its own
  temporary directory, so parallel test runs on one machine do not collide.
* Readiness is established by polling the real protocol (SQL connection, S3 ListBuckets, MLflow
  REST) inside a deadline, never by a fixed sleep.
* Each server runs in its own process group so that stopping it also stops its children (the
  MLflow CLI forks uvicorn workers).
* Every start-up failure raises `ServerStartError` with the tail of the server's log, because a
  bare "timed out" is useless when a CI run fails on a machine nobody can log into.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from botocore.client import BaseClient as S3Client

_T = TypeVar("_T")

PG_BIN_DIR = Path(os.environ.get("OCCUPANCY_PG_BIN_DIR", "/usr/lib/postgresql/15/bin"))
"""Where initdb, pg_ctl and postgres live (Debian's postgresql-15 package)."""

LOCALHOST = "127.0.0.1"
DEFAULT_BUCKETS: tuple[str, ...] = ("occupancy-lake", "mlflow-artifacts")
MLFLOW_ARTIFACTS_BUCKET = "mlflow-artifacts"

_POLL_INTERVAL = 0.1  # seconds between readiness probes; short so start-up is not slowed down
_STOP_TIMEOUT = 20.0  # seconds a server gets to exit after SIGTERM before SIGKILL
# SeaweedFS's filer sometimes takes over 10 s to stop (pending deletions); its data is thrown
# away anyway, so it gets less grace.
_WEED_STOP_TIMEOUT = 5.0
_START_ATTEMPTS = 3  # a port picked as free can be taken by someone else before the server binds


class ServerStartError(RuntimeError):
    """A server did not start or did not become ready in time; the message ends with its log."""


# --------------------------------------------------------------------------------------------
# Generic process helpers
# --------------------------------------------------------------------------------------------


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


def _start_error(what: str, log_path: Path, reason: str) -> ServerStartError:
    return ServerStartError(
        f"{what} {reason}. Last lines of {log_path}:\n{log_tail(log_path)}",
    )


def _looks_like_port_clash(log_path: Path) -> bool:
    text = log_tail(log_path, lines=200).lower()
    return "address already in use" in text or "could not bind" in text


def _spawn(
    cmd: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str],
    cwd: Path,
) -> subprocess.Popen[bytes]:
    """Start `cmd` in a new session with stdout and stderr appended to `log_path`.

    A new session (and so process group) lets `_terminate` signal the server and all its
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


def _terminate(process: subprocess.Popen[bytes], timeout: float = _STOP_TIMEOUT) -> None:
    """Stop a process started by `_spawn` and its whole process group.

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


def _wait_until_ready(
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
            raise _start_error(what, log_path, f"exited with status {process.returncode}")
        if probe():
            return
        if time.monotonic() > deadline:
            raise _start_error(what, log_path, f"was not ready after {timeout:.0f} s")
        time.sleep(_POLL_INTERVAL)


def _venv_bin(name: str) -> Path:
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


def _clean_env(drop_prefixes: Sequence[str] = ("AWS_", "MLFLOW_")) -> dict[str, str]:
    """Return a copy of this process's environment without variables that would leak into a server.

    A developer's own AWS or MLflow settings must not change how a test server behaves.
    Loopback traffic must also never go through an HTTP proxy that happens to be configured.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(tuple(drop_prefixes))}
    no_proxy = ",".join(filter(None, [env.get("NO_PROXY", ""), "127.0.0.1,localhost"]))
    env["NO_PROXY"] = env["no_proxy"] = no_proxy
    return env


def _retry_on_port_clash(start: Callable[[], _T], what: str) -> _T:
    """Call `start` again (with new ports) if it failed because a port was taken meanwhile."""
    for attempt in range(1, _START_ATTEMPTS + 1):
        try:
            return start()
        except _PortClashError:
            if attempt == _START_ATTEMPTS:
                raise
    raise AssertionError(f"unreachable: {what}")  # pragma: no cover


class _PortClashError(ServerStartError):
    """Start-up failed because a port picked as free was taken by the time the server bound it."""


# --------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostgresServer:
    """A running PostgreSQL server and the application database created in it.

    `user`/`password` own `database` and log in over TCP with SCRAM passwords (like a real
    deployment). `superuser` logs in without a password over the Unix socket in `socket_dir`,
    for tests that need to create databases or kill connections.
    """

    host: str
    port: int
    user: str
    password: str
    database: str
    superuser: str
    socket_dir: Path
    data_dir: Path

    @property
    def uri(self) -> str:
        """SQLAlchemy/MLflow URI (`postgresql://` selects psycopg 3 with SQLAlchemy 2)."""
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.database}"

    @property
    def conninfo(self) -> str:
        """libpq connection string for `psycopg.connect` as the application user."""
        return (
            f"host={self.host} port={self.port} user={self.user} "
            f"password={self.password} dbname={self.database}"
        )

    @property
    def admin_conninfo(self) -> str:
        """libpq connection string for the superuser over the Unix socket (trust auth)."""
        return f"host={self.socket_dir} port={self.port} user={self.superuser} dbname=postgres"


def _pg_os_user() -> str | None:
    """Return the OS user to run PostgreSQL as, or None to run it as ourselves.

    PostgreSQL refuses to run as root, and CI runs the tests as root, so then the server runs
    as the `postgres` account that Debian's package creates (or `nobody` if it is missing).
    """
    if os.geteuid() != 0:
        return None
    import pwd

    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise ServerStartError("running as root and neither a 'postgres' nor a 'nobody' user exists")


def _as_user(cmd: Sequence[str], os_user: str | None) -> list[str]:
    """Prefix `cmd` so that it runs as `os_user` (argv is passed through, no shell quoting)."""
    if os_user is None:
        return list(cmd)
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", os_user, "--", *cmd]
    import shlex

    return ["su", os_user, "-s", "/bin/sh", "-c", shlex.join(cmd)]


def _run_logged(
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
        error = _start_error(what, log_path, f"failed with status {result.returncode}")
        if _looks_like_port_clash(log_path):
            raise _PortClashError(str(error))
        raise error


def _pg_stop(data_dir: Path, *, os_user: str | None, base: Path, env: Mapping[str, str]) -> None:
    """Stop PostgreSQL with a fast shutdown; kill the postmaster if pg_ctl cannot."""
    if not (data_dir / "postmaster.pid").exists():
        return
    cmd = [str(PG_BIN_DIR / "pg_ctl"), "stop", "-D", str(data_dir), "-m", "fast", "-w", "-t", "30"]
    with contextlib.suppress(ServerStartError, subprocess.TimeoutExpired):
        _run_logged(
            _as_user(cmd, os_user), log_path=base / "pg_ctl.log", cwd=base, env=env, what="pg_ctl"
        )
    pid_file = data_dir / "postmaster.pid"
    if pid_file.exists():  # pg_ctl failed: do not leave a postmaster behind
        with contextlib.suppress(ValueError, OSError, IndexError):
            os.kill(int(pid_file.read_text().splitlines()[0]), signal.SIGKILL)


def _start_postgres_once(
    base: Path, os_user: str | None, env: Mapping[str, str], timeout: float
) -> PostgresServer:
    """Create a cluster in `base` and start it on a fresh port; see `start_postgres`."""
    import psycopg
    from psycopg import sql

    data_dir = base / "data"
    socket_dir = base / "sock"
    socket_dir.mkdir(exist_ok=True)
    if os_user is not None:
        shutil.chown(socket_dir, user=os_user)
    server_log = base / "postgres.log"
    tool_log = base / "pg_ctl.log"
    port = free_port()

    if not data_dir.exists():
        _run_logged(
            _as_user(
                [
                    str(PG_BIN_DIR / "initdb"),
                    "-D",
                    str(data_dir),
                    "--username=postgres",
                    # Socket logins are trusted (to bootstrap); TCP logins need a password.
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    # C locale always exists; the machine's LANG may name one that does not.
                    "--locale=C",
                    "--encoding=UTF8",
                    "--no-sync",
                ],
                os_user,
            ),
            log_path=tool_log,
            cwd=base,
            env=env,
            what="initdb",
        )

    server_options = " ".join(
        [
            f"-p {port}",
            f"-k {socket_dir}",
            f"-c listen_addresses={LOCALHOST}",
            # Durability is pointless for a throw-away test cluster; speed is not.
            "-c fsync=off",
            "-c synchronous_commit=off",
            "-c full_page_writes=off",
        ]
    )
    try:
        _run_logged(
            _as_user(
                [
                    str(PG_BIN_DIR / "pg_ctl"),
                    "start",
                    "-D",
                    str(data_dir),
                    "-l",
                    str(server_log),
                    "-o",
                    server_options,
                    "-w",  # pg_ctl itself waits until the server accepts connections
                    "-t",
                    str(int(timeout)),
                ],
                os_user,
            ),
            # pg_ctl's own messages go to a separate file: the server log is created by
            # PostgreSQL as its own user, and a file we created first would be ours (root's).
            log_path=tool_log,
            cwd=base,
            env=env,
            what="PostgreSQL (pg_ctl start)",
        )
    except ServerStartError as exc:
        _pg_stop(data_dir, os_user=os_user, base=base, env=env)
        error_type = _PortClashError if _looks_like_port_clash(server_log) else ServerStartError
        raise error_type(f"{exc}\nLast lines of {server_log}:\n{log_tail(server_log)}") from exc

    server = PostgresServer(
        host=LOCALHOST,
        port=port,
        user="mlflow",
        password=secrets.token_urlsafe(12),
        database="mlflow",
        superuser="postgres",
        socket_dir=socket_dir,
        data_dir=data_dir,
    )
    try:
        with psycopg.connect(server.admin_conninfo, autocommit=True, connect_timeout=10) as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(server.user), sql.Literal(server.password)
                )
            )
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(server.database), sql.Identifier(server.user)
                )
            )

        def probe() -> bool:
            # Check the path clients use: TCP + password as the application user.
            try:
                with psycopg.connect(server.conninfo, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
            except psycopg.OperationalError:
                return False
            return True

        _wait_until_ready(
            probe, what="PostgreSQL", process=None, log_path=server_log, timeout=timeout
        )
    except BaseException:
        _pg_stop(data_dir, os_user=os_user, base=base, env=env)
        raise
    return server


def create_database(server: PostgresServer, name: str) -> PostgresServer:
    """Create an empty database `name` owned by the application user; return a server view on it.

    Useful for a test that needs an MLflow backend store of its own.
    """
    import psycopg
    from psycopg import sql

    with psycopg.connect(server.admin_conninfo, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(server.user)
            )
        )
    return dataclasses.replace(server, database=name)


@contextlib.contextmanager
def start_postgres(*, timeout: float = 60.0) -> Iterator[PostgresServer]:
    """Run a throw-away PostgreSQL 15 cluster with a `mlflow` user and database.

    The cluster lives in a fresh directory under /tmp which is removed on exit. When running as
    root the server runs as the `postgres` account, so the directory is created world-traversable
    (0o755) and chowned to it: pytest's own tmp dirs are 0o700 under root's name and PostgreSQL
    could not reach them.
    """
    os_user = _pg_os_user()
    if not (PG_BIN_DIR / "pg_ctl").exists():
        raise ServerStartError(f"PostgreSQL binaries not found in {PG_BIN_DIR}")
    env = _clean_env(drop_prefixes=("AWS_", "MLFLOW_", "PG"))
    base = Path(tempfile.mkdtemp(prefix="occupancy-pg-", dir="/tmp" if os_user else None))
    try:
        base.chmod(0o755)
        if os_user is not None:
            shutil.chown(base, user=os_user)

        def attempt() -> PostgresServer:
            return _start_postgres_once(base, os_user, env, timeout)

        server = _retry_on_port_clash(attempt, "PostgreSQL")
        try:
            yield server
        finally:
            _pg_stop(server.data_dir, os_user=os_user, base=base, env=env)
    finally:
        shutil.rmtree(base, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# S3 (SeaweedFS)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Server:
    """A running S3-compatible server (SeaweedFS) with one admin identity and some buckets."""

    endpoint_url: str
    access_key: str
    secret_key: str
    region: str
    buckets: tuple[str, ...]
    data_dir: Path

    def env(self) -> dict[str, str]:
        """Environment variables that point boto3 (and the AWS CLI) at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }

    def client(self, *, access_key: str | None = None, secret_key: str | None = None) -> S3Client:
        """Return a boto3 S3 client for this server (override the keys to test bad credentials).

        Retries are off so that a rejected request fails at once instead of being retried.
        """
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=access_key if access_key is not None else self.access_key,
            aws_secret_access_key=secret_key if secret_key is not None else self.secret_key,
            region_name=self.region,
            config=Config(
                retries={"max_attempts": 1, "mode": "standard"},
                connect_timeout=2,
                read_timeout=30,
                s3={"addressing_style": "path"},
            ),
        )


def create_bucket(client: S3Client, name: str) -> None:
    """Create bucket `name`, accepting that it already exists (start-up is retried)."""
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=name)


def empty_and_delete_bucket(client: S3Client, name: str) -> None:
    """Delete every object of bucket `name`, then the bucket."""
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=name):
        keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
    client.delete_bucket(Bucket=name)


def _remove_files(paths: Sequence[Path]) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _s3_identity_config(path: Path, access_key: str, secret_key: str) -> None:
    """Write SeaweedFS's S3 identity file (`-s3.config`).

    With at least one identity configured SeaweedFS authenticates every request: an unknown
    access key gets InvalidAccessKeyId, a wrong secret SignatureDoesNotMatch, an anonymous
    request AccessDenied. Without the file it would accept anything.
    """
    config = {
        "identities": [
            {
                "name": "occupancy-admin",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    path.chmod(0o600)  # it holds a secret


def _start_s3_once(
    base: Path, sock_dir: Path, buckets: Sequence[str], timeout: float
) -> tuple[S3Server, subprocess.Popen[bytes], list[Path]]:
    """Start `weed mini` in `base` (Unix sockets in `sock_dir`) on fresh ports; see `start_s3`."""
    from botocore.exceptions import BotoCoreError, ClientError

    attempt_dir = Path(tempfile.mkdtemp(prefix="weed-", dir=base))
    data_dir = attempt_dir / "data"
    data_dir.mkdir()
    log_path = attempt_dir / "weed.log"
    access_key = "occupancy" + secrets.token_hex(4)
    secret_key = secrets.token_urlsafe(24)
    config_path = attempt_dir / "s3-identities.json"
    _s3_identity_config(config_path, access_key, secret_key)

    master, master_grpc = free_port_pair()
    volume, volume_grpc = free_port_pair()
    filer, filer_grpc = free_port_pair()
    s3, s3_grpc = free_port_pair()
    admin, admin_grpc = free_port_pair()
    glog_dir = attempt_dir / "glog"
    glog_dir.mkdir()
    cmd = [
        str(_venv_bin("weed")),
        # Its detailed logs would otherwise pile up as /tmp/weed.*.log.* files.
        f"-logdir={glog_dir}",
        "mini",
        f"-dir={data_dir}",
        f"-ip={LOCALHOST}",
        f"-ip.bind={LOCALHOST}",
        # Every component gets explicit ports: the defaults (9333, 8888, 8333, ...) would collide
        # between parallel runs and with anything else on the machine.
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        f"-admin.port={admin}",
        f"-admin.port.grpc={admin_grpc}",
        # Components we do not need, or that can be switched off, are.
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-webdav=false",
        "-admin.ui=false",
        # The pre-stop pause lets a cluster drain a volume server; alone, it only slows stop.
        "-volume.preStopSeconds=0",
        # No phoning home from tests.
        "-master.telemetry=false",
        # Default Unix sockets are /tmp/seaweedfs-*-<port>.sock; keep ours in our directory.
        f"-filer.localSocket={sock_dir / 'filer.sock'}",
        f"-s3.localSocket={sock_dir / 's3.sock'}",
        f"-s3.config={config_path}",
    ]
    # AWS_* and S3_BUCKET from the caller's environment would be picked up by `weed mini`.
    env = _clean_env(drop_prefixes=("AWS_", "MLFLOW_", "S3_"))
    process = _spawn(cmd, log_path=log_path, env=env, cwd=attempt_dir)
    # SeaweedFS also creates gRPC sockets at fixed /tmp paths (no flag moves them); it leaves
    # some behind even on a clean stop, all of them when killed. Removed after it stops.
    grpc_ports = {
        "master": master_grpc,
        "volume": volume_grpc,
        "filer": filer_grpc,
        "s3": s3_grpc,
        "admin": admin_grpc,
    }
    litter = [Path(f"/tmp/seaweedfs-{kind}-grpc-{port}.sock") for kind, port in grpc_ports.items()]
    server = S3Server(
        endpoint_url=f"http://{LOCALHOST}:{s3}",
        access_key=access_key,
        secret_key=secret_key,
        region="us-east-1",
        buckets=tuple(buckets),
        data_dir=data_dir,
    )
    try:
        client = server.client()

        def probe() -> bool:
            # Signed with the configured identity, so success also proves it was loaded.
            try:
                client.list_buckets()
            except (BotoCoreError, ClientError):
                return False
            return True

        try:
            _wait_until_ready(
                probe, what="SeaweedFS S3", process=process, log_path=log_path, timeout=timeout
            )
            # Created here rather than with `weed mini -bucket=...` so that they certainly exist
            # when this returns.
            for bucket in buckets:
                create_bucket(client, bucket)
        except ServerStartError as exc:
            if _looks_like_port_clash(log_path):
                raise _PortClashError(str(exc)) from exc
            raise
        finally:
            client.close()
    except BaseException:
        _terminate(process)
        _remove_files(litter)
        raise
    return server, process, litter


@contextlib.contextmanager
def start_s3(
    base_dir: Path | None = None,
    *,
    buckets: Sequence[str] = DEFAULT_BUCKETS,
    timeout: float = 60.0,
) -> Iterator[S3Server]:
    """Run SeaweedFS (`weed mini`) as an S3 server with random credentials and `buckets`.

    Files go to a new directory in `base_dir` (default: a temporary directory, removed on exit).
    """
    owned = base_dir is None
    base = Path(tempfile.mkdtemp(prefix="occupancy-s3-")) if owned else Path(base_dir)
    base.mkdir(parents=True, exist_ok=True)
    # Sockets get a short directory of their own: a Unix socket path must fit in 107 bytes,
    # which a deep `base_dir` (pytest's tmp_path) might not leave room for.
    sock_dir = Path(tempfile.mkdtemp(prefix="occ-weed-"))
    try:
        server, process, litter = _retry_on_port_clash(
            lambda: _start_s3_once(base, sock_dir, buckets, timeout), "SeaweedFS"
        )
        try:
            yield server
        finally:
            _terminate(process, timeout=_WEED_STOP_TIMEOUT)
            _remove_files(litter)
    finally:
        shutil.rmtree(sock_dir, ignore_errors=True)
        if owned:
            shutil.rmtree(base, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# MLflow tracking server
# --------------------------------------------------------------------------------------------


def _http_ok(url: str, *, data: bytes | None = None, timeout: float = 5.0) -> bool:
    """True if `url` answers 200. Proxies are bypassed: the target is always loopback."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, data=data)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with opener.open(request, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass(frozen=True)
class MlflowServer:
    """A running MLflow tracking server with a PostgreSQL backend and S3 proxied artifacts.

    Clients need only `url`: artifacts go through the server (`--serve-artifacts`), so clients
    need no S3 credentials. `stop()` stops it (idempotent); to start it again on the same port
    use `MlflowLauncher.restart`, or `launch_mlflow(..., port=server.port)`.
    """

    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    postgres: PostgresServer
    s3: S3Server

    def is_running(self) -> bool:
        """True while the server process is alive."""
        return self.process.poll() is None

    def stop(self) -> None:
        """Stop the server and its workers (SIGTERM, then SIGKILL after a grace period)."""
        _terminate(self.process)


def _launch_mlflow_once(
    postgres: PostgresServer,
    s3: S3Server,
    port: int,
    workdir: Path,
    timeout: float,
) -> MlflowServer:
    hosts = f"{LOCALHOST}:{port},localhost:{port},{LOCALHOST},localhost"
    cmd = [
        str(_venv_bin("mlflow")),
        "server",
        "--backend-store-uri",
        postgres.uri,
        "--artifacts-destination",
        f"s3://{MLFLOW_ARTIFACTS_BUCKET}",
        "--serve-artifacts",
        "--host",
        LOCALHOST,
        "--port",
        str(port),
        # One worker is plenty for tests and saves memory per server.
        "--workers",
        "1",
        # MLflow 3's host-header check; listing our host:port explicitly avoids depending on
        # its default "localhost and private IPs" rule.
        "--allowed-hosts",
        hosts,
    ]
    env = _clean_env()
    env.update(
        {
            # Only the server talks to S3; these credentials never reach the clients.
            "MLFLOW_S3_ENDPOINT_URL": s3.endpoint_url,
            "AWS_ACCESS_KEY_ID": s3.access_key,
            "AWS_SECRET_ACCESS_KEY": s3.secret_key,
            "AWS_DEFAULT_REGION": s3.region,
            # MLflow 3 otherwise starts a job runner with about seven huey consumer processes
            # (GenAI scoring, trace archival), each importing mlflow: ~1 GB of memory and a
            # minute of CPU on a 2-core CI machine, which made start-up take over a minute.
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            # No telemetry from test servers.
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
        }
    )
    # One log per start, so a restart's log does not mix with the previous run's.
    fd, name = tempfile.mkstemp(prefix=f"mlflow-{port}-", suffix=".log", dir=workdir)
    os.close(fd)
    log_path = Path(name)
    process = _spawn(cmd, log_path=log_path, env=env, cwd=workdir)
    url = f"http://{LOCALHOST}:{port}"
    search = json.dumps({"max_results": 1}).encode()

    def probe() -> bool:
        # /health answers as soon as uvicorn runs; the search also proves the database works.
        return _http_ok(f"{url}/health") and _http_ok(
            f"{url}/api/2.0/mlflow/experiments/search", data=search
        )

    try:
        _wait_until_ready(probe, what="MLflow", process=process, log_path=log_path, timeout=timeout)
    except ServerStartError as exc:
        _terminate(process)
        if _looks_like_port_clash(log_path):
            raise _PortClashError(str(exc)) from exc
        raise
    except BaseException:
        _terminate(process)
        raise
    return MlflowServer(
        url=url, port=port, process=process, log_path=log_path, postgres=postgres, s3=s3
    )


def launch_mlflow(
    postgres: PostgresServer,
    s3: S3Server,
    *,
    workdir: Path,
    port: int | None = None,
    timeout: float = 180.0,
) -> MlflowServer:
    """Start an MLflow server and wait until it serves requests; the caller must `stop()` it.

    With `port` given the server must get exactly that port (a restart), so a port clash is an
    error; otherwise a fresh port is picked, and picked again if it was taken meanwhile.
    `workdir` holds the logs and is the server's cwd, so nothing lands in the repository.
    The first server on an empty database creates MLflow's schema, later ones reuse it.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    if port is not None:
        return _launch_mlflow_once(postgres, s3, port, workdir, timeout)
    return _retry_on_port_clash(
        lambda: _launch_mlflow_once(postgres, s3, free_port(), workdir, timeout), "MLflow"
    )


class MlflowLauncher:
    """Starts MLflow servers on shared stores and remembers them, so `stop_all` leaves none.

    This is what a test uses to stop MLflow mid-scenario and bring it back:

        server = launcher.start()
        ...
        server.stop()
        ...
        server = launcher.restart(server)   # same port, same database and bucket
    """

    def __init__(
        self, postgres: PostgresServer, s3: S3Server, workdir: Path, *, timeout: float = 180.0
    ) -> None:
        self.postgres = postgres
        self.s3 = s3
        self.workdir = workdir
        self.timeout = timeout
        self._servers: list[MlflowServer] = []

    def start(
        self, *, port: int | None = None, postgres: PostgresServer | None = None
    ) -> MlflowServer:
        """Start a server (on `port` if given; against another database if `postgres` given)."""
        server = launch_mlflow(
            postgres or self.postgres,
            self.s3,
            workdir=self.workdir,
            port=port,
            timeout=self.timeout,
        )
        self._servers.append(server)
        return server

    def restart(self, server: MlflowServer) -> MlflowServer:
        """Stop `server` if it still runs and start a new one on its port and database."""
        server.stop()
        return self.start(port=server.port, postgres=server.postgres)

    def stop_all(self) -> None:
        """Stop every server this launcher started (already stopped ones are skipped)."""
        while self._servers:
            self._servers.pop().stop()


@contextlib.contextmanager
def start_mlflow(
    postgres: PostgresServer,
    s3: S3Server,
    *,
    workdir: Path | None = None,
    timeout: float = 180.0,
) -> Iterator[MlflowServer]:
    """Run an MLflow server for the duration of the `with` block.

    `workdir` (logs, cwd) defaults to a temporary directory removed on exit.
    """
    owned = workdir is None
    directory = Path(tempfile.mkdtemp(prefix="occupancy-mlflow-")) if owned else Path(workdir)
    try:
        server = launch_mlflow(postgres, s3, workdir=directory, timeout=timeout)
        try:
            yield server
        finally:
            server.stop()
    finally:
        if owned:
            shutil.rmtree(directory, ignore_errors=True)
