"""Step 1, ingest: validate the raw CSV against the contract and snapshot it into the lake.

Valid rows become a Parquet snapshot (every column kept, as text); invalid rows go to a
quarantine file with one reason each. The step fails, publishing nothing, when the file is not a
listings CSV, lacks required columns, has no rows, or has more invalid rows than allowed.
"""

from __future__ import annotations

import csv
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from occupancy.config import Settings
from occupancy.data.csvio import batch_to_frame, iter_batches, open_listings_csv
from occupancy.data.schema import ID_COLUMN, REQUIRED_FOR_TRAINING
from occupancy.data.validate import validate_rows
from occupancy.digest import file_digest
from occupancy.errors import DataError, QualityError
from occupancy.lake import Lake, local_workdir
from occupancy.steps.layout import MANIFEST, check_run_id, ingest_prefix

log = logging.getLogger(__name__)


class _Quarantine:
    """Invalid rows with their reasons, written as CSV (row number, id, reason)."""

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
            self._writer.writerow([row, listing_id, reason])
            self.by_column[reason.split("'")[1] if "'" in reason else "row"] += 1
            if self.first is None:
                self.first = f"row {row}, {reason}"
        self.count += len(reasons)

    def close(self) -> None:
        self._handle.close()


def run_ingest(settings: Settings, run_id: str, raw_uri: str | None = None) -> dict[str, Any]:
    """Validate `raw_uri` (default OCCUPANCY_RAW_URI) and publish the snapshot of run `run_id`."""
    check_run_id(run_id)
    lake = Lake(settings.lake_uri)
    prefix = ingest_prefix(run_id)
    if lake.exists(f"{prefix}/{MANIFEST}"):
        log.info("ingest of run %s already published; nothing to do", run_id)
        return {**lake.read_json(f"{prefix}/{MANIFEST}"), "reused": True}

    source_uri = raw_uri or settings.raw_uri
    started = time.perf_counter()
    with local_workdir() as work, open_listings_csv(source_uri, REQUIRED_FOR_TRAINING) as source:
        snapshot_path = work / "listings.parquet"
        quarantine = _Quarantine(work / "quarantine.csv")
        rows_read = 0
        writer: pq.ParquetWriter | None = None
        seen_ids: set[int] = set()
        try:
            for batch in iter_batches(source):
                frame = batch_to_frame(batch)
                problems = validate_rows(frame, REQUIRED_FOR_TRAINING, seen_ids=seen_ids)
                bad = problems.notna().to_numpy()
                if bad.any():
                    row_numbers = frame.index[bad] + rows_read + 1
                    quarantine.add(row_numbers, frame.loc[bad, ID_COLUMN], problems[bad])
                good = batch.filter(pa.array(~bad))
                if writer is None:
                    writer = pq.ParquetWriter(snapshot_path, batch.schema, compression="zstd")
                writer.write_batch(good)
                rows_read += batch.num_rows
                log.info(
                    "ingest: %s rows read, %s quarantined",
                    f"{rows_read:,}",
                    f"{quarantine.count:,}",
                )
        finally:
            if writer is not None:
                writer.close()
            quarantine.close()

        if rows_read == 0:
            raise DataError(f"{source_uri} has a header but no data rows")
        # Keep the evidence even when failing; without a manifest nothing is published.
        lake.upload(quarantine.path, f"{prefix}/quarantine.csv")
        bad_fraction = quarantine.count / rows_read
        if bad_fraction > settings.max_bad_row_fraction:
            raise QualityError(
                f"{quarantine.count:,} of {rows_read:,} rows ({bad_fraction:.1%}) in {source_uri} "
                f"are invalid, more than the allowed {settings.max_bad_row_fraction:.0%} "
                f"(OCCUPANCY_MAX_BAD_ROW_FRACTION); first: {quarantine.first}; all reasons in "
                f"{lake.uri(f'{prefix}/quarantine.csv')}"
            )

        lake.upload(snapshot_path, f"{prefix}/listings.parquet")
        summary = {
            "step": "ingest",
            "run_id": run_id,
            "source": source_uri,
            "rows_read": rows_read,
            "rows_valid": rows_read - quarantine.count,
            "rows_quarantined": quarantine.count,
            "quarantined_by_column": dict(quarantine.by_column.most_common()),
            "columns": len(source.columns),
            "snapshot": lake.uri(f"{prefix}/listings.parquet"),
            "quarantine": lake.uri(f"{prefix}/quarantine.csv"),
            "digest": file_digest(snapshot_path),
            "seconds": round(time.perf_counter() - started, 2),
        }
    lake.write_json(f"{prefix}/{MANIFEST}", summary)  # published: the manifest comes last
    return summary
