"""`make chaos`: faults injected into the running compose stack; each is survived, nothing is lost.

| fault | injected | must hold afterwards |
|---|---|---|
| PostgreSQL restarted | while a treatment run's step runs | the run succeeds |
| S3 killed | while `treat` runs, until that attempt fails | no manifest while down; the retry publishes a digest-checked table with every row |
| MLflow killed | while a training pod runs, until that attempt fails | the retry succeeds and `@champion` is set |
| MLflow restarted | while the API serves a steady load | zero failed predictions |
| scratch space full | a step container whose /tmp holds 256 KiB | one `error:` line naming the space, exit 1, nothing published |

The faults share one treatment run and the training run its Asset schedules (the stack's
OCCUPANCY_STEP_RETRY_DELAY is 30 s: a retry 30-60 s and the next 60-120 s after a failure,
long enough for MLflow to come back), after the e2e suite's own pipeline
(its row count is the reference: the same raw file must give the same rows). Each test adds its
line to `.occupancy/results/chaos.json`, the table the README shows.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow_rest import finished, newest_run, task_instances, trigger
from stack import ROOT, Stack, http_json, log, wait_for

pytestmark = pytest.mark.e2e

API = "http://127.0.0.1:8000"
MLFLOW = "http://127.0.0.1:5000"
S3 = "http://127.0.0.1:9000"
MODEL = "airbnb-occupancy-classifier"
RESULTS = ROOT / ".occupancy" / "results" / "chaos.json"
TABLE: list[dict[str, Any]] = []


@pytest.fixture(scope="module", autouse=True)
def _fault_table() -> Iterator[None]:
    yield
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(TABLE, indent=2) + "\n")
    for row in TABLE:
        log(
            f"fault: {row['fault']} | saw: {row['saw']} | recovered: {row['recovered']} | lost: {row['lost']}"
        )


def _record(fault: str, saw: str, recovered: bool, lost: str) -> None:
    TABLE.append({"fault": fault, "saw": saw, "recovered": recovered, "lost": lost})


def _running(dag_id: str, run_id: str, task_id: str, token: dict[str, str]) -> bool:
    return any(
        ti["task_id"] == task_id and ti["state"] == "running"
        for ti in task_instances(dag_id, run_id, token)
    )


def _failed_attempt(dag_id: str, run_id: str, task_id: str, token: dict[str, str]) -> bool:
    """An attempt of the task failed and Airflow scheduled its retry (or already began it)."""
    return any(
        ti["task_id"] == task_id and (ti["state"] == "up_for_retry" or ti["try_number"] > 1)
        for ti in task_instances(dag_id, run_id, token)
    )


def _attempts(dag_id: str, run_id: str, task_id: str, token: dict[str, str]) -> int:
    return max(
        (
            ti["try_number"]
            for ti in task_instances(dag_id, run_id, token)
            if ti["task_id"] == task_id
        ),
        default=0,
    )


def _healthy(stack: Stack, service: str) -> bool:
    listed = stack.compose("ps", "--format", "json", service, capture=True, timeout=60, check=False)
    rows = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
    return (
        bool(rows)
        and all(row.get("Health") in ("healthy", "") for row in rows)
        and all(row.get("State") == "running" for row in rows)
    )


def _lake_run(stack: Stack, monkeypatch: pytest.MonkeyPatch, run_id: str):  # -> RunLayout
    from occupancy.config import Settings
    from occupancy.run_layout import open_run

    # boto3 resolves the keys from the environment, as in the containers.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", stack.secrets["LAKE_ACCESS_KEY"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", stack.secrets["LAKE_SECRET_KEY"])
    monkeypatch.setenv("AWS_ENDPOINT_URL", S3)
    return open_run(Settings(lake_uri="s3://occupancy-lake"), run_id)


def _checked_rows(run: Any, tmp_path: Path) -> int:
    """The published table's rows, after the digest check every reader of processed data does."""
    import pyarrow.parquet as pq

    from occupancy.digest import verify_file

    manifest = run.processed_manifest()
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = run.processed.fetch(manifest, "data", tmp_path / "listings.parquet")
    verify_file(path, manifest["digest"], manifest["data"])
    rows = pq.read_metadata(path).num_rows
    assert rows == manifest["rows"], manifest
    return rows


def _champion_version() -> str | None:
    status, body = http_json(
        f"{MLFLOW}/api/2.0/mlflow/registered-models/alias?name={MODEL}&alias=champion"
    )
    return body["model_version"]["version"] if status == 200 else None


INJECTION_TRIES = 3  # treatment runs to try before calling the S3 outage impossible to land


@pytest.fixture(scope="module")
def restarted_postgres(stack: Stack, token: dict[str, str], pipeline) -> dict[str, Any]:
    """A treatment run through a PostgreSQL restart, begun while its ingest runs."""
    status, run = trigger("data_treatment_dag", token, {"pipeline_run_id": "chaos-pg"})
    assert status == 200, run
    dag_run = run["dag_run_id"]
    wait_for(
        "ingest to run", lambda: _running("data_treatment_dag", dag_run, "ingest", token), 300, 0.2
    )
    log("fault: restarting PostgreSQL while ingest of chaos-pg runs")
    stack.compose("restart", "postgres", timeout=120)
    state = wait_for(
        "the treatment run to finish",
        lambda: finished("data_treatment_dag", dag_run, token),
        900,
        2,
    )
    return {"dag_run": dag_run, "state": state}


@pytest.fixture(scope="module")
def faulty_treatment(stack: Stack, token: dict[str, str], restarted_postgres) -> dict[str, Any]:
    """A treatment run through an S3 outage while treat runs. On 10,000 rows treat lasts a few
    seconds: when it ended before S3 went down the injection missed, and a new run (new run id)
    tries again; the assertions never retry."""
    for attempt in range(1, INJECTION_TRIES + 1):
        seen = _treatment_through_an_s3_outage(stack, token, f"chaos-s3-{attempt}")
        if seen is not None:
            return seen
        log(f"fault: treat of chaos-s3-{attempt} ended before S3 went down; again with a new run")
    pytest.fail(f"in {INJECTION_TRIES} treatment runs S3 never went down while treat ran")


def _treat_phase(dag_run: str, token: dict[str, str]) -> str | None:
    """'running' while treat runs; 'ended' once it has run; None before."""
    states = {
        ti["state"]
        for ti in task_instances("data_treatment_dag", dag_run, token)
        if ti["task_id"] == "treat"
    }
    if "running" in states:
        return "running"
    return "ended" if states & {"success", "failed", "up_for_retry"} else None


def _treatment_through_an_s3_outage(
    stack: Stack, token: dict[str, str], run_id: str
) -> dict[str, Any] | None:
    status, run = trigger("data_treatment_dag", token, {"pipeline_run_id": run_id})
    assert status == 200, run
    dag_run = run["dag_run_id"]
    phase = wait_for("treat to run", lambda: _treat_phase(dag_run, token), 600, 0.1)
    outcome = None
    if phase == "running":
        log(f"fault: killing S3 while treat of {run_id} runs")
        stack.compose("kill", "minio", timeout=120)
        down_at = time.monotonic()
        outcome = wait_for(
            "the treat attempt to fail without S3, or to have ended before",
            lambda: (
                "failed"
                if _failed_attempt("data_treatment_dag", dag_run, "treat", token)
                else (_treat_phase(dag_run, token) == "ended" and "ended")
            ),
            300,
            0.5,
        )
        failed_after = time.monotonic() - down_at
        stack.compose("start", "minio", timeout=120)
        wait_for("S3 to be healthy", lambda: _healthy(stack, "minio"), 120, 1)
    state = wait_for(
        "the faulty treatment run to finish",
        lambda: finished("data_treatment_dag", dag_run, token),
        900,
        2,
    )
    if outcome != "failed":
        return None
    return {
        "dag_run": dag_run,
        "run_id": run_id,
        "state": state,
        "s3_failed_after_s": failed_after,
        "treat_attempts": _attempts("data_treatment_dag", dag_run, "treat", token),
    }


def test_a_postgres_restart_during_a_dag_run_is_survived(restarted_postgres) -> None:
    recovered = restarted_postgres["state"] == "success"
    _record(
        "PostgreSQL restarted during a DAG run (ingest running)",
        f"the run ended {restarted_postgres['state']}",
        recovered,
        "none" if recovered else "the run",
    )
    assert recovered, restarted_postgres


def test_s3_down_during_treat_publishes_nothing_half_and_the_retry_keeps_every_row(
    stack: Stack, pipeline, faulty_treatment, monkeypatch, tmp_path: Path
) -> None:
    assert faulty_treatment["state"] == "success", faulty_treatment
    assert faulty_treatment["treat_attempts"] >= 2, "the S3 outage did not fail a treat attempt"
    reference = _checked_rows(_lake_run(stack, monkeypatch, pipeline["treatment"]), tmp_path / "a")
    rows = _checked_rows(_lake_run(stack, monkeypatch, faulty_treatment["run_id"]), tmp_path / "b")
    _record(
        "S3 killed during treat",
        f"treat attempt 1 failed after {faulty_treatment['s3_failed_after_s']:.0f} s; "
        f"attempt {faulty_treatment['treat_attempts']} published {rows} rows, digest checked",
        rows == reference,
        f"{reference - rows} rows",
    )
    assert rows == reference


@pytest.fixture(scope="module")
def faulty_training(
    stack: Stack, token: dict[str, str], pipeline, faulty_treatment
) -> dict[str, Any]:
    """The training run the faulty treatment's Asset scheduled, through an MLflow outage."""
    scheduled = wait_for(
        "the Asset to schedule training of the faulty run",
        lambda: (
            (run := newest_run("train_pipeline_dag", token))
            and run["dag_run_id"] != pipeline["training"]
            and run["state"] in ("queued", "running")
            and run
        ),
        300,
        1,
    )
    dag_run = scheduled["dag_run_id"]
    wait_for(
        "a training pod to run",
        lambda: _running("train_pipeline_dag", dag_run, "train", token),
        600,
        0.5,
    )
    log("fault: killing MLflow while a model trains")
    stack.compose("kill", "mlflow", timeout=120)
    down_at = time.monotonic()
    wait_for(
        "the training attempt to fail without MLflow",
        lambda: _failed_attempt("train_pipeline_dag", dag_run, "train", token),
        420,
        2,
    )
    failed_after = time.monotonic() - down_at
    stack.compose("start", "mlflow", timeout=120)
    wait_for("MLflow to be healthy", lambda: _healthy(stack, "mlflow"), 180, 1)
    state = wait_for(
        "the faulty training run to finish",
        lambda: finished("train_pipeline_dag", dag_run, token),
        1500,
        3,
    )
    return {"dag_run": dag_run, "state": state, "failed_after_s": failed_after}


def test_mlflow_killed_during_training_is_retried_and_ends_with_a_champion(
    faulty_training, token
) -> None:
    champion = _champion_version()
    recovered = faulty_training["state"] == "success" and champion is not None
    _record(
        "MLflow killed during training",
        f"a train attempt failed after {faulty_training['failed_after_s']:.0f} s; the run ended "
        f"{faulty_training['state']}, @champion is version {champion}",
        recovered,
        "none" if recovered else "the training run",
    )
    assert recovered, faulty_training


def test_an_mlflow_restart_under_api_load_fails_no_prediction(
    stack: Stack, pipeline, faulty_training, newark_listing
) -> None:
    wait_for("the API to be ready", lambda: http_json(f"{API}/health/ready")[0] == 200, 180, 1)
    outcomes: list[int] = []
    stop = threading.Event()

    def load() -> None:
        body = {"listings": [newark_listing]}
        while not stop.is_set():
            outcomes.append(http_json(f"{API}/predict", method="POST", body=body)[0])

    workers = [threading.Thread(target=load) for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        wait_for("load to build up", lambda: len(outcomes) >= 50, 60, 0.1)
        log("fault: restarting MLflow under API load")
        stack.compose("restart", "mlflow", timeout=120)
        wait_for("MLflow to be healthy", lambda: _healthy(stack, "mlflow"), 180, 1)
        after = len(outcomes)
        wait_for("requests after the restart", lambda: len(outcomes) >= after + 200, 120, 0.1)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
    failed = sum(1 for status in outcomes if status != 200)
    _record(
        "MLflow restarted while the API is under load",
        f"{len(outcomes)} predictions, {failed} failed",
        failed == 0,
        f"{failed} predictions",
    )
    assert failed == 0, sorted(set(outcomes))


def _step_container(
    stack: Stack, *args: str, tmpfs: str = "/tmp:mode=1777,size=256k"
) -> subprocess.CompletedProcess[str]:
    """A step as its pod runs it: the app image, the lake identity, a private /tmp of `tmpfs`."""
    env = {
        "OCCUPANCY_LAKE_URI": "s3://occupancy-lake",
        "OCCUPANCY_RAW_URI": "s3://occupancy-lake/raw/listings_big.csv",
        # The root file system is read-only, as in the step pods: home and scratch are /tmp.
        "HOME": "/tmp",
        "OCCUPANCY_HOME": "/tmp/occupancy",
        "AWS_ENDPOINT_URL": "http://minio:9000",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": stack.secrets["LAKE_ACCESS_KEY"],
        "AWS_SECRET_ACCESS_KEY": stack.secrets["LAKE_SECRET_KEY"],
        "MLFLOW_TRACKING_URI": "http://mlflow:5000",
    }
    command = [
        "docker", "run", "--rm", "--network", stack.network, "--read-only", "--tmpfs", tmpfs,
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
    ]  # fmt: skip
    for name, value in env.items():
        command += ["-e", f"{name}={value}"]
    return subprocess.run(
        [*command, "occupancy-app:dev", "occupancy", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_full_scratch_space_is_one_clear_error_and_publishes_nothing(
    stack: Stack, pipeline, monkeypatch, tmp_path: Path
) -> None:
    run_id = "chaos-scratch"
    ingested = _step_container(
        stack, "step", "ingest", "--run-id", run_id, tmpfs="/tmp:mode=1777,size=256m"
    )
    assert ingested.returncode == 0, ingested.stderr
    treated = _step_container(stack, "step", "treat", "--run-id", run_id)
    lines = [line for line in treated.stderr.splitlines() if line.strip()]
    published = _lake_run(stack, monkeypatch, run_id).processed.published()
    clear = (
        treated.returncode == 1
        and len(lines) == 1
        and lines[0].startswith("error: ")
        and "no space left" in lines[0]
        and published is None
    )
    _record(
        "a step's scratch space full (treat, /tmp of 256 KiB)",
        f"exit {treated.returncode}: {lines[-1] if lines else '(nothing)'}",
        clear,
        "none (nothing published; rerun with space)",
    )
    assert treated.returncode == 1, treated.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and "no space left" in lines[0], lines
    assert published is None
    # With room again the same run id treats and publishes: nothing of the failure was kept.
    retried = _step_container(
        stack, "step", "treat", "--run-id", run_id, tmpfs="/tmp:mode=1777,size=256m"
    )
    assert retried.returncode == 0, retried.stderr
    assert _checked_rows(_lake_run(stack, monkeypatch, run_id), tmp_path) > 0
