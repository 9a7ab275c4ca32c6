"""A throw-away PostgreSQL 15 cluster (Debian's server binaries) with an application database."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .process import (
    LOCALHOST,
    PortClashError,
    ServerStartError,
    clean_env,
    free_port,
    log_tail,
    looks_like_port_clash,
    retry_on_port_clash,
    run_logged,
    wait_until_ready,
)

PG_BIN_DIR = Path(os.environ.get("OCCUPANCY_PG_BIN_DIR", "/usr/lib/postgresql/15/bin"))
"""Where initdb, pg_ctl and postgres live (Debian's postgresql-15 package)."""


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


def _pg_stop(data_dir: Path, *, os_user: str | None, base: Path, env: Mapping[str, str]) -> None:
    """Stop PostgreSQL with a fast shutdown; kill the postmaster if pg_ctl cannot."""
    if not (data_dir / "postmaster.pid").exists():
        return
    cmd = [str(PG_BIN_DIR / "pg_ctl"), "stop", "-D", str(data_dir), "-m", "fast", "-w", "-t", "30"]
    with contextlib.suppress(ServerStartError, subprocess.TimeoutExpired):
        run_logged(
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
        run_logged(
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
        run_logged(
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
        error_type = PortClashError if looks_like_port_clash(server_log) else ServerStartError
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

        wait_until_ready(
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
    env = clean_env(drop_prefixes=("AWS_", "MLFLOW_", "PG"))
    base = Path(tempfile.mkdtemp(prefix="occupancy-pg-", dir="/tmp" if os_user else None))
    try:
        base.chmod(0o755)
        if os_user is not None:
            shutil.chown(base, user=os_user)

        def attempt() -> PostgresServer:
            return _start_postgres_once(base, os_user, env, timeout)

        server = retry_on_port_clash(attempt, "PostgreSQL")
        try:
            yield server
        finally:
            _pg_stop(server.data_dir, os_user=os_user, base=base, env=env)
    finally:
        shutil.rmtree(base, ignore_errors=True)
