"""Start real PostgreSQL, S3 (SeaweedFS) and MLflow servers as subprocesses for integration tests.

Each server has a context manager (`start_postgres`, `start_s3`, `start_mlflow`) that yields a
small frozen dataclass holding what a client needs, and stops the server on exit. For MLflow,
`MlflowLauncher` (and the lower-level `launch_mlflow`) return running servers that the caller
stops itself: tests use them to stop MLflow in the middle of a scenario and to start it again on
the same port.

    process.py    ports, spawning in a process group, readiness polling, logs, stopping
    postgres.py   PostgreSQL 15 cluster with an application user and database
    s3.py         SeaweedFS S3 with random credentials and buckets
    mlflow.py     MLflow tracking server on PostgreSQL with artifacts proxied to S3

Every server listens on 127.0.0.1 on ports picked at run time, and keeps its files in its own
temporary directory, so parallel test runs on one machine do not collide. Every start-up failure
raises `ServerStartError` with the tail of the server's log, because a bare "timed out" is
useless when a CI run fails on a machine nobody can log into.

Tests import from here (`from servers import …`); the conftest of tests/integration puts this
package's parent directory on sys.path (pytest's default rootdir-relative import).
"""

from __future__ import annotations

from .mlflow import MlflowLauncher, MlflowServer, start_mlflow
from .postgres import PostgresServer, create_database, start_postgres
from .process import free_port
from .s3 import S3Server, create_bucket, empty_and_delete_bucket, start_s3

__all__ = [
    "MlflowLauncher",
    "MlflowServer",
    "PostgresServer",
    "S3Server",
    "create_bucket",
    "create_database",
    "empty_and_delete_bucket",
    "free_port",
    "start_mlflow",
    "start_postgres",
    "start_s3",
]
