"""Helpers for API tests: a trained model, publishing it to a registry, waiting for readiness."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi.testclient import TestClient


def publish(
    tracking_uri: str, name: str, model: Any, example: pd.DataFrame, alias: str = "champion"
) -> str:
    """Log, register and alias a model; returns the new version."""
    return publish_with_id(tracking_uri, name, model, example, alias)[0]


def publish_with_id(
    tracking_uri: str, name: str, model: Any, example: pd.DataFrame, alias: str = "champion"
) -> tuple[str, str]:
    """Log `model` in a run at `tracking_uri`, register it under `name`, move `alias` to it."""
    import mlflow
    from mlflow.tracking import MlflowClient

    from occupancy.registry.artifacts import log_pipeline_model

    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri, tracking_uri)
    experiment = client.get_experiment_by_name("api-tests")
    # A SQLite store keeps artifacts beside the database, never in ./mlruns of the checkout.
    location = None
    if tracking_uri.startswith("sqlite:///"):
        location = (Path(tracking_uri.removeprefix("sqlite:///")).parent / "mlartifacts").as_uri()
    experiment_id = (
        experiment.experiment_id
        if experiment
        else client.create_experiment("api-tests", artifact_location=location)
    )
    with mlflow.start_run(experiment_id=experiment_id) as run:
        model_id = log_pipeline_model(model, example)
    if not client.search_registered_models(f"name = '{name}'"):
        client.create_registered_model(name)
    version = client.create_model_version(
        name, source=f"models:/{model_id}", run_id=run.info.run_id, model_id=model_id
    )
    client.set_registered_model_alias(name, alias, version.version)
    return str(version.version), model_id


def wait_until(predicate: Any, timeout: float = 60.0, what: str = "condition") -> None:
    """Poll `predicate` until true (a deadline, not a sleep-based synchronisation)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def wait_ready(client: TestClient, timeout: float = 120.0) -> None:
    wait_until(lambda: client.get("/health/ready").status_code == 200, timeout, "readiness")
