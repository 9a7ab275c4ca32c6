"""MLflow tracking servers on the test PostgreSQL, with artifacts proxied to the test S3."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .postgres import PostgresServer
from .process import (
    LOCALHOST,
    PortClashError,
    ServerStartError,
    clean_env,
    free_port,
    looks_like_port_clash,
    retry_on_port_clash,
    spawn,
    terminate,
    venv_bin,
    wait_until_ready,
)
from .s3 import S3Server

MLFLOW_ARTIFACTS_BUCKET = "mlflow-artifacts"


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
        terminate(self.process)


def _launch_mlflow_once(
    postgres: PostgresServer,
    s3: S3Server,
    port: int,
    workdir: Path,
    timeout: float,
) -> MlflowServer:
    hosts = f"{LOCALHOST}:{port},localhost:{port},{LOCALHOST},localhost"
    cmd = [
        str(venv_bin("mlflow")),
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
    env = clean_env()
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
    process = spawn(cmd, log_path=log_path, env=env, cwd=workdir)
    url = f"http://{LOCALHOST}:{port}"
    search = json.dumps({"max_results": 1}).encode()

    def probe() -> bool:
        # /health answers as soon as uvicorn runs; the search also proves the database works.
        return _http_ok(f"{url}/health") and _http_ok(
            f"{url}/api/2.0/mlflow/experiments/search", data=search
        )

    try:
        wait_until_ready(probe, what="MLflow", process=process, log_path=log_path, timeout=timeout)
    except ServerStartError as exc:
        terminate(process)
        if looks_like_port_clash(log_path):
            raise PortClashError(str(exc)) from exc
        raise
    except BaseException:
        terminate(process)
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
    return retry_on_port_clash(
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
