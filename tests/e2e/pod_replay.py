"""The step pods KubernetesPodOperator would create, rendered without a cluster.

`build_pod_request_obj()` gives the exact pod; the chart replay's engine (tests/replay) runs it
on Docker under its refusal rule, in `make e2e` against the compose stack and in
`make chart-replay` against the replayed chart.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from mapped_steps import mapped_arguments

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


def render_step_pods(dag_id: str, task_id: str, env: dict[str, str]) -> list[dict[str, Any]]:
    """The pod(s) of one step task with the kubernetes runner (mapped tasks: one per element)."""
    from kubernetes.client import ApiClient

    if str(DAGS_FOLDER) not in sys.path:
        sys.path.append(str(DAGS_FOLDER))
    from airflow.dag_processing.dagbag import DagBag

    # The DAG files read the step configuration from the environment when they are parsed: set
    # it for this parse only, so one caller's settings never leak into the next.
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        bag = DagBag(str(DAGS_FOLDER))
        assert bag.import_errors == {}, bag.import_errors
        task = bag.dags[dag_id].get_task(task_id)
        operators = (
            [task.unmap({"arguments": a}) for a in mapped_arguments(task)]
            if hasattr(task, "expand_input")
            else [task]
        )
        return [
            ApiClient().sanitize_for_serialization(op.build_pod_request_obj()) for op in operators
        ]
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# Every step task of the two DAGs, one per step kind: (dag id, task id).
STEP_TASKS = (
    ("data_treatment_dag", "ingest"),
    ("data_treatment_dag", "treat"),
    ("data_treatment_dag", "combine"),
    ("train_pipeline_dag", "check_processed"),
    ("train_pipeline_dag", "train"),
    ("train_pipeline_dag", "promote"),
)


def scheduler_step_env(objects: list[dict[str, Any]], scheduler: str) -> dict[str, str]:
    """The `OCCUPANCY_*` values the chart gives the scheduler, which the DAG factory reads."""
    (deployment,) = [
        o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == scheduler
    ]
    env = {
        e["name"]: e["value"]
        for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        if e["name"].startswith("OCCUPANCY_") and "value" in e
    }
    assert env["OCCUPANCY_STEP_RUNNER"] == "kubernetes", env
    return env
