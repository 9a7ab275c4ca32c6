"""The API's prediction log on a local lake: what a record holds, when files are written, and that
a full queue or a refusing lake drops and counts records while the API keeps answering."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from api_fakes import FakeHolder
from prometheus_client import CollectorRegistry

from occupancy.api.holder import ServedModel
from occupancy.api.metrics import ApiMetrics
from occupancy.api.prediction_log import PREFIX, SCHEMA, PredictionLog, ScoredBatch
from occupancy.data.clean import MODEL_INPUT_COLUMNS, clean_listings
from occupancy.data.parsing import records_to_raw_strings
from occupancy.data.rows import raw_listing
from occupancy.lake import Lake


def _files(settings) -> list[Path]:
    root = Path(settings.lake_uri.removeprefix("file://")) / PREFIX
    return sorted(root.rglob("*.parquet"))


def _counted(registry: CollectorRegistry, outcome: str) -> float:
    value = registry.get_sample_value(
        "occupancy_prediction_log_records_total", {"outcome": outcome}
    )
    return value or 0.0


def test_every_scored_listing_is_logged_with_its_input_probabilities_and_request(
    api, settings, served: ServedModel, listings
) -> None:
    posted = listings(3)
    with api(settings, FakeHolder(served)) as client:
        response = client.post(
            "/predict", json={"listings": posted}, headers={"X-Request-Id": "req-1"}
        )
        assert response.status_code == 200
        assert _files(settings) == []  # batched: nothing written per request
    # The app stopped: what was queued is written, in one file.
    (written,) = _files(settings)
    assert written.parent.name.startswith("date=")
    table = pq.read_table(written)
    assert table.schema == SCHEMA
    logged = table.to_pandas()
    answer = response.json()
    assert list(logged["id"]) == [p["id"] for p in answer["predictions"]]
    assert set(logged["request_id"]) == {"req-1"}
    assert set(logged["model_version"]) == {served.version}
    assert list(logged["occupancy_level"]) == [p["occupancy_level"] for p in answer["predictions"]]
    for level in ("zero", "low", "mid", "high"):
        expected = [p["probabilities"][level] for p in answer["predictions"]]
        assert list(logged[f"p_{level}"]) == pytest.approx(expected, abs=1e-12)
    # The model input as cleaned for scoring, equal to the batch cleaning of the same listings.
    cleaned = clean_listings(records_to_raw_strings([raw_listing(x) for x in posted]))
    pd.testing.assert_frame_equal(
        logged[list(MODEL_INPUT_COLUMNS)].replace({None: np.nan}),
        cleaned.astype({c: object for c in cleaned.select_dtypes("object")}).replace(
            {None: np.nan}
        ),
        check_dtype=False,
    )


def test_a_large_batch_and_the_page_are_logged_too(
    api, settings, served: ServedModel, listings
) -> None:
    with api(settings, FakeHolder(served)) as client:
        assert client.post("/predict", json={"listings": listings(100)}).status_code == 200
        assert client.post("/", data={"price": "100", "accommodates": "2"}).status_code == 200
    logged = pq.read_table(_files(settings)[0]).to_pandas()
    assert len(logged) == 101  # the page's answer once: its why and what-if rows are not logged
    assert logged["price"].iloc[-1] == 100.0 and pd.isna(logged["id"].iloc[-1])


def test_the_log_writes_when_its_time_comes_while_the_api_runs(
    api, settings, served: ServedModel, listings
) -> None:
    quick = settings.model_copy(update={"prediction_log_flush_seconds": 0.2})
    with api(quick, FakeHolder(served)) as client:
        client.post("/predict", json={"listings": listings(2)})
        deadline = time.monotonic() + 10
        while not _files(quick) and time.monotonic() < deadline:
            threading.Event().wait(0.05)
        assert len(_files(quick)) == 1, "nothing written within 10 s of a 0.2 s flush interval"
        metrics = client.get("/metrics").text
    assert 'occupancy_prediction_log_records_total{outcome="written"} 2.0' in metrics


def test_switched_off_nothing_is_logged(api, settings, served: ServedModel, listings) -> None:
    off = settings.model_copy(update={"prediction_log": False})
    with api(off, FakeHolder(served)) as client:
        assert client.post("/predict", json={"listings": listings(2)}).status_code == 200
    assert _files(off) == []


def _batch(served: ServedModel, rows: int, listings) -> ScoredBatch:
    posted = listings(rows)
    cleaned = clean_listings(records_to_raw_strings([raw_listing(x) for x in posted]))
    return ScoredBatch(
        pd.Timestamp.now(tz="UTC").to_pydatetime(),
        "r",
        served.name,
        served.version,
        [x["id"] for x in posted],
        cleaned,
        served.predict_proba(cleaned),
    )


def test_a_full_queue_drops_and_counts_instead_of_growing(
    tmp_path, served: ServedModel, listings
) -> None:
    metrics = ApiMetrics()
    log = PredictionLog(Lake(tmp_path.as_uri()), metrics, flush_records=10, max_queued=5)
    log.log(_batch(served, 4, listings))
    log.log(_batch(served, 3, listings))  # 7 > 5: dropped
    assert _counted(metrics.registry, "dropped_queue_full") == 3
    log.start()
    log.stop()
    assert _counted(metrics.registry, "written") == 4
    assert len(pq.read_table(next((tmp_path / PREFIX).rglob("*.parquet")))) == 4


def test_enough_records_are_written_without_waiting_for_the_interval(
    tmp_path, served: ServedModel, listings
) -> None:
    metrics = ApiMetrics()
    log = PredictionLog(Lake(tmp_path.as_uri()), metrics, flush_seconds=3600, flush_records=5)
    log.start()
    try:
        log.log(_batch(served, 6, listings))
        deadline = time.monotonic() + 10
        while not _counted(metrics.registry, "written") and time.monotonic() < deadline:
            threading.Event().wait(0.05)
        assert _counted(metrics.registry, "written") == 6
    finally:
        log.stop()


def test_a_lake_that_refuses_writes_loses_the_records_counted_and_the_api_keeps_serving(
    api, settings, served: ServedModel, listings, tmp_path, caplog
) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the lake's folder should be")
    broken = settings.model_copy(update={"prediction_log_uri": blocked.as_uri()})
    with api(broken, FakeHolder(dataclasses.replace(served))) as client:
        for _ in range(3):
            assert client.post("/predict", json={"listings": listings(2)}).status_code == 200
        app_log = client.app.state.prediction_log  # type: ignore[attr-defined]
        registry = app_log.metrics.registry
    assert _counted(registry, "dropped_write_failed") == 6
    assert _counted(registry, "written") == 0
    assert "prediction log: 6 records dropped" in caplog.text
