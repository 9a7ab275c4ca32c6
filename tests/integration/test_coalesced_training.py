"""Two treatment runs publish before training starts: one training run trains the newest.

On a real scheduler (LocalExecutor, metadata on PostgreSQL, steps with the local runner, MLflow
server): the first scheduler may not create Asset-triggered runs (`use_job_schedule=False`, the
same as a scheduler that is busy or down), so both treatment runs' Asset events queue up; the
second scheduler then creates the training run. Airflow 3.3 gives that run only the events up to
the first queued one (its `run_after` is when the queue row was first written), so a DAG that
reads only `triggering_asset_events` trains the OLDER run and drops the newer one silently.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import MlflowServer, PostgresServer
from servers.airflow import AirflowStack, start_airflow

pytestmark = pytest.mark.integration

TREAT, TRAIN = "data_treatment_dag", "train_pipeline_dag"
SUPERSEDED_TAG = "occupancy.superseded_runs"
OCCUPANCY = str(Path(sys.executable).with_name("occupancy"))


@pytest.fixture
def experiment() -> str:
    """This test's own MLflow experiment and model name, on the shared MLflow server."""
    return f"coalesce-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def airflow(
    postgres_server: PostgresServer, mlflow_server: MlflowServer, experiment: str, tmp_path: Path
) -> Iterator[AirflowStack]:
    """Airflow whose first scheduler may not create Asset-triggered runs."""
    env = {
        "OCCUPANCY_HOME": str(tmp_path / "occupancy"),
        "OCCUPANCY_LAKE_URI": (tmp_path / "lake").as_uri(),
        "MLFLOW_TRACKING_URI": mlflow_server.url,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "OCCUPANCY_EXPERIMENT_NAME": experiment,
        "OCCUPANCY_MODEL_NAME": experiment,
        "OCCUPANCY_MODEL_FAMILIES": "logreg",  # one family: the test is about which run
    }
    with start_airflow(
        postgres_server, tmp_path / "airflow", env=env, scheduler={"use_job_schedule": "False"}
    ) as stack:
        yield stack


def _raw_file(tmp_path: Path) -> Path:
    out = tmp_path / "listings.csv"
    subprocess.run(
        [OCCUPANCY, "data", "synth", "--rows", "1500", "--out", str(out)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


def _parent_tags(mlflow_url: str, experiment: str, pipeline_run_id: str) -> dict[str, str] | None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(mlflow_url)
    found = client.get_experiment_by_name(experiment)
    assert found is not None
    runs = client.search_runs(
        [found.experiment_id],
        f"tags.`occupancy.run_id` = '{pipeline_run_id}' and tags.`occupancy.role` = 'pipeline'",
    )
    return dict(runs[0].data.tags) if runs else None


def test_two_queued_treatment_runs_train_the_newest_and_record_the_older(
    airflow: AirflowStack, mlflow_server: MlflowServer, experiment: str, tmp_path: Path
) -> None:
    raw = str(_raw_file(tmp_path))
    for pipeline_run_id in ("coalesce-older", "coalesce-newer"):
        run_id = airflow.trigger(TREAT, {"pipeline_run_id": pipeline_run_id, "raw_uri": raw})
        airflow.wait_for_run(TREAT, run_id, timeout=180)
    published = airflow.request("GET", f"/assets/events?source_dag_id={TREAT}")
    assert published["total_entries"] == 2
    # Both events wait for one training run that the scheduler may not create yet.
    assert airflow.request("GET", f"/dags/{TRAIN}/assets/queuedEvents")["total_entries"] == 1
    assert airflow.runs(TRAIN) == []

    airflow.restart_scheduler(use_job_schedule="True")
    runs = airflow.wait_for("a training run", lambda: airflow.runs(TRAIN) or None, timeout=90)
    training = airflow.wait_for_run(TRAIN, runs[0]["dag_run_id"], timeout=300)
    # Nothing is left queued for another training run, so this is the only one there will be.
    queued = airflow.request("GET", f"/dags/{TRAIN}/assets/queuedEvents")
    assert not (queued or {}).get("queued_events")
    assert [run["dag_run_id"] for run in airflow.runs(TRAIN)] == [training["dag_run_id"]]

    run_id = training["dag_run_id"]
    assert airflow.xcom(TRAIN, run_id, "pipeline_run_id") == "coalesce-newer"
    assert airflow.xcom(TRAIN, run_id, "pipeline_run_id", "superseded_runs") == ["coalesce-older"]
    tags = _parent_tags(mlflow_server.url, experiment, "coalesce-newer")
    assert tags is not None and tags[SUPERSEDED_TAG] == "coalesce-older"
    assert _parent_tags(mlflow_server.url, experiment, "coalesce-older") is None  # not trained
