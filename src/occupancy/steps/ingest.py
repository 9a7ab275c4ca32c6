"""Step ingest: validate the raw CSV against the contract and snapshot it into the lake.

Valid rows become a Parquet snapshot (every column kept, as text); invalid rows go to a
quarantine file with one reason each. The step fails, publishing nothing, when the file is not a
listings CSV, lacks required columns, has no rows, or has more invalid rows than allowed.

The manifest records the raw file's URI, digest and size, so that a rerun of the run id with
another raw file is refused instead of silently returning the old snapshot.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from occupancy.config import Settings
from occupancy.data.csvio import iter_tables, open_listings_csv
from occupancy.data.csvsafe import neutralise_cell
from occupancy.data.schema import ID_COLUMN, RAW_COLUMNS, REQUIRED_FOR_TRAINING, Kind
from occupancy.data.validate import validate_rows
from occupancy.digest import file_digest, stream_digest
from occupancy.download import download, is_http, limits_from
from occupancy.errors import DataError, QualityError
from occupancy.lake import local_workdir, open_input
from occupancy.run_layout import LISTINGS, QUARANTINE, StepOutputs, open_run
from occupancy.sources import check_source_name, name_or_default

log = logging.getLogger(__name__)
_PROGRESS_ROWS = 100_000


class _Quarantine:
    """Invalid rows with their reasons, written as CSV (row number, id, reason).

    The id and the reason quote raw user values, so both are neutralised against formula
    injection; the row number is written as a number.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle = path.open("w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._handle)
        self._writer.writerow(["row", "id", "reason"])
        self.count = 0
        self.by_column: Counter[str] = Counter()
        self.first: str | None = None

    def add(self, rows: Any, ids: Any, reasons: Any) -> None:
        for row, listing_id, reason in zip(rows, ids, reasons, strict=True):
            shown_id = "" if listing_id is None else neutralise_cell(str(listing_id))
            self._writer.writerow([row, shown_id, neutralise_cell(reason)])
            self.by_column[reason.split("'")[1] if "'" in reason else "row"] += 1
            if self.first is None:
                self.first = f"row {row}, {reason}"
        self.count += len(reasons)

    def close(self) -> None:
        self._handle.close()


class _SnapshotWriter:
    """Parquet snapshot of valid rows, written in a background thread in ~64k-row groups.

    Writing overlaps with parsing and validation; statistics are off because min/max of long
    free-text columns cost more than the rest of the write and nothing filters on them.
    """

    ROW_GROUP = 65_536

    def __init__(self, path: Path, columns: tuple[str, ...]) -> None:
        schema = pa.schema([pa.field(name, pa.string()) for name in columns])
        short = [
            c.name
            for c in RAW_COLUMNS
            if c.name in columns and c.kind not in (Kind.TEXT, Kind.JSON_LIST)
        ]
        self._writer = pq.ParquetWriter(
            path, schema, compression="lz4", use_dictionary=short, write_statistics=False
        )
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-write")
        self._pending: Future[None] | None = None
        self._buffer: list[pa.Table] = []
        self._buffered = 0

    def add(self, batch: pa.Table) -> None:
        self._buffer.append(batch)
        self._buffered += batch.num_rows
        if self._buffered >= self.ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        table = pa.concat_tables(self._buffer)
        self._buffer, self._buffered = [], 0
        if self._pending is not None:
            self._pending.result()  # at most one write in flight: memory stays bounded
        self._pending = self._pool.submit(self._writer.write_table, table)

    def __enter__(self) -> _SnapshotWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if exc_info[0] is None:
                self._flush()
            if self._pending is not None:
                self._pending.result()
        finally:
            self._pool.shutdown(wait=True)
            self._writer.close()


def run_ingest(
    settings: Settings, run_id: str, raw_uri: str | None = None, source: str | None = None
) -> dict[str, Any]:
    """Validate `raw_uri` (default OCCUPANCY_RAW_URI) and publish the snapshot of run `run_id`.

    With `source`, the snapshot is that source's, one of several of the run (the combine step
    joins them), and a failure is recorded for the combine step's report.
    """
    run = open_run(settings, run_id)
    source_uri = raw_uri or settings.raw_uri
    if source is None:
        return _ingest(settings, run.ingest, run_id, source_uri, name_or_default(source_uri))
    layout = run.source(check_source_name(source))
    with layout.failures_recorded("ingest"):
        return _ingest(settings, layout.ingest, run_id, source_uri, source)


def _ingest(
    settings: Settings, outputs: StepOutputs, run_id: str, source_uri: str, name: str
) -> dict[str, Any]:
    if (published := outputs.published()) is not None:
        # Another URI is refused without reading it; the same URI must still hold the same bytes.
        same_uri = published.get("source") == source_uri
        inputs = _source(settings, source_uri) if same_uri else {"source": source_uri}
        return outputs.reuse(published, inputs)

    started = time.perf_counter()
    writer = outputs.new_writer()
    with (
        local_workdir() as work,
        fetched_source(settings, source_uri, work) as (source_inputs, local),
        open_listings_csv(
            source_uri, REQUIRED_FOR_TRAINING, endpoint_url=settings.s3_endpoint_url, local=local
        ) as source,
    ):
        snapshot_path = work / LISTINGS
        quarantine = _Quarantine(work / QUARANTINE)
        rows_read = 0
        seen_ids: set[int] = set()
        try:
            with _SnapshotWriter(snapshot_path, source.columns) as snapshot:
                for batch in iter_tables(source):
                    verdict = validate_rows(batch, REQUIRED_FOR_TRAINING, seen_ids=seen_ids)
                    if verdict.bad.any():
                        rows = np.flatnonzero(verdict.bad)
                        ids = batch.column(ID_COLUMN).take(pa.array(rows)).to_pylist()
                        quarantine.add((rows + rows_read + 1).tolist(), ids, verdict.reasons)
                    snapshot.add(batch.filter(pa.array(~verdict.bad)))
                    before, rows_read = rows_read, rows_read + batch.num_rows
                    if rows_read // _PROGRESS_ROWS > before // _PROGRESS_ROWS:
                        log.info(
                            "ingest: %s rows read, %s quarantined",
                            f"{rows_read:,}",
                            f"{quarantine.count:,}",
                        )
        finally:
            quarantine.close()
        log.info("ingest: %s rows read, %s quarantined", f"{rows_read:,}", f"{quarantine.count:,}")

        if rows_read == 0:
            raise DataError(f"{source_uri} has a header but no data rows")
        # Keep the evidence even when failing; without a manifest nothing is published.
        quarantine_uri = outputs.upload(quarantine.path, QUARANTINE, writer)
        bad_fraction = quarantine.count / rows_read
        if bad_fraction > settings.max_bad_row_fraction:
            raise QualityError(
                f"{quarantine.count:,} of {rows_read:,} rows ({bad_fraction:.1%}) in {source_uri} "
                f"are invalid, more than the allowed {settings.max_bad_row_fraction:.0%} "
                f"(OCCUPANCY_MAX_BAD_ROW_FRACTION); first: {quarantine.first}; all reasons in "
                f"{quarantine_uri}"
            )

        snapshot_uri = outputs.upload(snapshot_path, LISTINGS, writer)
        summary = {
            "step": "ingest",
            "run_id": run_id,
            "writer": writer,
            "source_name": name,
            **source_inputs,
            "rows_read": rows_read,
            "rows_valid": rows_read - quarantine.count,
            "rows_quarantined": quarantine.count,
            "quarantined_by_column": dict(quarantine.by_column.most_common()),
            "columns": len(source.columns),
            "snapshot": snapshot_uri,
            "quarantine": quarantine_uri,
            "digest": file_digest(snapshot_path),
            "seconds": round(time.perf_counter() - started, 2),
        }
    outputs.publish(summary)
    return summary


@contextlib.contextmanager
def fetched_source(
    settings: Settings, uri: str, work: Path
) -> Iterator[tuple[dict[str, Any], Path | None]]:
    """The raw input's manifest record, and its local copy when it had to be downloaded.

    A URL is downloaded once into `work`, its digest taken on the way, and then read from disk.
    Anything else is read twice, first whole for its digest, so that a file replaced while the
    step runs reads as another input.
    """
    if not is_http(uri):
        yield _source(settings, uri), None
        return
    fetched = download(uri, work / "source", limits_from(settings))
    if fetched.attempts > 1:
        log.info("ingest: %s downloaded in %d tries", uri, fetched.attempts)
    yield (
        {"source": uri, "source_digest": fetched.digest, "source_bytes": fetched.bytes},
        (fetched.path),
    )


def _source(settings: Settings, uri: str) -> dict[str, Any]:
    """The raw input as a manifest records it: URI, digest and size."""
    limits = limits_from(settings)
    with open_input(uri, endpoint_url=settings.s3_endpoint_url, limits=limits) as handle:
        digest, size = stream_digest(handle)
    return {"source": uri, "source_digest": digest, "source_bytes": size}
