"""Fixtures that run real PostgreSQL, S3 (SeaweedFS) and MLflow servers for integration tests.

The servers are session-scoped: each starts once per test run (PostgreSQL and S3 take about a
second, MLflow a few more) and is shared by every test, so tests must not depend on a server
being empty. Give each test its own names instead (`s3_bucket`, `s3_prefix`, unique model and
experiment names). A test that has to stop MLflow uses `mlflow_launcher`, never the shared
`mlflow_server`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import (
    MlflowLauncher,
    MlflowServer,
    PostgresServer,
    S3Server,
    create_bucket,
    empty_and_delete_bucket,
    start_mlflow,
    start_postgres,
    start_s3,
)

# Variables through which a client could reach S3 on its own. Removed for tests that act as an
# MLflow client, to prove that artifacts really go through the server's proxy.
_CLIENT_S3_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_PROFILE",
    "MLFLOW_S3_ENDPOINT_URL",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL 15 server with database `mlflow` owned by user `mlflow` (password auth)."""
    with start_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A SeaweedFS S3 server with buckets `occupancy-lake` and `mlflow-artifacts`.

    Only its own random access key and secret are accepted; anything else is rejected.
    """
    with start_s3(tmp_path_factory.mktemp("s3")) as server:
        yield server


@pytest.fixture(scope="session")
def mlflow_server(
    postgres_server: PostgresServer,
    s3_server: S3Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[MlflowServer]:
    """The shared MLflow server (PostgreSQL backend, artifacts proxied to `mlflow-artifacts`).

    Do not stop it in a test: later tests use it. Use `mlflow_launcher` for that.
    """
    with start_mlflow(
        postgres_server, s3_server, workdir=tmp_path_factory.mktemp("mlflow")
    ) as server:
        yield server


@pytest.fixture
def mlflow_launcher(
    postgres_server: PostgresServer,
    s3_server: S3Server,
    tmp_path: Path,
) -> Iterator[MlflowLauncher]:
    """Start MLflow servers of the test's own, which it may stop and restart at will.

    They use the same database and bucket as `mlflow_server` (pass `postgres=` with a database
    from `servers.create_database` for an empty one). All are stopped after the test.
    """
    launcher = MlflowLauncher(postgres_server, s3_server, tmp_path / "mlflow")
    try:
        yield launcher
    finally:
        launcher.stop_all()


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """Point boto3 at `s3_server` through AWS_* variables for the duration of one test."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    # A profile or config file of the developer's must not override what the test sets.
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    return s3_server


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> Iterator[str]:
    """A new, empty bucket that only this test uses; deleted with its contents afterwards."""
    name = f"test-{uuid.uuid4().hex[:16]}"
    client = s3_server.client()
    try:
        create_bucket(client, name)
        yield name
        empty_and_delete_bucket(client, name)
    finally:
        client.close()


@pytest.fixture
def s3_prefix() -> str:
    """A key prefix (`tests/<random>/`) that only this test uses, e.g. in `occupancy-lake`."""
    return f"tests/{uuid.uuid4().hex}/"


@pytest.fixture
def mlflow_client_env(
    mlflow_server: MlflowServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[MlflowServer]:
    """Make this process an MLflow client of `mlflow_server` with no way to reach S3 itself.

    AWS credentials, endpoints and config files are hidden, so anything that works here went
    through the tracking server's artifact proxy, as it must in production.
    """
    import mlflow

    for name in _CLIENT_S3_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    # ~/.aws/credentials would also give boto3 credentials; point it at files that do not exist.
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    # Both are process-global, and the registry URI an earlier Registry set (say, of a server a
    # fault test has stopped) would otherwise still receive this test's registrations.
    mlflow.set_tracking_uri(mlflow_server.url)
    mlflow.set_registry_uri(mlflow_server.url)
    try:
        yield mlflow_server
    finally:
        # Leave no trace for the next test.
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
        mlflow.set_registry_uri(None)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def fitted(real_data_dir: Path) -> tuple:
    """A real pipeline (logreg family) fitted on Newark's train split, and validation rows."""
    import pandas as pd

    from occupancy.data.clean import MODEL_INPUT_COLUMNS, treat_frame
    from occupancy.training.models import FAMILIES

    raw = pd.read_csv(real_data_dir / "newark_2025-09-30_listings.csv.gz", dtype=str)
    table = treat_frame(raw)
    X = table[list(MODEL_INPUT_COLUMNS)]
    train, valid = table["split"] == "train", table["split"] == "valid"
    model = (
        FAMILIES["logreg"].build({"C": 0.1}, 42).fit(X[train], table.loc[train, "occupancy_level"])
    )
    return model, X[valid].reset_index(drop=True)
