"""Step treat: clean the snapshot, derive the target and the host-grouped split, publish Parquet.

Reads only the columns the features need, batch by batch, so memory stays flat on large inputs.
The processed table is published by its manifest and then by the `processed/latest.json` pointer
that the training DAG's Asset stands for. The snapshot read is checked against the digest in
the ingest manifest, and the manifest records that digest as this step's input.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from occupancy.concurrency import ordered_map
from occupancy.config import Settings
from occupancy.data.clean import CATEGORICAL_FEATURES, NUMERIC_FEATURES, treat_frame
from occupancy.data.schema import (
    CLASSES,
    HOST_ID_COLUMN,
    ID_COLUMN,
    REQUIRED_FOR_TRAINING,
    SOURCE_COLUMN,
    SPLIT_COLUMN,
    TARGET_COLUMN,
    is_leakage_column,
)
from occupancy.digest import file_digest, readable_parquet, verify_file
from occupancy.errors import DataError, SkippedError
from occupancy.lake import local_workdir
from occupancy.run_layout import LISTINGS, REPORT, RunLayout, StepOutputs, open_run
from occupancy.sources import check_source_name, name_or_default

log = logging.getLogger(__name__)
BATCH_ROWS = 100_000

PROCESSED_SCHEMA = pa.schema(
    [
        pa.field(ID_COLUMN, pa.string()),
        pa.field(HOST_ID_COLUMN, pa.string()),
        *(pa.field(name, pa.float64()) for name in NUMERIC_FEATURES),
        *(pa.field(name, pa.string()) for name in CATEGORICAL_FEATURES),
        pa.field("amenities", pa.string()),
        pa.field(TARGET_COLUMN, pa.string()),
        pa.field(SPLIT_COLUMN, pa.string()),
        pa.field(SOURCE_COLUMN, pa.string()),
    ]
)


def run_treat(settings: Settings, run_id: str, source: str | None = None) -> dict[str, Any]:
    """Turn run `run_id`'s ingested snapshot into the published training table.

    With `source`, the table is that source's, one of several of the run: the combine step
    publishes their union and points `processed/latest.json` at it. A source whose ingest
    failed is skipped (SkippedError), so that the others go on.
    """
    run = open_run(settings, run_id)
    if source is None:
        summary = _treat(run, run.ingest, run.processed, run.ingest_manifest())
        if not summary.get("reused"):
            run.point_latest_processed(summary["digest"])
        return summary
    layout = run.source(check_source_name(source))
    with layout.failures_recorded("treat"):
        ingested = layout.ingest.published()
        if ingested is None and (failure := layout.failure()) is not None:
            raise SkippedError(
                f"source {source} of run {run_id} is not treated: its {failure['step']} "
                f"failed: {failure['error']}"
            )
        if ingested is None:
            ingested = layout.ingest.manifest(
                f"run `occupancy step ingest --run-id {run_id} --source {source}` first"
            )
        # One source need not be trainable alone: the combine step checks the union.
        return _treat(run, layout.ingest, layout.processed, ingested, trainable=False)


def _treat(
    run: RunLayout,
    ingest: StepOutputs,
    outputs: StepOutputs,
    ingested: dict[str, Any],
    trainable: bool = True,
) -> dict[str, Any]:
    run_id = run.run_id
    name = ingested.get("source_name") or name_or_default(ingested["source"])
    inputs = {"input_digest": ingested["digest"]}
    if (published := outputs.published()) is not None:
        return outputs.reuse(published, inputs)

    started = time.perf_counter()
    writer = outputs.new_writer()
    classes: Counter[tuple[str, str]] = Counter()
    missing: Counter[str] = Counter()
    rows = 0
    with local_workdir() as work:
        snapshot = verify_file(
            ingest.fetch(ingested, "snapshot", work / "raw.parquet"),
            ingested["digest"],
            ingested["snapshot"],
        )
        with readable_parquet(ingested["snapshot"]):
            parquet = pq.ParquetFile(snapshot)
        present = set(parquet.schema_arrow.names)
        excluded = sorted(name for name in present if is_leakage_column(name))
        needed = [name for name in REQUIRED_FOR_TRAINING if name in present]
        out_path = work / LISTINGS
        batches = parquet.iter_batches(batch_size=BATCH_ROWS, columns=needed)
        with (
            readable_parquet(ingested["snapshot"]),
            pq.ParquetWriter(out_path, PROCESSED_SCHEMA, compression="zstd") as table_writer,
        ):
            for frame in ordered_map(_treat_batch, batches):
                frame[SOURCE_COLUMN] = name
                table_writer.write_table(
                    pa.Table.from_pandas(frame, schema=PROCESSED_SCHEMA, preserve_index=False)
                )
                rows += len(frame)
                counts = frame.groupby([SPLIT_COLUMN, TARGET_COLUMN]).size()
                classes.update({key: int(n) for key, n in counts.items()})
                missing.update(frame.isna().sum().to_dict())
                log.info("treat: %s rows cleaned", f"{rows:,}")
        if trainable:
            check_trainable(classes, rows)
        digest = file_digest(out_path)
        report = _report(run_id, rows, classes, missing, excluded)
        data_uri = outputs.upload(out_path, LISTINGS, writer)
        report_uri = outputs.write_json(REPORT, report, writer)

    summary = {
        "step": "treat",
        "run_id": run_id,
        "writer": writer,
        "source_name": name,
        **inputs,
        "rows": rows,
        "data": data_uri,
        "report": report_uri,
        "digest": digest,
        "split_rows": split_rows(classes),
        "seconds": round(time.perf_counter() - started, 2),
    }
    outputs.publish(summary)
    return summary


def _treat_batch(batch: pa.RecordBatch) -> pd.DataFrame:
    return treat_frame(pa.Table.from_batches([batch]))


def split_rows(classes: Counter[tuple[str, str]]) -> dict[str, int]:
    """Rows per split, from the (split, level) counts."""
    return {
        split: sum(n for (s, _), n in classes.items() if s == split)
        for split in ("train", "valid", "test")
    }


def check_trainable(classes: Counter[tuple[str, str]], rows: int) -> None:
    """Refuse to publish a table no model could be trained and judged on."""
    per_split = {
        split: {c for (s, c), n in classes.items() if s == split and n}
        for split in ("train", "valid", "test")
    }
    empty = [split for split, found in per_split.items() if not found]
    if empty:
        raise DataError(
            f"the {' and '.join(empty)} split{'s are' if len(empty) > 1 else ' is'} empty with "
            f"{rows:,} valid rows: the host-grouped split needs more listings from more hosts"
        )
    if len(per_split["train"]) < 2:
        raise DataError(
            f"the training split holds only the class {sorted(per_split['train'])}: "
            "a classifier needs listings from at least two occupancy levels"
        )


def _report(
    run_id: str,
    rows: int,
    classes: Counter[tuple[str, str]],
    missing: Counter[str],
    excluded: list[str],
) -> dict[str, Any]:
    table = pd.Series(classes).unstack(fill_value=0) if classes else pd.DataFrame()
    return {
        "run_id": run_id,
        "rows": rows,
        "classes_by_split": {
            split: {c: int(table.loc[split].get(c, 0)) for c in CLASSES} for split in table.index
        },
        "missing_fraction": {k: round(v / rows, 4) for k, v in sorted(missing.items()) if v},
        "excluded_leakage_columns": excluded,
    }
