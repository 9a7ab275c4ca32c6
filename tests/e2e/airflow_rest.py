"""Airflow 3's public REST API as the e2e and fault suites drive it: log in, trigger, follow runs."""

from __future__ import annotations

from typing import Any

from stack import http_json

AIRFLOW = "http://127.0.0.1:8080"
FINISHED = ("success", "failed")


def login(username: str, password: str) -> tuple[int, Any]:
    """FAB's POST /auth/token: 201 and an access token, 401 for a wrong password."""
    return http_json(
        f"{AIRFLOW}/auth/token",
        method="POST",
        body={"username": username, "password": password},
    )


def trigger(
    dag_id: str, token: dict[str, str], conf: dict[str, Any] | None = None
) -> tuple[int, Any]:
    """POST a manual DAG run, as the UI's trigger button does."""
    return http_json(
        f"{AIRFLOW}/api/v2/dags/{dag_id}/dagRuns",
        method="POST",
        body={"logical_date": None, "conf": conf or {}},
        headers=token,
    )


def dag_run_state(dag_id: str, run_id: str, token: dict[str, str]) -> str | None:
    status, body = http_json(f"{AIRFLOW}/api/v2/dags/{dag_id}/dagRuns/{run_id}", headers=token)
    return body.get("state") if status == 200 else None


def finished(dag_id: str, run_id: str, token: dict[str, str]) -> str | None:
    state = dag_run_state(dag_id, run_id, token)
    return state if state in FINISHED else None


def newest_run(dag_id: str, token: dict[str, str]) -> dict[str, Any] | None:
    status, body = http_json(
        f"{AIRFLOW}/api/v2/dags/{dag_id}/dagRuns?order_by=-start_date&limit=1", headers=token
    )
    runs = body.get("dag_runs", []) if status == 200 else []
    return runs[0] if runs else None


def task_instances(dag_id: str, run_id: str, token: dict[str, str]) -> list[dict[str, Any]]:
    """Every task instance of a run (mapped ones each with its map_index); [] while unreachable."""
    status, body = http_json(
        f"{AIRFLOW}/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=100", headers=token
    )
    return body.get("task_instances", []) if status == 200 else []
