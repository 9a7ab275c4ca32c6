"""One compose stack per session, shared by the e2e suite and the fault suite (`make chaos`).

The e2e suite renders step pods with Airflow, so it shares the DAG tests' throwaway home.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow_rest import AIRFLOW, finished, login, newest_run, trigger
from stack import ROOT, SERVICES_WITH_LOGS, Stack, http_json, log, start_stack, wait_for

# A run's figures go to an ignored folder; benchmarks/results/ holds only deliberate updates.
RESULTS = ROOT / ".occupancy" / "results" / "e2e.json"


@pytest.fixture(scope="session", autouse=True)
def _airflow(airflow_home: Path) -> Path:
    return airflow_home


@pytest.fixture(scope="session")
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    started = time.monotonic()
    running = start_stack(tmp_path_factory.mktemp("e2e"), rows=10_000)
    try:
        yield running
    finally:
        failed = running.failed_services()
        if failed or request.session.testsfailed:
            log(f"failed services: {failed or 'none'}; their logs follow")
            running.logs(tuple(failed) if failed else SERVICES_WITH_LOGS)
        running.down()
        running.timings["total_s"] = time.monotonic() - started
        _record(running)


def _record(stack: Stack) -> None:
    sizes = subprocess.run(
        ["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    ).stdout.split("\n")
    images = dict(line.split(" ", 1) for line in sizes if line.startswith("occupancy-"))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "date": time.strftime("%Y-%m-%d"),
                "offline": stack.offline,
                "seconds": {k: round(v) for k, v in stack.timings.items()},
                "images": images,
            },
            indent=2,
        )
        + "\n"
    )


@pytest.fixture(scope="session")
def token(stack: Stack) -> dict[str, str]:
    def access() -> str | None:
        status, body = login("airflow", stack.secrets["AIRFLOW_ADMIN_PASSWORD"])
        return body["access_token"] if status in (200, 201) else None

    return {
        "Authorization": f"Bearer {wait_for('the Airflow API server to accept the login', access, 600, 3)}"
    }


@pytest.fixture(scope="session")
def pipeline(stack: Stack, token: dict[str, str]) -> dict[str, Any]:
    """A treatment run triggered over REST and the training run its Asset schedules, both done."""
    started = time.monotonic()
    for dag_id in ("data_treatment_dag", "train_pipeline_dag"):
        wait_for(
            f"{dag_id} to be parsed",
            lambda d=dag_id: http_json(f"{AIRFLOW}/api/v2/dags/{d}", headers=token)[0] == 200,
            300,
            3,
        )
    status, run = trigger("data_treatment_dag", token)
    assert status == 200, run
    treatment_id = run["dag_run_id"]
    log(f"triggered data_treatment_dag run {treatment_id}")
    state = wait_for(
        "data_treatment_dag to finish",
        lambda: finished("data_treatment_dag", treatment_id, token),
        900,
        5,
    )
    assert state == "success", f"data_treatment_dag run {treatment_id} ended {state}"

    def training_run() -> str | None:
        newest = newest_run("train_pipeline_dag", token)
        return newest["dag_run_id"] if newest else None

    training_id = wait_for("the Asset to schedule train_pipeline_dag", training_run, 300, 5)
    log(f"train_pipeline_dag run {training_id} scheduled by the Asset")
    state = wait_for(
        "train_pipeline_dag to finish",
        lambda: finished("train_pipeline_dag", training_id, token),
        1500,
        5,
    )
    assert state == "success", f"train_pipeline_dag run {training_id} ended {state}"
    stack.timings["pipeline_s"] = time.monotonic() - started
    return {"treatment": treatment_id, "training": training_id}
