"""`make e2e`: the compose stack built and run on this machine, driven like a user would.

Airflow's REST API triggers data_treatment_dag; the Asset it emits schedules train_pipeline_dag;
MLflow must then hold a @champion and the API must answer a real listing with it. The monitoring
loop then runs once: the API logs a shifted scrape it scored, monitoring_dag finds the drift and
its Asset retrains. Finally the pod the DAG factory renders for the training steps is replayed on
Docker against the stack.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from airflow_rest import AIRFLOW, finished, login, newest_run, task_instances, trigger
from pod_replay import render_step_pods
from s3_identities import assert_confined, assert_read_only, assert_write_only, s3_client
from stack import ROOT, SETTINGS, Stack, http_json, log, wait_for

sys.path.insert(0, str(ROOT / "tests" / "replay"))
from engine import Cluster, Node
from manifests import Release
from step_pods import run_step_pod
from substitutions import NODE_CPU_MILLIS, NODE_MEMORY_BYTES

pytestmark = pytest.mark.e2e

MLFLOW = "http://127.0.0.1:5000"
API = "http://127.0.0.1:8000"
S3 = "http://127.0.0.1:9000"
MODEL = "airbnb-occupancy-classifier"


def test_rest_triggered_pipeline_ends_with_a_champion(stack: Stack, pipeline) -> None:
    status, body = http_json(
        f"{MLFLOW}/api/2.0/mlflow/registered-models/alias?name={MODEL}&alias=champion"
    )
    assert status == 200, body
    version = body["model_version"]
    tags = {t["key"]: t["value"] for t in version.get("tags", [])}
    # The pipeline run id travelled from the treatment run through the Asset event into MLflow.
    assert tags["occupancy.run_id"] == pipeline["treatment"]
    assert float(tags["test_f1_macro"]) > 0.25
    # Registered by the local step runner in the Airflow image: the commit it was built from.
    assert tags["git_sha"] == stack.git_sha != "unknown"


def test_the_api_answers_a_real_listing_with_the_champion(pipeline, newark_listing) -> None:
    wait_for(
        "the API to load the champion", lambda: http_json(f"{API}/health/ready")[0] == 200, 180, 3
    )
    listing = newark_listing
    status, body = http_json(f"{API}/predict", method="POST", body={"listings": [listing]})
    assert status == 200, body
    assert body["model"]["name"] == MODEL
    (prediction,) = body["predictions"]
    assert prediction["id"] == listing["id"]
    assert prediction["occupancy_level"] in ("zero", "low", "mid", "high")
    assert abs(sum(prediction["probabilities"].values()) - 1.0) < 1e-6


def _page(path: str, data: bytes | None = None, content_type: str = "") -> tuple[int, str]:
    request = urllib.request.Request(f"{API}{path}", data=data, method="POST" if data else "GET")
    if content_type:
        request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read().decode()


def test_the_prediction_page_answers_explains_and_scores_an_upload(
    pipeline, real_data_dir: Path
) -> None:
    wait_for(
        "the API to load the champion", lambda: http_json(f"{API}/health/ready")[0] == 200, 180, 3
    )
    status, page = _page("/")
    assert status == 200 and 'id="listing-form"' in page and f">{MODEL}<" in page
    status, answer = _page("/", b"price=120&accommodates=2", "application/x-www-form-urlencoded")
    assert status == 200 and 'id="answer"' in answer
    assert 'class="effect"' in answer and answer.count('class="point"') == 44  # 4 levels x 11

    # A batch upload: 20 real listings through the container's read-only root and its /tmp.
    rows = pd.read_csv(
        real_data_dir / "newark_2025-09-30_listings.csv.gz", dtype=str, keep_default_na=False
    ).head(20)
    boundary = secrets.token_hex(16)
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="twenty.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + rows.to_csv(index=False).encode()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    status, scored = _page("/batch", body, f"multipart/form-data; boundary={boundary}")
    assert status == 200 and "twenty.csv: 20 scored, 0 refused" in scored
    assert scored.count('class="result ok"') == 20 and 'download="twenty-predictions.csv"' in scored


LAKE_BUCKET, LOG_BUCKET = "occupancy-lake", "occupancy-predictions"
NEXT_SCRAPE = "raw/next_scrape.csv"


def _metric(text: str, name: str) -> float:
    """The value of one sample of the API's /metrics (0 when it is not there)."""
    found = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def _api_metrics() -> str:
    with urllib.request.urlopen(f"{API}/metrics", timeout=10) as response:
        return response.read().decode()


def _xcom(dag_id: str, run_id: str, task_id: str, token: dict[str, str]) -> Any:
    status, body = http_json(
        f"{AIRFLOW}/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
        "/xcomEntries/return_value",
        headers=token,
    )
    assert status == 200, body
    return body["value"]


def _next_run(dag_id: str, after: str, token: dict[str, str]) -> str | None:
    newest = newest_run(dag_id, token)
    return newest["dag_run_id"] if newest and newest["dag_run_id"] != after else None


def test_the_monitoring_loop_runs_once_end_to_end(
    stack: Stack, pipeline, token: dict[str, str], tmp_path: Path
) -> None:
    """The API logs a scrape with prices x 1.5 through its own S3 identity; monitoring_dag, given
    the newer scrape, measures the drift and the live performance, reports, and emits
    occupancy_retraining_needed; the Asset schedules treatment and training on that scrape."""
    from occupancy.demo_loop import shifted_scrape

    wait_for(
        "the API to load the champion", lambda: http_json(f"{API}/health/ready")[0] == 200, 180, 3
    )
    lake = s3_client(S3, stack.secrets["LAKE_ACCESS_KEY"], stack.secrets["LAKE_SECRET_KEY"])
    raw = tmp_path / "listings_big.csv"
    lake.download_file(LAKE_BUCKET, "raw/listings_big.csv", str(raw))
    shifted = shifted_scrape(str(raw), tmp_path / "next_scrape.csv")
    frame = pd.read_csv(shifted, dtype=str, keep_default_na=False)
    listings = [{k: v for k, v in row.items() if v != ""} for row in frame.to_dict("records")]
    written = 'occupancy_prediction_log_records_total{outcome="written"}'
    before = _metric(_api_metrics(), written)
    champion = ""
    for start in range(0, len(listings), 1000):
        status, body = http_json(
            f"{API}/predict", method="POST", body={"listings": listings[start : start + 1000]},
            timeout=60,
        )  # fmt: skip
        assert status == 200, body
        champion = body["model"]["version"]
    wait_for(
        "the API's prediction log to write every scored listing",
        lambda: _metric(_api_metrics(), written) >= before + len(listings),
        120,
        2,
    )
    dropped = [line for line in _api_metrics().splitlines() if 'outcome="dropped' in line]
    assert all(line.endswith(" 0.0") for line in dropped), dropped
    logged = lake.list_objects_v2(Bucket=LOG_BUCKET, Prefix="predictions/date=")["Contents"]
    assert logged, "nothing in the prediction log's bucket"
    lake.upload_file(str(shifted), LAKE_BUCKET, NEXT_SCRAPE)

    # monitoring_dag on demand, over today's log, with the newer scrape as the truth.
    next_uri = f"s3://{LAKE_BUCKET}/{NEXT_SCRAPE}"
    monitoring = "e2e-monitoring-1"
    status, run = trigger(
        "monitoring_dag", token, {"raw_uri": next_uri, "days": 1, "monitoring_run_id": monitoring}
    )
    assert status == 200, run
    state = wait_for(
        "monitoring_dag to finish",
        lambda: finished("monitoring_dag", run["dag_run_id"], token),
        600,
        5,
    )
    tasks = {
        t["task_id"]: t["state"] for t in task_instances("monitoring_dag", run["dag_run_id"], token)
    }
    assert state == "success" and tasks["request_retraining"] == "success", tasks

    def measured(name: str) -> Any:
        key = f"monitoring/runs/{monitoring}/{name}"
        return lake.get_object(Bucket=LAKE_BUCKET, Key=key)["Body"].read()

    summary, performance = (json.loads(measured(f)) for f in ("summary.json", "performance.json"))
    assert summary["retrain"] is True and summary["model_version"] == str(champion), summary
    assert any("price" in reason for reason in summary["reasons"]), summary["reasons"]
    assert summary["window_rows"] >= len(listings)
    # Live performance: every listing of the newer scrape was predicted, so each with a known
    # level matches.
    assert performance["matched"] == performance["truth_listings"] > 200, performance
    assert summary["live_macro_f1"] == pytest.approx(performance["macro_f1"], abs=1e-4)
    assert b"<svg" in measured("report.html")

    # The Asset event schedules the treatment DAG on the newer scrape, and training follows.
    treatment = wait_for(
        "occupancy_retraining_needed to schedule data_treatment_dag",
        lambda: _next_run("data_treatment_dag", pipeline["treatment"], token),
        300,
        5,
    )
    state = wait_for(
        "the retraining treatment run to finish",
        lambda: finished("data_treatment_dag", treatment, token),
        900,
        5,
    )
    assert state == "success", f"data_treatment_dag {treatment} ended {state}"
    assert _xcom("data_treatment_dag", treatment, "raw_uris", token) == [next_uri]
    training = wait_for(
        "the treatment's Asset to schedule train_pipeline_dag",
        lambda: _next_run("train_pipeline_dag", pipeline["training"], token),
        300,
        5,
    )
    state = wait_for(
        "the retraining run to finish",
        lambda: finished("train_pipeline_dag", training, token),
        1500,
        5,
    )
    assert state == "success", f"train_pipeline_dag {training} ended {state}"
    # The gate decided: a new champion trained on the newer scrape, or the old one kept.
    status, body = http_json(
        f"{MLFLOW}/api/2.0/mlflow/registered-models/alias?name={MODEL}&alias=champion"
    )
    assert status == 200, body
    tags = {t["key"]: t["value"] for t in body["model_version"].get("tags", [])}
    assert tags["occupancy.run_id"] in (treatment, pipeline["treatment"]), tags
    log(
        f"monitoring loop: {len(listings)} listings logged, reasons {summary['reasons']}, "
        f"retraining {treatment} → champion v{body['model_version']['version']}"
    )


def test_airflow_refuses_a_wrong_password(token) -> None:
    status, body = login("airflow", "not-the-password")
    assert status == 401, body
    status, body = login("nobody", "not-the-password")
    assert status == 401, body


def test_a_viewer_reads_dags_but_cannot_trigger_them(stack: Stack, pipeline) -> None:
    """A user made as the README says, with FAB's Viewer role: read yes, trigger 403."""
    password = secrets.token_urlsafe(12)
    stack.compose(
        "exec", "-T", "airflow-apiserver", "airflow", "users", "create", "--role", "Viewer",
        "--username", "viewer", "--firstname", "View", "--lastname", "Only",
        "--email", "viewer@occupancy.invalid", "--password", password,
    )  # fmt: skip
    status, body = login("viewer", password)
    assert status == 201, body
    viewer = {"Authorization": f"Bearer {body['access_token']}"}
    status, body = http_json(f"{AIRFLOW}/api/v2/dags/data_treatment_dag", headers=viewer)
    assert status == 200 and body["dag_id"] == "data_treatment_dag", body
    status, body = trigger("data_treatment_dag", viewer)
    assert status == 403, body


def test_rerunning_airflow_init_keeps_the_admin_and_takes_a_changed_password(
    stack: Stack, pipeline
) -> None:
    """What `docker compose up` after editing AIRFLOW_ADMIN_PASSWORD in .env does."""
    old, new = stack.secrets["AIRFLOW_ADMIN_PASSWORD"], secrets.token_urlsafe(12)
    stack.compose("run", "--rm", "-e", f"AIRFLOW_ADMIN_PASSWORD={new}", "airflow-init")
    status, body = login("airflow", new)
    assert status == 201, body
    status, body = login("airflow", old)
    assert status == 401, body
    # Back to the .env value, by the same idempotent command.
    stack.compose("run", "--rm", "airflow-init")
    assert login("airflow", old)[0] == 201


def test_rendered_step_pods_replay_on_docker_against_the_stack(
    stack: Stack, pipeline, tmp_path: Path
) -> None:
    """ingest, treat, combine and one training pod of a new run, as KubernetesPodOperator renders
    them, run by the chart replay's engine (same refusal rule) on the stack's network."""
    kube_env = {
        "OCCUPANCY_STEP_RUNNER": "kubernetes",
        "OCCUPANCY_STEP_IMAGE": "occupancy-app:dev",
        "OCCUPANCY_STEP_CONFIGMAP": "occupancy-step-env",
        "OCCUPANCY_STEP_SECRET": "occupancy-step-secrets",
        "OCCUPANCY_MODEL_FAMILIES": "logreg",
    }
    # What the chart's step ConfigMap and Secret hold, with the compose stack's values.
    configmaps = {
        "occupancy-step-env": {
            "OCCUPANCY_LAKE_URI": "s3://occupancy-lake",
            "OCCUPANCY_RAW_URI": "s3://occupancy-lake/raw/listings_big.csv",
            "MLFLOW_TRACKING_URI": "http://mlflow:5000",
            "AWS_ENDPOINT_URL": "http://minio:9000",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    }
    secrets = {  # the lake identity, as the chart's step pods get it
        "occupancy-step-secrets": {
            "AWS_ACCESS_KEY_ID": stack.secrets["LAKE_ACCESS_KEY"],
            "AWS_SECRET_ACCESS_KEY": stack.secrets["LAKE_SECRET_KEY"],
        }
    }
    run_id = "pod-replay-1"
    release = Release("occupancy", [], [], configmaps, secrets, {}, [])
    replay = Cluster(
        release,
        workdir=tmp_path / "pods",
        node=Node(NODE_CPU_MILLIS, NODE_MEMORY_BYTES),
        network=stack.network,
    )
    replay.create()
    try:
        values = {"--run-id": run_id, "--raw": "", "--source": "newark", "--sources": "newark"}
        for dag_id, task_id in (
            ("data_treatment_dag", "ingest"),
            ("data_treatment_dag", "treat"),
            ("data_treatment_dag", "combine"),
            ("train_pipeline_dag", "train"),
        ):
            (pod,) = render_step_pods(dag_id, task_id, kube_env)
            log(f"replaying the {task_id} pod {pod['metadata']['name']}")
            _, summary = run_step_pod(replay, pod, values)
            assert summary["step"] == task_id and summary["run_id"] == run_id
    finally:
        replay.delete()
    assert summary["family"] == "logreg" and summary["val_f1_macro"] > 0.2
    # The step image's OCCUPANCY_GIT_SHA reached the pod (the pod's env does not override it).
    assert _run_tags(summary["mlflow_run_id"])["git_sha"] == stack.git_sha


def _run_tags(run_id: str) -> dict[str, str]:
    status, body = http_json(f"{MLFLOW}/api/2.0/mlflow/runs/get?run_id={run_id}")
    assert status == 200, body
    return {t["key"]: t["value"] for t in body["run"]["data"].get("tags", [])}


def test_each_s3_identity_works_in_its_bucket_and_is_refused_outside(
    stack: Stack, pipeline
) -> None:
    """After a whole pipeline ran on them: the lake key (seed, steps) and the mlflow key (the
    tracking server) each reach one bucket, as minio-provision's policies say; the predictions
    key (the API) only puts into the prediction log's bucket, which the lake key reads."""
    lake = s3_client(S3, stack.secrets["LAKE_ACCESS_KEY"], stack.secrets["LAKE_SECRET_KEY"])
    mlflow = s3_client(S3, stack.secrets["MLFLOW_ACCESS_KEY"], stack.secrets["MLFLOW_SECRET_KEY"])
    artifacts = mlflow.list_objects_v2(Bucket="mlflow-artifacts")["Contents"]
    assert artifacts, "the pipeline logged no artifact through MLflow's proxy"
    raw = "raw/listings_big.csv"
    assert lake.head_object(Bucket="occupancy-lake", Key=raw)["ContentLength"] > 0  # seed's upload
    assert_confined(
        lake, own="occupancy-lake", other="mlflow-artifacts", other_key=artifacts[0]["Key"]
    )
    assert_confined(mlflow, own="mlflow-artifacts", other="occupancy-lake", other_key=raw)
    api = s3_client(
        S3, stack.secrets["PREDICTIONS_ACCESS_KEY"], stack.secrets["PREDICTIONS_SECRET_KEY"]
    )
    key = f"predictions/identity-probe/{secrets.token_hex(8)}.parquet"
    api.put_object(Bucket=LOG_BUCKET, Key=key, Body=b"probe")
    others = {"occupancy-lake": raw, "mlflow-artifacts": artifacts[0]["Key"]}
    assert_write_only(api, own=LOG_BUCKET, own_key=key, others=others)
    assert_read_only(lake, bucket=LOG_BUCKET, existing_key=key)


def test_the_product_names_the_uri_its_identity_is_refused(
    stack: Stack, pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    from occupancy.errors import LakeError
    from occupancy.lake import Lake

    # boto3 resolves the keys from the environment, as in the containers.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", stack.secrets["LAKE_ACCESS_KEY"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", stack.secrets["LAKE_SECRET_KEY"])
    with pytest.raises(LakeError, match=r"refused the credentials for s3://mlflow-artifacts"):
        Lake("s3://mlflow-artifacts", endpoint_url=S3).list("")
    assert Lake("s3://occupancy-lake", endpoint_url=S3).exists("raw/listings_big.csv")


def _container_env(stack: Stack, service: str) -> dict[str, str]:
    # -a: the one-shot services (seed, minio-provision, airflow-init) have exited by now.
    (container,) = stack.compose("ps", "-a", "-q", service, capture=True, timeout=60).stdout.split()
    inspected = subprocess.run(
        ["docker", "inspect", "--format", "{{json .Config.Env}}", container],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return dict(item.split("=", 1) for item in json.loads(inspected.stdout))


def test_only_minio_and_its_provisioning_hold_the_root_key(stack: Stack, pipeline) -> None:
    root = stack.secrets["MINIO_ROOT_PASSWORD"]
    services = stack.compose("config", "--services", capture=True, timeout=60).stdout.split()
    holders = {name for name in services if root in _container_env(stack, name).values()}
    assert holders == {"minio", "minio-provision"}
    lake_keys = {"AWS_ACCESS_KEY_ID": stack.secrets["LAKE_ACCESS_KEY"]}
    api = _container_env(stack, "api")
    assert api["AWS_ACCESS_KEY_ID"] == stack.secrets["PREDICTIONS_ACCESS_KEY"]
    assert root not in api.values() and stack.secrets["LAKE_SECRET_KEY"] not in api.values()
    # The local step runner runs steps in the scheduler only (LocalExecutor): the other Airflow
    # services hold no S3 key, and the pipeline above succeeded that way.
    scheduler = _container_env(stack, "airflow-scheduler")
    assert scheduler["AWS_ACCESS_KEY_ID"] == lake_keys["AWS_ACCESS_KEY_ID"]
    assert root not in scheduler.values()
    for service in ("airflow-apiserver", "airflow-dag-processor", "airflow-triggerer"):
        env = _container_env(stack, service)
        assert [k for k in env if k.startswith(("AWS_", "MINIO_"))] == [], service
    mlflow = _container_env(stack, "mlflow")
    assert mlflow["AWS_ACCESS_KEY_ID"] == stack.secrets["MLFLOW_ACCESS_KEY"]
    assert root not in mlflow.values()
    assert _container_env(stack, "minio")["MINIO_ROOT_PASSWORD"] == root


def test_the_env_file_held_only_generated_secrets(stack: Stack) -> None:
    example = (ROOT / ".env.example").read_text()
    for name, value in stack.secrets.items():
        if name not in SETTINGS:
            assert value not in example, name
    assert os.stat(stack.env_file).st_mode & 0o077 == 0
    assert isinstance(stack.env_file, Path)


RESTRICTED = [
    "--read-only",
    "--tmpfs",
    "/tmp:mode=1777",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
]


def test_airflow_and_mlflow_images_run_as_the_charts_pods_do(stack: Stack) -> None:
    """Read-only root, numeric user, no capabilities: what the Helm charts impose on these images."""
    airflow = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            *RESTRICTED,
            "--user",
            "50000:50000",
            "-e",
            "AIRFLOW_HOME=/tmp/airflow-home",
            "-e",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=sqlite:////tmp/airflow.db",
            "-e",
            "OCCUPANCY_STEP_RUNNER=kubernetes",
            "occupancy-airflow:dev",
            "bash",
            "-c",
            "airflow db migrate >/dev/null && airflow dags reserialize >/dev/null "
            "&& airflow dags list -o plain",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert airflow.returncode == 0, airflow.stderr[-2000:]
    assert "data_treatment_dag" in airflow.stdout and "train_pipeline_dag" in airflow.stdout
    name = "occupancy-e2e-ro-mlflow"
    subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False, timeout=60)
    subprocess.run(
        [
            "docker",
            "run",
            "-d",
            "--name",
            name,
            *RESTRICTED,
            "--user",
            "10002:10002",
            "-e",
            "HOME=/tmp",
            "-e",
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false",
            "occupancy-mlflow:dev",
            "mlflow",
            "server",
            "--host",
            "0.0.0.0",
            "--port",
            "5000",
            "--backend-store-uri",
            "sqlite:////tmp/mlflow.db",
            "--default-artifact-root",
            "/tmp/a",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    try:
        probe = [
            "docker",
            "exec",
            name,
            "python3",
            "-c",
            "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/health')",
        ]
        wait_for(
            "MLflow on a read-only root to answer /health",
            lambda: (
                subprocess.run(probe, capture_output=True, check=False, timeout=30).returncode == 0
            ),
            120,
        )
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False, timeout=60)
