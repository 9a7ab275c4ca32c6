"""Helpers for API tests: publishing a model to a registry, waiting for readiness, and running
`occupancy serve` as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi.testclient import TestClient
from servers.process import clean_env, spawn

OCCUPANCY = Path(sys.executable).parent / "occupancy"


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

    # The fluent API and a SQLite registry (resolving `models:/<id>`) read the global URI.
    with _tracking_uri(tracking_uri):
        client = MlflowClient(tracking_uri, tracking_uri)
        experiment = client.get_experiment_by_name("api-tests")
        # A SQLite store keeps artifacts beside the database, never in ./mlruns of the checkout.
        location = None
        if tracking_uri.startswith("sqlite:///"):
            location = (
                Path(tracking_uri.removeprefix("sqlite:///")).parent / "mlartifacts"
            ).as_uri()
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


@contextmanager
def _tracking_uri(uri: str) -> Iterator[None]:
    """MLflow's fluent API at `uri`, then the environment as it was.

    `mlflow.set_tracking_uri` also exports MLFLOW_TRACKING_URI into os.environ, where later tests
    (and the servers they start) would inherit the URI of a server that may be stopped by then.
    """
    import mlflow

    saved = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
        if saved is not None:
            os.environ["MLFLOW_TRACKING_URI"] = saved


def serve_env(home: Path, tracking_uri: str, model_name: str, **extra: str) -> dict[str, str]:
    """The environment of an `occupancy serve` process: only what the test sets, no leaks."""
    env = {k: v for k, v in clean_env().items() if not k.startswith("OCCUPANCY_")}
    return env | {
        "OCCUPANCY_HOME": str(home / "home"),
        "OCCUPANCY_MODEL_NAME": model_name,
        "MLFLOW_TRACKING_URI": tracking_uri,
        **extra,
    }


def start_serve(env: dict[str, str], port: int, log: Path, *args: str) -> subprocess.Popen[bytes]:
    """`occupancy serve` on 127.0.0.1:`port` in its own process group (stop it with `terminate`)."""
    command = [str(OCCUPANCY), "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    return spawn(command, log_path=log, env=env, cwd=log.parent)


def http_status(url: str, timeout: float = 5) -> int:
    """The status a GET of `url` answers, 0 when nothing answers; no proxy from the environment."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


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
