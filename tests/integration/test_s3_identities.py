"""The bucket provisioning script and the offline `mc` stand-in, against a real SeaweedFS.

charts/minio/files/provision.sh (the chart's bucket Job, compose's minio-provision) runs with
the stand-in's `mc` (images/offline/seaweedfs/mc.py) as the offline stack runs it: the users and
policies it makes must be enforced by SeaweedFS, per bucket and action, and the product must
name the URI it was refused.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import S3Server, empty_and_delete_bucket

from occupancy.errors import LakeError
from occupancy.lake import Lake

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from s3_identities import (  # noqa: E402
    assert_confined,
    assert_read_only,
    assert_write_only,
    refusal,
    s3_client,
)

pytestmark = pytest.mark.integration
PROVISION = ROOT / "charts" / "minio" / "files" / "provision.sh"
MC = ROOT / "images" / "offline" / "seaweedfs" / "mc.py"


@pytest.fixture
def mc_env(s3_server: S3Server, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The bucket Job's environment, with three fresh buckets and `mc` the offline stand-in."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "mc"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{MC}" "$@"\n')
    shim.chmod(0o755)
    lake, artifacts, predictions = (
        f"{kind}-{uuid.uuid4().hex[:12]}" for kind in ("lake", "artifacts", "predictions")
    )
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "MC_CONFIG_DIR": str(tmp_path / "mc"),
        "TMPDIR": str(tmp_path),
        "MINIO_ENDPOINT": s3_server.endpoint_url,
        "MINIO_ROOT_USER": s3_server.access_key,
        "MINIO_ROOT_PASSWORD": s3_server.secret_key,
        "BUCKETS": f"{lake} {artifacts} {predictions}",
        "LAKE_BUCKET": lake,
        "LAKE_ACCESS_KEY": "lake" + secrets.token_hex(8),
        "LAKE_SECRET_KEY": secrets.token_urlsafe(24),
        "MLFLOW_BUCKET": artifacts,
        "MLFLOW_ACCESS_KEY": "mlflow" + secrets.token_hex(8),
        "MLFLOW_SECRET_KEY": secrets.token_urlsafe(24),
        "PREDICTIONS_BUCKET": predictions,
        "PREDICTIONS_ACCESS_KEY": "predictions" + secrets.token_hex(8),
        "PREDICTIONS_SECRET_KEY": secrets.token_urlsafe(24),
    }
    yield env
    root = s3_server.client()
    for bucket in (lake, artifacts, predictions):
        empty_and_delete_bucket(root, bucket)


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=False)


def _client(server: S3Server, env: dict[str, str], identity: str):  # type: ignore[no-untyped-def]
    return s3_client(
        server.endpoint_url, env[f"{identity}_ACCESS_KEY"], env[f"{identity}_SECRET_KEY"]
    )


def test_provisioned_identities_are_confined_to_their_bucket_and_rerunning_succeeds(
    s3_server: S3Server, mc_env: dict[str, str]
) -> None:
    first = _run(["sh", str(PROVISION)], mc_env)
    assert first.returncode == 0, first.stderr
    again = _run(["sh", str(PROVISION)], mc_env)  # every install and upgrade runs it
    assert again.returncode == 0, again.stderr
    assert "already attached" in again.stdout
    lake, mlflow = _client(s3_server, mc_env, "LAKE"), _client(s3_server, mc_env, "MLFLOW")
    lake_bucket, artifact_bucket = mc_env["LAKE_BUCKET"], mc_env["MLFLOW_BUCKET"]
    mlflow.put_object(Bucket=artifact_bucket, Key="model/MLmodel", Body=b"m")
    lake.put_object(Bucket=lake_bucket, Key="raw/listings.csv", Body=b"id\n1\n")
    assert_confined(lake, own=lake_bucket, other=artifact_bucket, other_key="model/MLmodel")
    assert_confined(mlflow, own=artifact_bucket, other=lake_bucket, other_key="raw/listings.csv")
    # Exactly the actions granted: the product never deletes lake objects; MLflow does.
    assert refusal(lambda: lake.delete_object(Bucket=lake_bucket, Key="raw/listings.csv")) == (
        "AccessDenied"
    )
    assert refusal(lambda: mlflow.delete_object(Bucket=artifact_bucket, Key="model/MLmodel")) == (
        "allowed"
    )


def test_the_api_may_only_write_the_prediction_log_which_the_lake_identity_only_reads(
    s3_server: S3Server, mc_env: dict[str, str]
) -> None:
    assert _run(["sh", str(PROVISION)], mc_env).returncode == 0
    api, lake = _client(s3_server, mc_env, "PREDICTIONS"), _client(s3_server, mc_env, "LAKE")
    mlflow = _client(s3_server, mc_env, "MLFLOW")
    log_bucket, lake_bucket = mc_env["PREDICTIONS_BUCKET"], mc_env["LAKE_BUCKET"]
    key = "predictions/date=2026-12-01/one.parquet"
    api.put_object(Bucket=log_bucket, Key=key, Body=b"logged")
    lake.put_object(Bucket=lake_bucket, Key="raw/listings.csv", Body=b"id\n1\n")
    mlflow.put_object(Bucket=mc_env["MLFLOW_BUCKET"], Key="model/MLmodel", Body=b"m")
    assert_write_only(
        api,
        own=log_bucket,
        own_key=key,
        others={lake_bucket: "raw/listings.csv", mc_env["MLFLOW_BUCKET"]: "model/MLmodel"},
    )
    assert_read_only(lake, bucket=log_bucket, existing_key=key)
    assert lake.get_object(Bucket=log_bucket, Key=key)["Body"].read() == b"logged"
    refused = refusal(lambda: mlflow.list_objects_v2(Bucket=log_bucket))
    assert refused == "AccessDenied"


def test_the_lake_names_the_uri_its_identity_is_refused(
    s3_server: S3Server, mc_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _run(["sh", str(PROVISION)], mc_env).returncode == 0
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", mc_env["LAKE_ACCESS_KEY"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", mc_env["LAKE_SECRET_KEY"])
    artifacts = Lake(f"s3://{mc_env['MLFLOW_BUCKET']}", endpoint_url=s3_server.endpoint_url)
    with pytest.raises(
        LakeError, match=rf"refused the credentials for s3://{mc_env['MLFLOW_BUCKET']}/x"
    ):
        artifacts.write_bytes("x", b"1")
    lake = Lake(f"s3://{mc_env['LAKE_BUCKET']}", endpoint_url=s3_server.endpoint_url)
    lake.write_bytes("runs/r1/data.bin", b"1")
    assert lake.list("runs") == ["runs/r1/data.bin"]


def test_the_stand_in_refuses_what_it_cannot_translate_and_non_admins(
    s3_server: S3Server, mc_env: dict[str, str], tmp_path: Path
) -> None:
    assert _run(["sh", str(PROVISION)], mc_env).returncode == 0  # leaves the `root` alias set
    policy = tmp_path / "wide.json"
    policy.write_text(
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],'
        f'"Resource":["arn:aws:s3:::{mc_env["LAKE_BUCKET"]}/*"]}}]}}'
    )
    wide = _run(["mc", "admin", "policy", "create", "root", "wide", str(policy)], mc_env)
    assert wide.returncode == 2
    assert "statement 1: actions ['s3:*']" in wide.stderr
    again = _run(
        [
            "mc",
            "admin",
            "policy",
            "attach",
            "root",
            "occupancy-lake",
            "--user",
            mc_env["LAKE_ACCESS_KEY"],
        ],
        mc_env,
    )
    assert again.returncode == 1 and "already in effect" in again.stderr  # as MinIO's mc
    alias = ["mc", "alias", "set", "lakeonly", s3_server.endpoint_url]
    assert (
        _run([*alias, mc_env["LAKE_ACCESS_KEY"], mc_env["LAKE_SECRET_KEY"]], mc_env).returncode == 0
    )
    denied = _run(
        ["mc", "admin", "user", "add", "lakeonly", "intruder1", "intruder-secret"], mc_env
    )
    assert denied.returncode == 1 and "AccessDenied" in denied.stderr
    # Nor widen its own reach: take the mlflow identity's policy, or reset that identity's key.
    lake_user, mlflow_user = mc_env["LAKE_ACCESS_KEY"], mc_env["MLFLOW_ACCESS_KEY"]
    escalations = {
        "attach": ["policy", "attach", "lakeonly", "occupancy-mlflow", "--user", lake_user],
        "rekey": ["user", "add", "lakeonly", mlflow_user, "taken-over-secret"],
    }
    for name, command in escalations.items():
        refused = _run(["mc", "admin", *command], mc_env)
        assert refused.returncode == 1 and "AccessDenied" in refused.stderr, (name, refused)
    lake, mlflow = _client(s3_server, mc_env, "LAKE"), _client(s3_server, mc_env, "MLFLOW")
    assert refusal(lambda: lake.list_objects_v2(Bucket=mc_env["MLFLOW_BUCKET"])) == "AccessDenied"
    assert refusal(lambda: mlflow.list_objects_v2(Bucket=mc_env["MLFLOW_BUCKET"])) == "allowed"
