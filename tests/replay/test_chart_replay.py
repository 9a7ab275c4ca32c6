"""`make chart-replay`: the umbrella chart's rendered manifests started on Docker as the kubelet
would, then driven as a user would after `make deploy` and `make port-forward`.

Port-forwards are the pod IPs on the replay network (this host reaches them as a node reaches
pods); in-cluster calls go through the Service names from a container on the same network.
"""

from __future__ import annotations

import io
import json
import random
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import substitutions
from engine import Cluster, Node, log
from install import install, wait_rollout
from manifests import load
from s3_identities import assert_confined, assert_read_only, assert_write_only, s3_client
from stack import http_json, wait_for
from step_pods import run_step_pod
from substitutions import NAMESPACE, RELEASE, TAG

from occupancy.provenance import checkout_revision

pytestmark = pytest.mark.replay
MODEL = "airbnb-occupancy-classifier"
RAW_KEY = "raw/listings_big.csv"
CITY_KEY = "raw/newark_2025-09-30_listings.csv.gz"
PREDICTIONS_BUCKET = "occupancy-predictions"
ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / ".occupancy" / "results" / "chart-replay.json"


@pytest.fixture(scope="module")
def cluster(docker_images: bool, rendered, tmp_path_factory, request):
    started = time.monotonic()
    objects = substitutions.scheduler_as_local_runner(rendered, RELEASE)
    release = load(objects, NAMESPACE)
    log("substitutions (forced by this machine):")
    for line in substitutions.describe(docker_images, RELEASE):
        log(f"  {line}")
    log("rendered objects not reproduced, and why:")
    for line in release.not_reproduced:
        log(f"  {line}")
    replay = Cluster(
        release,
        workdir=tmp_path_factory.mktemp("replay"),
        node=Node(substitutions.NODE_CPU_MILLIS, substitutions.NODE_MEMORY_BYTES),
        image_for=substitutions.image_for(docker_images),
    )
    replay.create()
    timings: dict[str, float] = {}
    try:
        installed = install(replay, timeout=900)
        timings["install_s"] = time.monotonic() - started
        yield {"cluster": replay, "release": release, "timings": timings, **installed}
    finally:
        if request.session.testsfailed:
            for pod in replay.pods:
                if not pod.ready and pod.phase != "Succeeded":
                    print(replay.logs(pod, tail=80))
        log(f"pods at the end:\n{json.dumps(replay.status(), indent=2)}")
        replay.delete()
        timings["total_s"] = time.monotonic() - started
        log(f"chart replay took {timings['total_s']:.0f} s")
        # A run's figures go to an ignored folder, like the e2e's.
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(
            json.dumps(
                {
                    "date": time.strftime("%Y-%m-%d"),
                    "offline": docker_images,
                    "seconds": {k: round(v) for k, v in timings.items()},
                    "pods": replay.status(),
                },
                indent=2,
            )
            + "\n"
        )


def _pod(cluster: dict[str, Any], ref: str):
    return cluster["pods"][ref]


def _url(cluster: dict[str, Any], component: str, port: int) -> str:
    """What `kubectl port-forward svc/<release>-<component>` reaches: the selected pod."""
    ref = f"{'StatefulSet' if component in ('minio', 'postgres') else 'Deployment'}/{RELEASE}-{component}"
    return f"http://{_pod(cluster, ref).ip}:{port}"


PLATFORM = [
    f"StatefulSet/{RELEASE}-postgres",
    f"StatefulSet/{RELEASE}-minio",
    f"Deployment/{RELEASE}-mlflow",
    f"Job/{RELEASE}-airflow-migrate-1",
    f"Deployment/{RELEASE}-airflow-api-server",
    f"Deployment/{RELEASE}-airflow-scheduler",
    f"Deployment/{RELEASE}-airflow-dag-processor",
    f"Deployment/{RELEASE}-airflow-triggerer",
]


def test_every_platform_workload_becomes_ready(cluster) -> None:
    """`make deploy`'s rollout wait: everything but the API, which needs a champion first."""
    started = time.monotonic()
    wait_rollout(cluster["cluster"], cluster["pods"], PLATFORM, timeout=900)
    cluster["timings"]["rollout_s"] = time.monotonic() - started
    log(f"platform ready {time.monotonic() - started:.0f} s after the install")


@pytest.fixture(scope="module")
def airflow(cluster) -> dict[str, Any]:
    """Log in to the chart's api-server with the admin password from the rendered Secret."""
    password = cluster["release"].secrets[f"{RELEASE}-airflow"]["admin-password"]
    base = _url(cluster, "airflow-api-server", 8080)

    def login() -> str | None:
        status, body = http_json(
            f"{base}/auth/token",
            method="POST",
            body={"username": "airflow", "password": password},
        )
        return body["access_token"] if status in (200, 201) else None

    token = wait_for("the Airflow api-server to accept the admin login", login, 300, 3)
    return {"base": base, "headers": {"Authorization": f"Bearer {token}"}}


def test_the_api_server_logs_in_through_fab(airflow) -> None:
    """The migration Job made the admin in FAB's tables, next to FAB's own roles."""
    status, body = http_json(
        f"{airflow['base']}/auth/token",
        method="POST",
        body={"username": "airflow", "password": "not-the-password"},
    )
    assert status == 401, body
    status, body = http_json(f"{airflow['base']}/auth/fab/v1/roles", headers=airflow["headers"])
    assert status == 200, body
    assert {"Admin", "Op", "User", "Viewer"} <= {role["name"] for role in body["roles"]}


def _state(airflow: dict[str, Any], dag_id: str, run_id: str) -> str | None:
    status, body = http_json(
        f"{airflow['base']}/api/v2/dags/{dag_id}/dagRuns/{run_id}", headers=airflow["headers"]
    )
    state = body.get("state") if status == 200 else None
    return state if state in ("success", "failed") else None


@pytest.fixture(scope="module")
def pipeline(cluster, airflow, real_data_dir: Path) -> dict[str, Any]:
    """The seed Job put synthetic listings where the chart's OCCUPANCY_RAW_URI points; upload a
    real city file next to it (with the lake identity's keys, which the bucket Job provisioned),
    trigger the treatment DAG on it by its conf, and let the Asset start training."""
    started = time.monotonic()
    s3 = _identity_client(cluster, "lake")
    seeded = s3.head_object(Bucket="occupancy-lake", Key=RAW_KEY)
    assert seeded["ContentLength"] > 1_000_000, seeded  # 20,000 synthetic listings
    s3.upload_file(
        str(real_data_dir / "newark_2025-09-30_listings.csv.gz"), "occupancy-lake", CITY_KEY
    )
    for dag_id in ("data_treatment_dag", "train_pipeline_dag"):
        wait_for(
            f"{dag_id} to be parsed",
            lambda d=dag_id: http_json(
                f"{airflow['base']}/api/v2/dags/{d}", headers=airflow["headers"]
            )[0] == 200,
            300,
            3,
        )  # fmt: skip
    status, run = http_json(
        f"{airflow['base']}/api/v2/dags/data_treatment_dag/dagRuns",
        method="POST",
        body={"logical_date": None, "conf": {"raw_uri": f"s3://occupancy-lake/{CITY_KEY}"}},
        headers=airflow["headers"],
    )
    assert status == 200, run
    treatment = run["dag_run_id"]
    log(f"triggered data_treatment_dag run {treatment}")
    state = wait_for(
        "data_treatment_dag", lambda: _state(airflow, "data_treatment_dag", treatment), 900, 5
    )
    assert state == "success", f"data_treatment_dag {treatment} ended {state}"

    def training_run() -> str | None:
        status, body = http_json(
            f"{airflow['base']}/api/v2/dags/train_pipeline_dag/dagRuns?order_by=-start_date",
            headers=airflow["headers"],
        )
        runs = body.get("dag_runs", []) if status == 200 else []
        return runs[0]["dag_run_id"] if runs else None

    training = wait_for("the Asset to schedule train_pipeline_dag", training_run, 300, 5)
    state = wait_for(
        "train_pipeline_dag", lambda: _state(airflow, "train_pipeline_dag", training), 1800, 5
    )
    assert state == "success", f"train_pipeline_dag {training} ended {state}"
    cluster["timings"]["pipeline_s"] = time.monotonic() - started
    return {"treatment": treatment, "training": training}


def _identity_client(cluster, identity: str) -> Any:
    """An S3 client with the keys of `identity` (lake, mlflow, predictions) from the rendered
    Secret."""
    keys = cluster["release"].secrets[f"{RELEASE}-minio-{identity}"]
    return s3_client(
        _url(cluster, "minio", 9000), keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"]
    )


def test_each_provisioned_identity_is_refused_outside_its_bucket(cluster, pipeline) -> None:
    lake, mlflow = _identity_client(cluster, "lake"), _identity_client(cluster, "mlflow")
    artifacts = mlflow.list_objects_v2(Bucket="mlflow-artifacts")["Contents"]
    assert artifacts, "the pipeline logged no artifact through MLflow's proxy"
    assert_confined(
        lake, own="occupancy-lake", other="mlflow-artifacts", other_key=artifacts[0]["Key"]
    )
    assert_confined(mlflow, own="mlflow-artifacts", other="occupancy-lake", other_key=RAW_KEY)
    # The API's: put into the prediction log's bucket only; the lake's: read that bucket.
    api = _identity_client(cluster, "predictions")
    key = f"predictions/identity-probe/{uuid.uuid4().hex}.parquet"
    api.put_object(Bucket=PREDICTIONS_BUCKET, Key=key, Body=b"probe")
    others = {"occupancy-lake": RAW_KEY, "mlflow-artifacts": artifacts[0]["Key"]}
    assert_write_only(api, own=PREDICTIONS_BUCKET, own_key=key, others=others)
    assert_read_only(lake, bucket=PREDICTIONS_BUCKET, existing_key=key)


def test_mlflow_answers_a_port_forward_on_any_local_port(cluster, pipeline) -> None:
    """`kubectl port-forward svc/occupancy-mlflow <any>:5000` sends Host: localhost:<any>."""
    port = random.randint(20000, 60000)
    status, body = http_json(
        f"{_url(cluster, 'mlflow', 5000)}/api/2.0/mlflow/registered-models/alias"
        f"?name={MODEL}&alias=champion",
        headers={"Host": f"localhost:{port}"},
    )
    assert status == 200, f"Host: localhost:{port} → {status} {body}"
    tags = {t["key"]: t["value"] for t in body["model_version"].get("tags", [])}
    assert tags["occupancy.run_id"] == pipeline["treatment"]
    assert float(tags["test_f1_macro"]) > 0.3


def test_the_api_predicts_a_real_listing_through_its_service_name(
    cluster, pipeline, newark_listing: dict[str, str]
) -> None:
    api = _pod(cluster, f"Deployment/{RELEASE}-api")
    wait_for("the API to load the champion and turn ready", lambda: api.ready, 300, 2)
    listing = newark_listing
    client = (
        "import json, sys, urllib.request\n"
        f"request = urllib.request.Request('http://{RELEASE}-api.{NAMESPACE}.svc.cluster.local:8000"
        "/predict', data=sys.stdin.buffer.read(), headers={'Content-Type': 'application/json'})\n"
        "print(urllib.request.urlopen(request, timeout=30).read().decode())\n"
    )
    done = subprocess.run(
        ["docker", "run", "--rm", "-i", "--network", cluster["cluster"].network,
         "--read-only", "--cap-drop", "ALL", "--user", "10001:10001",
         f"occupancy-app:{TAG}", "python", "-c", client],
        input=json.dumps({"listings": [listing]}), capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    body = json.loads(done.stdout)
    (prediction,) = body["predictions"]
    assert body["model"]["name"] == MODEL and prediction["id"] == listing["id"]
    assert prediction["occupancy_level"] in ("zero", "low", "mid", "high")
    log(f"prediction from the chart-configured API: {prediction}")
    # The chart's predictions identity carried it to the prediction log (flushed within
    # api.predictionLog.flushSeconds), where the lake identity, the monitoring steps', reads it.
    lake = _identity_client(cluster, "lake")

    def logged() -> list[str] | None:
        listed = lake.list_objects_v2(Bucket=PREDICTIONS_BUCKET, Prefix="predictions/date=")
        keys = [o["Key"] for o in listed.get("Contents", []) if o["Key"].endswith(".parquet")]
        return keys or None

    (key, *_) = wait_for("the API's prediction log to reach S3", logged, 120, 2)
    table = pq.read_table(
        io.BytesIO(lake.get_object(Bucket=PREDICTIONS_BUCKET, Key=key)["Body"].read())
    )
    assert listing["id"] in table.column("id").to_pylist()
    assert set(table.column("model_version").to_pylist()) == {body["model"]["version"]}


def test_a_task_log_reads_through_the_airflow_rest_api(airflow, pipeline) -> None:
    """The api-server fetches the log from the scheduler that ran the task (hostname_callable)."""
    url = (
        f"{airflow['base']}/api/v2/dags/data_treatment_dag/dagRuns/{pipeline['treatment']}"
        "/taskInstances/ingest/logs/1?map_index=0"
    )
    status, body = http_json(url, headers={**airflow["headers"], "Accept": "application/json"})
    assert status == 200, body
    text = json.dumps(body)
    assert "Could not read served logs" not in text and "Failed to fetch" not in text, text[-2000:]
    # The step's own summary line: the log is the task's, not an error page.
    assert '\\"step\\": \\"ingest\\"' in text or '"step": "ingest"' in text, text[-2000:]


def test_step_pods_of_every_kind_run_as_the_dag_factory_renders_them(
    cluster, pipeline, airflow_home, rendered
) -> None:
    """ingest, treat and combine of one source, check, train (one family) and promote of a new
    run, each a pod."""
    from pod_replay import STEP_TASKS, render_step_pods, scheduler_step_env

    env = scheduler_step_env(rendered, f"{RELEASE}-airflow-scheduler")
    env["OCCUPANCY_MODEL_FAMILIES"] = "logreg"  # one training pod is enough to prove the kind
    run_id = "replay-steps-1"
    replay: Cluster = cluster["cluster"]
    for dag_id, task_id in STEP_TASKS:
        (rendered_pod,) = render_step_pods(dag_id, task_id, env)
        # What Airflow renders for a run trained from the conf: no raw override, nothing superseded.
        values = {
            **{"--run-id": run_id, "--raw": "", "--superseded": ""},
            **{"--source": "seeded", "--sources": "seeded"},
        }
        pod, summary = run_step_pod(replay, rendered_pod, values)
        assert summary["run_id"] == run_id, summary
        log(f"step pod {pod.name} ({task_id}) succeeded: {summary}")
        if task_id == "train":
            # The step image's OCCUPANCY_GIT_SHA survives the chart's step ConfigMap and Secret.
            tags = _run_tags(cluster, summary["mlflow_run_id"])
            assert tags["git_sha"] == checkout_revision(ROOT) != "unknown", tags


def _run_tags(cluster: dict[str, Any], run_id: str) -> dict[str, str]:
    # As `kubectl port-forward svc/occupancy-mlflow 5000:5000` reaches it (--allowed-hosts).
    status, body = http_json(
        f"{_url(cluster, 'mlflow', 5000)}/api/2.0/mlflow/runs/get?run_id={run_id}",
        headers={"Host": "localhost:5000"},
    )
    assert status == 200, body
    return {t["key"]: t["value"] for t in body["run"]["data"].get("tags", [])}


def test_every_pod_was_admitted_by_the_namespace_s_restricted_pod_security(
    cluster, pipeline
) -> None:
    """The rendered namespace enforces `restricted`, and every workload and hook got its pod
    through that admission (admission.py; that it refuses a breaking pod, with the API server's
    message, is proved in test_replay_semantics.py)."""
    assert cluster["release"].pod_security == ("restricted", "v1.33")
    owners = {pod.owner for pod in cluster["cluster"].pods}
    assert set(cluster["pods"]) <= owners and set(cluster["hooks"]) <= owners


def test_every_pod_reached_ready_and_none_restarted(cluster, pipeline) -> None:
    replay: Cluster = cluster["cluster"]
    for ref, pod in cluster["pods"].items():
        expected = "Succeeded" if ref.startswith("Job/") else "Running"
        assert pod.phase == expected, f"{ref}: {pod.phase} {pod.reason}"
        if expected == "Running":
            assert pod.ready, f"{ref} is not ready: {pod.events[-3:]}"
    restarted = {p.owner: p.restarts for p in replay.pods if p.restarts}
    assert restarted == {}, f"restarts: {restarted}"
    log(f"timings: {cluster['timings']}")
