"""The prediction log on a real S3 server (SeaweedFS): files written by the API, and an S3 outage
that loses only the log's records, counted, while every request is answered at its usual speed.

The app runs in this process (FastAPI's TestClient) around a real Newark pipeline; the S3 server
is its own process, started here so the test can stop it.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator

import pandas as pd
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from servers.s3 import S3Server, start_s3
from threadpoolctl import threadpool_limits

from occupancy.api.app import create_app
from occupancy.api.holder import ServedModel, with_fast_path
from occupancy.api.prediction_log import PREFIX, SCHEMA
from occupancy.config import Settings
from occupancy.data.clean import MODEL_INPUT_COLUMNS, treat_frame
from occupancy.training.models import FAMILIES

pytestmark = pytest.mark.integration
LAKE_BUCKET = "occupancy-lake"


class _FixedHolder:
    """The holder's surface over one fitted model: the registry is not what is tested here."""

    def __init__(self, served: ServedModel) -> None:
        self.current: ServedModel | None = served
        self.last_error: str | None = None
        self.last_check_at: str | None = None

    def add_listener(self, listener) -> None:
        pass

    def refresh(self) -> str:
        return "unchanged"

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


@pytest.fixture(scope="module")
def served(newark: pd.DataFrame) -> ServedModel:
    table = treat_frame(newark)
    X = table[list(MODEL_INPUT_COLUMNS)]
    model = FAMILIES["logreg"].build({"C": 0.1}, 42).fit(X, table["occupancy_level"])
    plain = ServedModel("log-test", "3", None, None, {}, model)
    return with_fast_path(plain, X.head(50))


@pytest.fixture
def s3(tmp_path) -> Iterator[S3Server]:
    with start_s3(tmp_path / "s3", buckets=(LAKE_BUCKET,)) as server:
        yield server


def _app(
    tmp_path, s3: S3Server, served: ServedModel, monkeypatch, **settings: object
) -> TestClient:
    for name, value in s3.env().items():
        monkeypatch.setenv(name, value)
    config = Settings(
        home=tmp_path / "home",
        lake_uri=f"s3://{LAKE_BUCKET}",
        mlflow_tracking_uri=f"sqlite:///{tmp_path}/unused.db",
        s3_endpoint_url=s3.endpoint_url,
        **settings,
    )
    return TestClient(create_app(config, holder=_FixedHolder(served)))  # type: ignore[arg-type]


def _listings(newark: pd.DataFrame, n: int) -> list[dict[str, str]]:
    return [{k: v for k, v in r.items() if v != ""} for r in newark.head(n).to_dict("records")]


def _logged(s3: S3Server) -> pd.DataFrame:
    client = s3.client()
    keys = [
        o["Key"]
        for o in client.list_objects_v2(Bucket=LAKE_BUCKET, Prefix=f"{PREFIX}/").get("Contents", [])
    ]
    tables = [
        pq.read_table(io.BytesIO(client.get_object(Bucket=LAKE_BUCKET, Key=k)["Body"].read()))
        for k in keys
    ]
    assert all(t.schema == SCHEMA for t in tables)
    return (
        pd.concat([t.to_pandas() for t in tables], ignore_index=True) if tables else pd.DataFrame()
    )


def _sample(client: TestClient, name: str) -> float:
    """One sample of /metrics by its full name, labels included (0 before its first count)."""
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_the_api_writes_its_predictions_to_the_s3_lake(
    tmp_path, s3, served, newark, monkeypatch
) -> None:
    with threadpool_limits(limits=None), _app(tmp_path, s3, served, monkeypatch) as client:
        for n in (1, 5, 80):  # the fast path and the batch path
            assert (
                client.post("/predict", json={"listings": _listings(newark, n)}).status_code == 200
            )
    logged = _logged(s3)
    assert len(logged) == 86
    assert set(logged["model_version"]) == {"3"}
    assert logged["id"].iloc[0] == newark["id"].iloc[0]


def test_an_s3_outage_drops_the_log_counted_and_every_request_is_answered_as_fast(
    tmp_path, s3, served, newark, monkeypatch
) -> None:
    listing = {"listings": _listings(newark, 1)}
    with (
        threadpool_limits(limits=None),
        _app(tmp_path, s3, served, monkeypatch, prediction_log_flush_seconds=0.2) as client,
    ):
        written = 'occupancy_prediction_log_records_total{outcome="written"}'
        failed = 'occupancy_prediction_log_records_total{outcome="dropped_write_failed"}'

        def timed() -> float:
            started = time.perf_counter()
            assert client.post("/predict", json=listing).status_code == 200
            return time.perf_counter() - started

        before = [timed() for _ in range(20)]
        _wait(lambda: _sample(client, written) == 20, "the first records to be written")
        s3.kill()
        during = [timed() for _ in range(20)]
        _wait(lambda: _sample(client, failed) == 20, "the outage's records to be dropped")
        assert _sample(client, written) == 20
    # The write waits for S3 (retries, timeouts) in the writer thread, never in a request.
    assert max(during) < 1.0, f"a request waited {max(during):.2f} s during the outage"
    assert sorted(during)[10] < sorted(before)[10] + 0.05


def _wait(predicate, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        threading.Event().wait(0.1)
