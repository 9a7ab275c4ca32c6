"""One treatment run over the three real city files, on a real scheduler, S3 and MLflow server.

data_treatment_dag maps ingest and treat over the sources (LocalExecutor runs them side by
side, the steps on the local runner), Antwerp's older schema fails its own ingest with its own
sentence, `OCCUPANCY_SOURCE_FAILURES=continue` combines the two others, and the Asset schedules
training: one champion, with validation and test macro-F1 per source in MLflow, the test ones
equal to what this test computes itself from the champion and the processed table. Then
batch_scoring_dag scores Antwerp with that champion, one task per chunk.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from servers import MlflowServer, PostgresServer, S3Server
from servers.airflow import AirflowStack, start_airflow
from sklearn.metrics import f1_score

pytestmark = pytest.mark.integration

TREAT, TRAIN, SCORE = "data_treatment_dag", "train_pipeline_dag", "batch_scoring_dag"
TRAINABLE = ("jersey-city_2025-09-25", "newark_2025-09-30")
ANTWERP = "antwerp_2024-06-29"  # no estimated_occupancy_l365d (tests/data/README.md)
LEVELS = ["zero", "low", "mid", "high"]


@pytest.fixture
def experiment() -> str:
    return f"sources-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def lake(s3_server: S3Server, real_data_dir: Path) -> tuple[str, list[str]]:
    """A fresh lake prefix with the three real files under raw/, and their URIs."""
    prefix = f"it-{uuid.uuid4().hex[:8]}"
    uris = []
    for city in (*TRAINABLE, ANTWERP):
        key = f"{prefix}/raw/{city}_listings.csv.gz"
        s3_server.client().upload_file(
            str(real_data_dir / f"{city}_listings.csv.gz"), "occupancy-lake", key
        )
        uris.append(f"s3://occupancy-lake/{key}")
    return f"s3://occupancy-lake/{prefix}", uris


@pytest.fixture
def airflow(
    postgres_server: PostgresServer,
    s3_server: S3Server,
    mlflow_server: MlflowServer,
    lake: tuple[str, list[str]],
    experiment: str,
    tmp_path: Path,
) -> Iterator[AirflowStack]:
    env = {
        **s3_server.env(),
        "OCCUPANCY_HOME": str(tmp_path / "occupancy"),
        "OCCUPANCY_LAKE_URI": lake[0],
        "MLFLOW_TRACKING_URI": mlflow_server.url,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "OCCUPANCY_EXPERIMENT_NAME": experiment,
        "OCCUPANCY_MODEL_NAME": experiment,
        "OCCUPANCY_MODEL_FAMILIES": "logreg,hgb",
        "OCCUPANCY_SOURCE_FAILURES": "continue",
        "OCCUPANCY_MAX_PARALLEL_SOURCES": "3",
        "OCCUPANCY_SCORE_CHUNK_ROWS": "1000",
    }
    with start_airflow(postgres_server, tmp_path / "airflow", env=env) as stack:
        yield stack


def test_three_real_cities_in_one_run_train_one_champion_with_per_source_metrics(
    airflow: AirflowStack,
    s3_server: S3Server,
    mlflow_server: MlflowServer,
    lake: tuple[str, list[str]],
    experiment: str,
) -> None:
    root, uris = lake
    run_id = airflow.trigger(TREAT, {"pipeline_run_id": "cities-1", "raw_uris": uris})
    treatment = airflow.wait_for_run(TREAT, run_id, timeout=600)
    assert treatment["state"] == "success"  # the policy: continue with the good sources
    states = airflow.task_states(TREAT, run_id)
    assert sorted(k for k in states if k.startswith("ingest[")) == [
        "ingest[0]",
        "ingest[1]",
        "ingest[2]",
    ]
    assert [states[f"ingest[{i}]"] for i in range(3)] == ["success", "success", "failed"]
    assert [states[f"treat[{i}]"] for i in range(3)] == ["success", "success", "skipped"]
    assert states["combine"] == "success"

    # The sources step names each file; the map indexes follow the given order.
    assert airflow.xcom(TREAT, run_id, "sources")["names"] == [*TRAINABLE, ANTWERP]
    combined = _manifest(s3_server, root, "cities-1")
    assert set(combined["rows_by_source"]) == set(TRAINABLE)
    failure = combined["failed_sources"][ANTWERP]
    assert failure["step"] == "ingest" and failure["exit_code"] == 2
    assert f"{uris[2]} lacks required column estimated_occupancy_l365d" in failure["error"]

    trainings = airflow.wait_for("a training run", lambda: airflow.runs(TRAIN) or None, 120)
    training = airflow.wait_for_run(TRAIN, trainings[0]["dag_run_id"], timeout=900)
    assert training["state"] == "success"

    from mlflow.tracking import MlflowClient

    client = MlflowClient(mlflow_server.url)
    version = client.get_model_version_by_alias(experiment, "champion")
    assert version.tags["occupancy.run_id"] == "cities-1"
    family_run = client.get_run(version.run_id)
    for city in TRAINABLE:
        assert 0.0 < family_run.data.metrics[f"val_f1_macro/{city}"] <= 1.0
        assert family_run.data.metrics[f"val_rows/{city}"] > 100
    card = client.download_artifacts(version.run_id, "model_card.md")
    assert all(city in Path(card).read_text() for city in TRAINABLE)

    # The gate's per-source test scores are the champion's own, computed again here.
    parent = client.search_runs(
        [client.get_experiment_by_name(experiment).experiment_id],
        "tags.`occupancy.run_id` = 'cities-1' and tags.`occupancy.role` = 'pipeline'",
    )[0]
    test = _processed(s3_server, root, "cities-1").query("split == 'test'")
    model = _champion(mlflow_server.url, experiment, version.version)
    from occupancy.data.clean import MODEL_INPUT_COLUMNS

    predicted = model.predict(test[list(MODEL_INPUT_COLUMNS)])
    for city in TRAINABLE:
        rows = (test["source"] == city).to_numpy()
        expected = f1_score(
            test["occupancy_level"][rows], predicted[rows], labels=LEVELS, average="macro"
        )
        assert parent.data.metrics[f"test_f1_macro/{city}"] == pytest.approx(expected, abs=1e-9)
        assert parent.data.metrics[f"test_rows/{city}"] == rows.sum()

    # The champion scores the city it never saw, one task per chunk of 1,000 rows.
    scoring = airflow.trigger(SCORE, {"input_uri": uris[2], "scoring_run_id": "antwerp-1"})
    assert airflow.wait_for_run(SCORE, scoring, timeout=600)["state"] == "success"
    states = airflow.task_states(SCORE, scoring)
    assert [states[f"score[{i}]"] for i in range(3)] == ["success"] * 3 and "score[3]" not in states
    summary = airflow.xcom(SCORE, scoring, "summarize")
    assert summary["rows"] == 2870 == summary["rows_scored"] + summary["rows_refused"]
    assert summary["model"] == f"{experiment} v{version.version}"
    assert [uri.rsplit("/", 3)[1] for uri in summary["scores"]] == [
        "part-00000",
        "part-00001",
        "part-00002",
    ]
    assert all(uri.startswith(f"{root}/scores/antwerp-1/") for uri in summary["scores"])


def _manifest(s3: S3Server, root: str, run_id: str) -> dict:
    import json

    key = f"{root.removeprefix('s3://occupancy-lake/')}/runs/{run_id}/processed/_manifest.json"
    return json.loads(s3.client().get_object(Bucket="occupancy-lake", Key=key)["Body"].read())


def _processed(s3: S3Server, root: str, run_id: str) -> pd.DataFrame:
    data = _manifest(s3, root, run_id)["data"].removeprefix("s3://occupancy-lake/")
    body = s3.client().get_object(Bucket="occupancy-lake", Key=data)["Body"].read()
    return pq.read_table(io.BytesIO(body)).to_pandas()


def _champion(tracking_uri: str, experiment: str, version: str):  # type: ignore[no-untyped-def]
    """The champion as the API loads it (skops, trusted types only), through the registry."""
    from occupancy.config import Settings
    from occupancy.registry import Registry

    settings = Settings.model_validate(
        {"MLFLOW_TRACKING_URI": tracking_uri, "model_name": experiment}
    )
    return Registry(settings).load_version(str(version)).model
