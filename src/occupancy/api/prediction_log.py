"""The prediction log: every listing the API scored, appended to the lake as Parquet, in batches.

A request only hands its scored batch to a bounded in-memory queue: no copy, no conversion, no
I/O. One writer thread turns what is queued into one Parquet file under
`predictions/date=YYYY-MM-DD/` once `flush_records` records wait or the oldest has waited
`flush_seconds`, and writes what is left when the API stops. Each file is written whole (one PUT,
or an atomic rename on a local lake): a reader never sees half of one.

Logging never fails a request and never makes one wait: a batch that finds the queue full is
dropped, and so is a file the lake refuses (S3 down, no permission), its records counted by
reason in `/metrics` and the first failure of a streak logged; the API keeps serving. The record
is what monitoring needs: when, which model version, the request id, the listing id, the cleaned
model input, the probabilities and the level.
"""

from __future__ import annotations

import io
import logging
import os
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from occupancy.api.holder import ServedModel
from occupancy.api.metrics import ApiMetrics
from occupancy.data.clean import (
    AMENITIES_COLUMN,
    CATEGORICAL_FEATURES,
    MODEL_INPUT_COLUMNS,
    NUMERIC_FEATURES,
)
from occupancy.data.rows import CleanedRows
from occupancy.data.schema import CLASSES, ID_COLUMN
from occupancy.lake import Lake

log = logging.getLogger(__name__)

PREFIX = "predictions"
FLUSH_RECORDS = 5_000
MAX_QUEUED_RECORDS = 100_000  # about 60 MB of queued batches at worst: a bound, not a target
PROBABILITY_COLUMNS = tuple(f"p_{level}" for level in CLASSES)
SCHEMA = pa.schema(
    [
        pa.field("logged_at", pa.timestamp("ms", tz="UTC")),
        pa.field("request_id", pa.string()),
        pa.field("model_name", pa.string()),
        pa.field("model_version", pa.string()),
        pa.field("id", pa.string()),
        *(
            pa.field(name, pa.float64() if name in NUMERIC_FEATURES else pa.string())
            for name in MODEL_INPUT_COLUMNS
        ),
        *(pa.field(name, pa.float64()) for name in PROBABILITY_COLUMNS),
        pa.field("occupancy_level", pa.string()),
    ]
)


@dataclass(frozen=True)
class ScoredBatch:
    """One request's scored listings, as the request thread hands them over."""

    logged_at: datetime
    request_id: str
    model_name: str
    model_version: str
    ids: Sequence[str | None]
    cleaned: CleanedRows | pd.DataFrame
    probabilities: np.ndarray

    @property
    def records(self) -> int:
        return len(self.ids)

    def rows(self) -> CleanedRows:
        """The model input as CleanedRows, whichever path scored it."""
        if not isinstance(self.cleaned, pd.DataFrame):
            return self.cleaned
        frame = self.cleaned
        return CleanedRows(
            numeric=frame[list(NUMERIC_FEATURES)].to_numpy(dtype="float64"),
            categorical=[frame[name].tolist() for name in CATEGORICAL_FEATURES],
            amenities=frame[AMENITIES_COLUMN].tolist(),
        )


def log_table(batches: Sequence[ScoredBatch]) -> pa.Table:
    """Many batches as one table of log rows (SCHEMA), column by column.

    Built once per file, not per batch: at hundreds of single-listing requests a second, a table
    (or a DataFrame) per batch cost the writer thread about a millisecond each, GIL held, which
    cut the API's throughput by 7x. Lists and one vstack cost microseconds per record.
    """
    repeated: dict[str, list[Any]] = {
        name: [] for name in ("logged_at", "request_id", "model_name", "model_version", "id")
    }
    categorical: list[list[Any]] = [[] for _ in CATEGORICAL_FEATURES]
    amenities: list[Any] = []
    numeric, probabilities = [], []
    for batch in batches:
        count = batch.records
        repeated["logged_at"] += [batch.logged_at] * count
        repeated["request_id"] += [batch.request_id] * count
        repeated["model_name"] += [batch.model_name] * count
        repeated["model_version"] += [batch.model_version] * count
        repeated["id"] += list(batch.ids)
        rows = batch.rows()
        numeric.append(rows.numeric)
        for column, values in zip(categorical, rows.categorical, strict=True):
            column += values
        amenities += rows.amenities
        probabilities.append(batch.probabilities)
    matrix = np.vstack(numeric)
    scores = np.vstack(probabilities)
    columns: dict[str, Any] = {
        name: pa.array(values, SCHEMA.field(name).type) for name, values in repeated.items()
    }
    for i, name in enumerate(NUMERIC_FEATURES):
        columns[name] = pa.array(matrix[:, i], pa.float64())
    for name, values in zip(CATEGORICAL_FEATURES, categorical, strict=True):
        columns[name] = pa.array(values, pa.string(), from_pandas=True)  # NaN or None: null
    columns[AMENITIES_COLUMN] = pa.array(amenities, pa.string(), from_pandas=True)
    for i, name in enumerate(PROBABILITY_COLUMNS):
        columns[name] = pa.array(scores[:, i], pa.float64())
    levels = np.asarray(CLASSES, dtype=object)[scores.argmax(axis=1)]
    columns["occupancy_level"] = pa.array(levels, pa.string())
    return pa.table(columns, schema=SCHEMA)


@dataclass
class PredictionLog:
    """The queue and its writer thread; `log()` is the only call on a request's path."""

    lake: Lake
    metrics: ApiMetrics
    flush_seconds: float = 30.0
    flush_records: int = FLUSH_RECORDS
    max_queued: int = MAX_QUEUED_RECORDS
    _queue: list[ScoredBatch] = field(default_factory=list, init=False, repr=False)
    _queued: int = field(default=0, init=False, repr=False)
    _oldest: float | None = field(default=None, init=False, repr=False)
    _wake: threading.Condition = field(default_factory=threading.Condition, init=False, repr=False)
    _stopping: bool = field(default=False, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _failing: bool = field(default=False, init=False, repr=False)
    _files: count[int] = field(default_factory=count, init=False, repr=False)

    def log(self, batch: ScoredBatch) -> None:
        """Queue one request's batch, or drop and count it when the queue is full."""
        with self._wake:
            if self._stopping:  # a request finishing after the log's final write
                self.metrics.prediction_log_records.labels("dropped_stopped").inc(batch.records)
                return
            if self._queued + batch.records > self.max_queued:
                self.metrics.prediction_log_records.labels("dropped_queue_full").inc(batch.records)
                return
            first = self._oldest is None
            self._queue.append(batch)
            self._queued += batch.records
            self._oldest = self._oldest or time.monotonic()
            self.metrics.prediction_log_queued.set(self._queued)
            if first or self._queued >= self.flush_records:
                self._wake.notify()  # the writer starts the clock, or writes now

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 20.0) -> None:
        """Write what is queued, then stop the writer (waiting at most `timeout` seconds)."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._due():
                    self._wake.wait(self._until_due())
                batches, self._queue, self._queued, self._oldest = self._queue, [], 0, None
                self.metrics.prediction_log_queued.set(0)
                stopping = self._stopping
            if batches:
                self._write(batches)
            if stopping:
                return

    def _due(self) -> bool:
        if self._stopping or self._queued >= self.flush_records:
            return True
        return self._oldest is not None and time.monotonic() - self._oldest >= self.flush_seconds

    def _until_due(self) -> float | None:
        if self._oldest is None:
            return None  # nothing queued: sleep until a batch or the stop wakes the thread
        return max(0.0, self.flush_seconds - (time.monotonic() - self._oldest))

    def _write(self, batches: list[ScoredBatch]) -> None:
        records = sum(batch.records for batch in batches)
        try:
            table = log_table(batches)
            buffer = io.BytesIO()
            pq.write_table(table, buffer, compression="zstd")
            self.lake.write_bytes(self._key(batches[0].logged_at), buffer.getvalue())
        except Exception as exc:
            self.metrics.prediction_log_records.labels("dropped_write_failed").inc(records)
            if not self._failing:
                log.warning(
                    "prediction log: %s records dropped, %s refused the write (%s: %s); "
                    "the API keeps serving and counts what it drops",
                    records,
                    self.lake.uri(PREFIX),
                    type(exc).__name__,
                    exc,
                )
            self._failing = True
            return
        if self._failing:
            log.warning("prediction log: %s accepts writes again", self.lake.uri(PREFIX))
        self._failing = False
        self.metrics.prediction_log_records.labels("written").inc(records)
        self.metrics.prediction_log_last_write.set(time.time())

    def _key(self, at: datetime) -> str:
        # Unique per process and file, so replicas and workers never overwrite each other.
        stamp = at.astimezone(UTC)
        name = f"{stamp:%Y%m%dT%H%M%S}-{socket.gethostname()}-{os.getpid()}-{next(self._files)}"
        return f"{PREFIX}/date={stamp:%Y-%m-%d}/{name}.parquet"


@dataclass(frozen=True)
class Logged:
    """A request's handle on the log (which may be off): what it scored, and its request id."""

    prediction_log: PredictionLog | None
    request_id: str

    def scored(
        self,
        served: ServedModel,
        listings: Sequence[Mapping[str, Any]],
        cleaned: CleanedRows | pd.DataFrame,
        probabilities: np.ndarray,
    ) -> None:
        if self.prediction_log is None:
            return
        ids = [None if (v := listing.get(ID_COLUMN)) is None else str(v) for listing in listings]
        self.prediction_log.log(
            ScoredBatch(
                datetime.now(UTC),
                self.request_id,
                served.name,
                served.version,
                ids,
                cleaned,
                probabilities,
            )
        )
