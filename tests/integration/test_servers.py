"""Smoke tests proving that each server fixture gives a real, working, correctly secured server."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import uuid

import boto3
import psycopg
import pytest
from botocore.exceptions import ClientError
from servers import MlflowLauncher, MlflowServer, PostgresServer, S3Server, create_database

pytestmark = pytest.mark.integration

_REJECTED_CREDENTIALS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied"}


def _health(url: str) -> bool:
    """True if the MLflow server at `url` answers /health (no proxy: it is on loopback)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{url}/health", timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _experiment_names(url: str) -> set[str]:
    """Names of the experiments an MLflow server lists, straight from its REST API."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(
        f"{url}/api/2.0/mlflow/experiments/search",
        data=json.dumps({"max_results": 1000}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with opener.open(request, timeout=10) as response:
        body = json.load(response)
    return {experiment["name"] for experiment in body.get("experiments", [])}


# ----------------------------------------------------------------------------- PostgreSQL


def test_postgres_accepts_the_application_user(postgres_server: PostgresServer) -> None:
    with psycopg.connect(postgres_server.uri) as conn:
        row = conn.execute("SELECT current_user, current_database(), version()").fetchone()
    assert row is not None
    assert row[0] == postgres_server.user == "mlflow"
    assert row[1] == postgres_server.database == "mlflow"
    assert "PostgreSQL 15" in row[2]


def test_postgres_rejects_a_wrong_password(postgres_server: PostgresServer) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            host=postgres_server.host,
            port=postgres_server.port,
            user=postgres_server.user,
            password="not-the-password",
            dbname=postgres_server.database,
        )


def test_postgres_can_create_a_separate_database(postgres_server: PostgresServer) -> None:
    name = f"test_{uuid.uuid4().hex[:12]}"
    other = create_database(postgres_server, name)
    with psycopg.connect(other.conninfo) as conn:
        row = conn.execute("SELECT current_database()").fetchone()
    assert row == (name,)


# ----------------------------------------------------------------------------- S3


def test_s3_has_the_project_buckets(s3_server: S3Server) -> None:
    client = s3_server.client()
    try:
        names = {bucket["Name"] for bucket in client.list_buckets()["Buckets"]}
    finally:
        client.close()
    assert {"occupancy-lake", "mlflow-artifacts"} <= names


def test_s3_round_trips_an_object(s3_server: S3Server, s3_bucket: str) -> None:
    client = s3_server.client()
    try:
        client.put_object(Bucket=s3_bucket, Key="a/b.txt", Body=b"hello")
        body = client.get_object(Bucket=s3_bucket, Key="a/b.txt")["Body"].read()
    finally:
        client.close()
    assert body == b"hello"


@pytest.mark.parametrize(
    ("access_key", "secret_key"),
    [
        pytest.param(None, "wrong-secret", id="wrong-secret"),
        pytest.param("unknown-key", None, id="unknown-access-key"),
    ],
)
def test_s3_rejects_wrong_credentials(
    s3_server: S3Server, access_key: str | None, secret_key: str | None
) -> None:
    client = s3_server.client(access_key=access_key, secret_key=secret_key)
    try:
        with pytest.raises(ClientError) as excinfo:
            client.get_object(Bucket="occupancy-lake", Key="anything")
        with pytest.raises(ClientError) as put_excinfo:
            client.put_object(Bucket="occupancy-lake", Key="anything", Body=b"x")
    finally:
        client.close()
    assert excinfo.value.response["Error"]["Code"] in _REJECTED_CREDENTIALS
    assert put_excinfo.value.response["Error"]["Code"] in _REJECTED_CREDENTIALS


def test_s3_env_configures_a_plain_boto3_client(s3_env: S3Server, s3_prefix: str) -> None:
    assert os.environ["AWS_ENDPOINT_URL"] == s3_env.endpoint_url
    # No arguments: endpoint, keys and region all come from the environment.
    client = boto3.client("s3")
    try:
        key = f"{s3_prefix}x.txt"
        client.put_object(Bucket="occupancy-lake", Key=key, Body=b"x")
        listed = client.list_objects_v2(Bucket="occupancy-lake", Prefix=s3_prefix)
        client.delete_object(Bucket="occupancy-lake", Key=key)
    finally:
        client.close()
    assert [obj["Key"] for obj in listed["Contents"]] == [key]


# ----------------------------------------------------------------------------- MLflow


@pytest.mark.slow
def test_mlflow_client_without_s3_credentials_logs_registers_and_loads_a_model(
    mlflow_client_env: MlflowServer,
    s3_server: S3Server,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import mlflow
    import mlflow.sklearn
    import numpy as np
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    assert not any(name.startswith("AWS_ACCESS") for name in os.environ)
    # MLflow 3.17 refuses to unpickle models unless told to; these are our own test models.
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")

    features = np.array([[0.0], [1.0], [2.0], [3.0]])
    model = LogisticRegression().fit(features, np.array([0, 0, 1, 1]))
    client = MlflowClient(mlflow_client_env.url)
    suffix = uuid.uuid4().hex[:8]
    experiment_id = client.create_experiment(f"smoke-{suffix}")
    model_name = f"smoke-{suffix}"

    with mlflow.start_run(experiment_id=experiment_id) as run:
        info = mlflow.sklearn.log_model(
            model,
            name="m",
            registered_model_name=model_name,
            # Explicit requirements skip MLflow's inference, which re-imports the model in a
            # subprocess and costs tens of seconds on a small machine.
            pip_requirements=["scikit-learn"],
        )
    assert info.registered_model_version is not None
    client.set_registered_model_alias(model_name, "champion", str(info.registered_model_version))

    loaded = mlflow.sklearn.load_model(f"models:/{model_name}@champion")
    assert loaded.predict(features).tolist() == model.predict(features).tolist()

    # The artifacts really are in the server's S3 bucket (read with the server's credentials).
    s3 = s3_server.client()
    try:
        keys = [
            obj["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket="mlflow-artifacts")
            for obj in page.get("Contents", [])
        ]
    finally:
        s3.close()
    assert any(key.endswith("MLmodel") for key in keys), keys
    assert run.info.run_id


@pytest.mark.slow
def test_mlflow_launcher_stops_and_restarts_on_the_same_port(
    mlflow_launcher: MlflowLauncher,
) -> None:
    server = mlflow_launcher.start()
    assert _health(server.url)
    name = f"restart-{uuid.uuid4().hex[:8]}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(
        f"{server.url}/api/2.0/mlflow/experiments/create",
        data=json.dumps({"name": name}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with opener.open(request, timeout=10) as response:
        assert response.status == 200

    server.stop()
    assert not server.is_running()
    assert not _health(server.url)

    restarted = mlflow_launcher.restart(server)
    assert restarted.url == server.url
    assert _health(restarted.url)
    # Same PostgreSQL backend, so what was created before the stop is still there.
    assert name in _experiment_names(restarted.url)
