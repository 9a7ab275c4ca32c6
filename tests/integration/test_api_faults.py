"""The API against a real MLflow server that fails: down at start, stopped, broken or odd versions."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest
from api_support import publish, publish_with_id, wait_ready, wait_until
from fastapi.testclient import TestClient
from pydantic import SecretStr
from servers import free_port
from sklearn.linear_model import LogisticRegression

from occupancy.api.app import create_app
from occupancy.config import Settings

pytestmark = pytest.mark.integration
TOKEN = {"Authorization": "Bearer t0ken"}


def settings_for(tmp_path, url: str) -> Settings:
    return Settings(
        home=tmp_path,
        mlflow_tracking_uri=url,
        model_name=f"faults-{uuid.uuid4().hex[:8]}",
        api_token=SecretStr("t0ken"),
    )


def test_mlflow_down_at_start_is_live_not_ready_then_recovers(
    tmp_path, fitted, mlflow_launcher
) -> None:
    port = free_port()
    settings = settings_for(tmp_path, f"http://127.0.0.1:{port}")
    with TestClient(create_app(settings, poll_seconds=0.5)) as client:
        assert client.get("/health/live").status_code == 200
        wait_until(
            lambda: client.get("/model").json()["last_error"] is not None, 30, "a failed check"
        )
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        assert "cannot reach MLflow" in ready.json()["detail"]
        assert client.post("/predict", json={"listings": [{"price": "$50.00"}]}).status_code == 503
        server = mlflow_launcher.start(port=port)
        publish(server.url, settings.model_name, *fitted)
        wait_ready(client)
        assert client.post("/predict", json={"listings": [{"price": "$50.00"}]}).status_code == 200


def test_mlflow_stopped_after_load_keeps_serving(tmp_path, fitted, mlflow_launcher) -> None:
    server = mlflow_launcher.start()
    settings = settings_for(tmp_path, server.url)
    publish(server.url, settings.model_name, *fitted)
    with TestClient(create_app(settings, poll_seconds=0.5)) as client:
        wait_ready(client)
        server.stop()
        wait_until(
            lambda: client.get("/model").json()["last_error"] is not None, 30, "a failed check"
        )
        assert client.get("/health/ready").status_code == 200
        response = client.post(
            "/predict", json={"listings": [{"price": "$50.00", "room_type": "Private room"}]}
        )
        assert response.status_code == 200
        assert response.json()["model"]["version"] == "1"


def test_alias_moved_to_a_version_with_missing_artifacts_keeps_the_previous_model(
    tmp_path, fitted, mlflow_server, s3_server
) -> None:
    settings = settings_for(tmp_path, mlflow_server.url)
    publish(settings.mlflow_tracking_uri, settings.model_name, *fitted)
    with TestClient(create_app(settings, poll_seconds=3600)) as client:
        wait_ready(client)
        version, model_id = publish_with_id(
            settings.mlflow_tracking_uri, settings.model_name, *fitted
        )
        s3 = s3_server.client()
        keys = [
            o["Key"]
            for o in s3.list_objects_v2(Bucket="mlflow-artifacts").get("Contents", [])
            if model_id in o["Key"]
        ]
        assert keys, "the new version's artifacts are in S3 before we delete them"
        s3.delete_objects(Bucket="mlflow-artifacts", Delete={"Objects": [{"Key": k} for k in keys]})
        info = client.post("/model/reload", headers=TOKEN).json()
        assert version == "2"
        assert info["version"] == "1"
        assert info["last_error"]
        assert (
            client.post("/predict", json={"listings": [{"price": "$50.00"}]}).json()["model"][
                "version"
            ]
            == "1"
        )
        assert 'occupancy_model_reloads_total{outcome="failed"} 1.0' in client.get("/metrics").text


def test_alias_moved_to_an_incompatible_model_keeps_the_previous_model(
    tmp_path, fitted, mlflow_server
) -> None:
    settings = settings_for(tmp_path, mlflow_server.url)
    publish(settings.mlflow_tracking_uri, settings.model_name, *fitted)
    with TestClient(create_app(settings, poll_seconds=3600)) as client:
        wait_ready(client)
        other = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
        incompatible = LogisticRegression().fit(other, ["zero", "low", "mid", "high"])
        publish(settings.mlflow_tracking_uri, settings.model_name, incompatible, other)
        info = client.post("/model/reload", headers=TOKEN).json()
        assert info["version"] == "1"
        assert info["last_error"]
        response = client.post("/predict", json={"listings": [{"price": "$50.00"}]})
        assert response.json()["model"]["version"] == "1"
