"""batch_scoring_dag's steps on the real S3 server and MLflow server.

A champion trained on Newark scores the real Antwerp file (another city, an older schema) in
chunks: the parts hold exactly what `occupancy predict` writes for the same file with the same
model, the summary adds them up, a rerun reuses every part, another input is refused, and a
champion promoted mid-run does not change the model the run scores with.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from servers import MlflowServer, S3Server

from occupancy.config import Settings
from occupancy.errors import ConfigError, NotFoundError
from occupancy.predict import run_predict
from occupancy.registry import Registry
from occupancy.steps.ingest import run_ingest
from occupancy.steps.promote import run_promote
from occupancy.steps.score import run_score_chunk, run_score_plan, run_score_summary
from occupancy.steps.train import run_train
from occupancy.steps.treat import run_treat

pytestmark = pytest.mark.integration

ANTWERP_ROWS = 2870


@pytest.fixture
def settings(
    s3_server: S3Server,
    mlflow_server: MlflowServer,
    real_data_dir: Path,
    tmp_path: Path,
    monkeypatch,
) -> Settings:
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    suffix = uuid.uuid4().hex[:8]
    lake = f"s3://occupancy-lake/score-{suffix}"
    client = s3_server.client()
    for city in ("newark_2025-09-30", "antwerp_2024-06-29"):
        client.upload_file(
            str(real_data_dir / f"{city}_listings.csv.gz"),
            "occupancy-lake",
            f"score-{suffix}/raw/{city}_listings.csv.gz",
        )
    return Settings(
        home=tmp_path / ".occupancy",
        lake_uri=lake,
        mlflow_tracking_uri=mlflow_server.url,
        model_name=f"scoring-{suffix}",
        experiment_name=f"scoring-{suffix}",
        s3_endpoint_url=s3_server.endpoint_url,
        score_chunk_rows=1000,
    )


def _train_champion(settings: Settings, run_id: str) -> str:
    run_ingest(settings, run_id, f"{settings.lake_uri}/raw/newark_2025-09-30_listings.csv.gz")
    run_treat(settings, run_id)
    run_train(settings, run_id, "logreg")
    return str(run_promote(settings, run_id)["version"])


def _read(s3: S3Server, uri: str) -> pd.DataFrame:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = s3.client().get_object(Bucket=bucket, Key=key)["Body"].read()
    return pq.read_table(io.BytesIO(body)).to_pandas()


def test_a_file_scored_in_chunks_equals_predict_on_the_whole_file(
    settings: Settings, s3_server: S3Server, tmp_path: Path
) -> None:
    antwerp = f"{settings.lake_uri}/raw/antwerp_2024-06-29_listings.csv.gz"
    with pytest.raises(NotFoundError, match="no model at"):
        run_score_plan(settings, "score-0", antwerp)
    version = _train_champion(settings, "train-1")

    plan = run_score_plan(settings, "score-1", antwerp)
    assert plan["model_version"] == version and plan["rows"] == ANTWERP_ROWS
    assert plan["chunks"] == [0, 1, 2]  # 1,000 rows a chunk
    parts = [run_score_chunk(settings, "score-1", chunk) for chunk in plan["chunks"]]
    summary = run_score_summary(settings, "score-1")
    assert summary["rows"] == ANTWERP_ROWS == sum(p["rows"] for p in parts)
    assert summary["rows_scored"] + summary["rows_refused"] == ANTWERP_ROWS
    assert sum(summary["levels"].values()) == summary["rows_scored"] > 2000

    scored = pd.concat([_read(s3_server, uri) for uri in summary["scores"]], ignore_index=True)
    expected_path = tmp_path / "predict.parquet"
    run_predict(settings, antwerp, expected_path)
    expected = pq.read_table(expected_path).to_pandas()
    pd.testing.assert_frame_equal(scored, expected, check_exact=False, rtol=1e-12)

    # Idempotent: the same run reuses everything; another input is refused.
    assert run_score_plan(settings, "score-1", antwerp)["reused"] is True
    assert run_score_chunk(settings, "score-1", 1)["reused"] is True
    with pytest.raises(ConfigError, match="start a new run id"):
        run_score_plan(
            settings, "score-1", f"{settings.lake_uri}/raw/newark_2025-09-30_listings.csv.gz"
        )
    with pytest.raises(ConfigError, match="chunks 0 to 2, not 3"):
        run_score_chunk(settings, "score-1", 3)


def test_a_champion_promoted_mid_run_does_not_change_the_runs_model(
    settings: Settings, s3_server: S3Server
) -> None:
    antwerp = f"{settings.lake_uri}/raw/antwerp_2024-06-29_listings.csv.gz"
    first = _train_champion(settings, "train-a")
    plan = run_score_plan(settings, "score-pinned", antwerp)
    run_score_chunk(settings, "score-pinned", 0)
    # A new version takes the alias while the run is half done.
    registry = Registry(settings)
    second = registry.client.copy_model_version(
        f"models:/{settings.model_name}/{first}", settings.model_name
    ).version
    registry.set_alias(str(second))
    assert str(registry.champion().version) == str(second) != first
    later = run_score_chunk(settings, "score-pinned", 2)
    assert later["model_version"] == plan["model_version"] == first
    with pytest.raises(NotFoundError, match=r"1 unscored chunk\(s\) \(part-00001\)"):
        run_score_summary(settings, "score-pinned")
