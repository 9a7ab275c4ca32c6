"""Step combine: join the per-source processed tables of a run into the one training table.

Each source was ingested and treated on its own (one pod each); this step reads their
published tables (each checked against its manifest's digest), writes their union, which keeps
the `source` column, and publishes it as the run's processed table: the training DAG reads it
like a one-file run's, and `processed/latest.json` points at it.

The split needs no second pass: it is a hash of the host id, so a host with listings in two
cities is in the same split in both, and the union stays grouped by host.

A source with no processed table failed (its task says why; its `_failed.json` repeats it).
`OCCUPANCY_SOURCE_FAILURES` decides the run: `fail` (the default) fails this step naming every
failed source, exit 2 when each one refused its input; `continue` publishes the others and
records the failed ones, with their reasons, in the manifest and the report.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

import pyarrow.parquet as pq

from occupancy.config import Settings
from occupancy.digest import file_digest, readable_parquet, verify_file
from occupancy.errors import EXIT_BAD_INPUT, DataError, PipelineError
from occupancy.lake import local_workdir
from occupancy.run_layout import LISTINGS, REPORT, RunLayout, open_run
from occupancy.sources import check_source_name
from occupancy.steps.treat import PROCESSED_SCHEMA, check_trainable, split_rows

log = logging.getLogger(__name__)


def run_combine(settings: Settings, run_id: str, sources: list[str]) -> dict[str, Any]:
    """Publish the union of the processed tables of `sources` as run `run_id`'s table."""
    if not sources:
        raise DataError(f"run {run_id} names no sources to combine")
    names = [check_source_name(name) for name in sources]
    run = open_run(settings, run_id)
    published, failed = _published_sources(run, names)
    _apply_policy(settings, run_id, published, failed)
    inputs = {"sources": {name: manifest["digest"] for name, manifest in published.items()}}
    if (done := run.processed.published()) is not None:
        return run.processed.reuse(done, inputs)

    started = time.perf_counter()
    writer = run.processed.new_writer()
    classes: Counter[tuple[str, str]] = Counter()
    rows_by_source: dict[str, int] = {}
    with local_workdir() as work:
        out_path = work / LISTINGS
        parts = work / "sources"
        parts.mkdir()
        with pq.ParquetWriter(out_path, PROCESSED_SCHEMA, compression="zstd") as table_writer:
            for name, manifest in published.items():
                outputs = run.source(name).processed
                # Not in `work` itself: a source may be called `listings`, like the output.
                part = verify_file(
                    outputs.fetch(manifest, "data", parts / f"{name}.parquet"),
                    manifest["digest"],
                    manifest["data"],
                )
                with readable_parquet(manifest["data"]):
                    table = pq.read_table(part, schema=PROCESSED_SCHEMA)
                table_writer.write_table(table)
                rows_by_source[name] = table.num_rows
                report = outputs.read_json_of(manifest, "report")
                for split, counts in report["classes_by_split"].items():
                    classes.update({(split, c): n for c, n in counts.items()})
                part.unlink()
                log.info("combine: %s, %s rows", name, f"{table.num_rows:,}")
        rows = sum(rows_by_source.values())
        check_trainable(classes, rows)
        digest = file_digest(out_path)
        data_uri = run.processed.upload(out_path, LISTINGS, writer)
        report_uri = run.processed.write_json(
            REPORT,
            {
                "run_id": run_id,
                "rows": rows,
                "rows_by_source": rows_by_source,
                "classes_by_split": _by_split(classes),
                "failed_sources": failed,
            },
            writer,
        )
    summary = {
        "step": "combine",
        "run_id": run_id,
        "writer": writer,
        **inputs,
        "rows": rows,
        "rows_by_source": rows_by_source,
        "failed_sources": failed,
        "data": data_uri,
        "report": report_uri,
        "digest": digest,
        "split_rows": split_rows(classes),
        "seconds": round(time.perf_counter() - started, 2),
    }
    run.processed.publish(summary)
    run.point_latest_processed(digest)
    return summary


def _published_sources(
    run: RunLayout, names: list[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Each source's processed manifest, and the failure record of each source without one."""
    published: dict[str, dict[str, Any]] = {}
    failed: dict[str, dict[str, Any]] = {}
    for name in names:
        layout = run.source(name)
        manifest = layout.processed.published()
        if manifest is not None:
            published[name] = manifest
            continue
        failed[name] = layout.failure() or {
            "step": "ingest or treat",
            "error": f"no processed table at {layout.processed.uri()} and no failure recorded "
            "(the task did not run, or it was stopped)",
            "exit_code": 1,
        }
    return published, failed


def _apply_policy(
    settings: Settings,
    run_id: str,
    published: dict[str, dict[str, Any]],
    failed: dict[str, dict[str, Any]],
) -> None:
    """Fail the run when sources failed and the policy says so, or when none is left."""
    if not failed:
        return
    reasons = "; ".join(f"{name}: {f['error']}" for name, f in failed.items())
    # Bad input (exit 2) is final; anything else may pass on a retry of the failed source.
    code = EXIT_BAD_INPUT if all(f["exit_code"] == EXIT_BAD_INPUT for f in failed.values()) else 1
    if settings.source_failures == "fail" or not published:
        total = len(failed) + len(published)
        what = "every source" if not published else f"{len(failed)} of {total} sources"
        raise PipelineError(
            f"run {run_id}: {what} failed, so nothing is combined "
            f"(OCCUPANCY_SOURCE_FAILURES={settings.source_failures}): {reasons}",
            exit_code=code,
        )
    log.warning(
        "combine: %d source(s) failed and are left out (OCCUPANCY_SOURCE_FAILURES=continue): %s",
        len(failed),
        reasons,
    )


def _by_split(classes: Counter[tuple[str, str]]) -> dict[str, dict[str, int]]:
    by_split: dict[str, dict[str, int]] = {}
    for (split, level), n in sorted(classes.items()):
        by_split.setdefault(split, {})[level] = n
    return by_split
