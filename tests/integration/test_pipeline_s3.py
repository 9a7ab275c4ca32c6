"""The step CLI as pods run it: S3 lake (SeaweedFS), MLflow server on PostgreSQL, plus S3/MLflow faults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pandas as pd
import pytest
from servers import MlflowServer, S3Server, free_port

pytestmark = pytest.mark.integration

OCCUPANCY = str(Path(sys.executable).with_name("occupancy"))


def step_env(
    s3: S3Server, mlflow_url: str, lake: str, home: Path, **overrides: str
) -> dict[str, str]:
    """The environment a step pod gets: lake and S3 settings, tracking URI, nothing else of ours."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLFLOW_", "OCCUPANCY_"))
    }
    env.update(s3.env())
    env.update(
        {
            "OCCUPANCY_LAKE_URI": lake,
            "OCCUPANCY_HOME": str(home),
            "MLFLOW_TRACKING_URI": mlflow_url,
            "OCCUPANCY_MODEL_NAME": f"occupancy-test-{uuid.uuid4().hex[:8]}",
            "OCCUPANCY_EXPERIMENT_NAME": f"occupancy-test-{uuid.uuid4().hex[:8]}",
        }
    )
    env.update(overrides)
    return env


def occupancy(
    env: dict[str, str], *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [OCCUPANCY, *args], env=env, capture_output=True, text=True, timeout=900, check=False
    )
    if check and result.returncode != 0:
        pytest.fail(f"occupancy {' '.join(args)} failed:\n{result.stderr[-4000:]}")
    return result


def summary(result: subprocess.CompletedProcess[str]) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def s3_lake(s3_server: S3Server, real_data_dir: Path) -> str:
    """A fresh lake prefix in `occupancy-lake` with Newark uploaded as the default raw file."""
    lake = f"s3://occupancy-lake/it-{uuid.uuid4().hex[:8]}"
    key = f"{lake.removeprefix('s3://occupancy-lake/')}/raw/listings_big.csv"
    s3_server.client().upload_file(
        str(real_data_dir / "newark_2025-09-30_listings.csv.gz"), "occupancy-lake", key
    )
    return lake


def test_steps_run_on_s3_and_the_mlflow_server(
    s3_server, mlflow_server: MlflowServer, s3_lake, tmp_path, real_data_dir
) -> None:
    env = step_env(s3_server, mlflow_server.url, s3_lake, tmp_path)
    ingest = summary(occupancy(env, "step", "ingest", "--run-id", "s3-1"))
    assert ingest["rows_valid"] == 1872
    assert ingest["snapshot"] == f"{s3_lake}/runs/s3-1/ingest/{ingest['writer']}/listings.parquet"
    treat = summary(occupancy(env, "step", "treat", "--run-id", "s3-1"))
    assert treat["data"].startswith(s3_lake)
    for family in ("logreg", "hgb"):
        assert (
            summary(occupancy(env, "step", "train", "--run-id", "s3-1", "--model", family))[
                "family"
            ]
            == family
        )
    decision = summary(occupancy(env, "step", "promote", "--run-id", "s3-1"))
    assert decision["decision"] == "promoted"
    assert decision["version"] == "1"

    again = summary(occupancy(env, "step", "promote", "--run-id", "s3-1"))
    assert again["reused"]
    assert again["version"] == "1"

    client = s3_server.client()
    lake_prefix = s3_lake.removeprefix("s3://occupancy-lake/")
    keys = {
        o["Key"]
        for o in client.list_objects_v2(Bucket="occupancy-lake", Prefix=lake_prefix)["Contents"]
    }
    assert f"{lake_prefix}/processed/latest.json" in keys
    assert client.list_objects_v2(Bucket="mlflow-artifacts")["KeyCount"] > 0

    # Scoring needs no S3 credentials: the model comes through the MLflow server's artifact proxy.
    scoring_env = {k: v for k, v in env.items() if not k.startswith("AWS_")}
    out = tmp_path / "antwerp.csv"
    occupancy(
        scoring_env,
        "predict",
        "--input",
        str(real_data_dir / "antwerp_2024-06-29_listings.csv.gz"),
        "--output",
        str(out),
    )
    assert len(pd.read_csv(out)) == 2870


def test_unreachable_s3_endpoint_fails_in_one_sentence(
    s3_server, mlflow_server, s3_lake, tmp_path
) -> None:
    port = free_port()
    env = step_env(
        s3_server, mlflow_server.url, s3_lake, tmp_path, AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}"
    )
    result = occupancy(env, "step", "ingest", "--run-id", "x1", check=False)
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(f"error: cannot reach S3 at http://127.0.0.1:{port}")
    )
    assert "Traceback" not in result.stderr


def test_wrong_s3_credentials_fail_in_one_sentence(
    s3_server, mlflow_server, s3_lake, tmp_path
) -> None:
    env = step_env(
        s3_server, mlflow_server.url, s3_lake, tmp_path, AWS_SECRET_ACCESS_KEY="not-the-secret"
    )
    result = occupancy(env, "step", "ingest", "--run-id", "x1", check=False)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "refused the credentials" in last
    assert "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in last


def test_missing_bucket_is_named(s3_server, mlflow_server, tmp_path) -> None:
    env = step_env(s3_server, mlflow_server.url, "s3://no-such-bucket-here/x", tmp_path)
    result = occupancy(
        env,
        "step",
        "ingest",
        "--run-id",
        "x1",
        "--raw",
        "s3://no-such-bucket-here/raw.csv",
        check=False,
    )
    assert result.returncode == 1
    assert "bucket 'no-such-bucket-here' does not exist" in result.stderr


def test_unreachable_mlflow_fails_the_train_step_in_one_sentence(
    s3_server, mlflow_server, s3_lake, tmp_path
) -> None:
    env = step_env(s3_server, mlflow_server.url, s3_lake, tmp_path)
    occupancy(env, "step", "ingest", "--run-id", "m1")
    occupancy(env, "step", "treat", "--run-id", "m1")
    down = f"http://127.0.0.1:{free_port()}"
    result = occupancy(
        {**env, "MLFLOW_TRACKING_URI": down},
        "step",
        "train",
        "--run-id",
        "m1",
        "--model",
        "logreg",
        check=False,
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip().splitlines()[-1].startswith(f"error: cannot reach MLflow at {down}")
    )
