"""Steps of batch_scoring_dag: split a raw file into chunks, score each chunk, summarise.

    scores/<run id>/plan/_manifest.json        the input (URI, digest), the champion version the
                   plan/<writer>/part-NNNNN.parquet   whole run scores with, the chunks: raw rows
    scores/<run id>/part-NNNNN/_manifest.json  one chunk's scores (a pod each on Kubernetes)
                   part-NNNNN/<writer>/scores.parquet  id, level, probabilities, status, reason
    scores/<run id>/summary/_manifest.json     rows scored and refused, the level mix, the parts

The plan pins the champion's version when it starts: a chunk scored after the alias moved still
uses the version the run began with, so one run's scores never mix two models. Each output is
published by its manifest, written last with a conditional create (`run_layout.StepOutputs`),
so the run is idempotent per run id: a rerun reuses what was published, refuses another input
or model, and a retried chunk never leaves half a file. Every row is held to the data contract
first (`occupancy.scored_rows`): a row that breaks it is written `refused` with its reason.
Duplicate ids are refused within a chunk, not across chunks. A chunk is scored 50,000 rows
at a time, so a step's memory does not grow with `score_chunk_rows`.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from occupancy.config import Settings
from occupancy.data.csvio import iter_tables, open_listings_csv
from occupancy.data.schema import REQUIRED_FOR_SCORING
from occupancy.data.validate import validate_rows
from occupancy.digest import file_digest, readable_parquet, verify_file
from occupancy.errors import ConfigError, DataError, NotFoundError
from occupancy.lake import Lake, local_workdir
from occupancy.registry import Registry
from occupancy.run_layout import MANIFEST, StepOutputs, check_run_id
from occupancy.scored_rows import OUTPUT_SCHEMA, REQUIRED_VALUES, SCORED, score_batch
from occupancy.steps.ingest import fetched_source

log = logging.getLogger(__name__)
SCORES = "scores.parquet"
SCORE_BATCH_ROWS = 50_000  # rows validated, cleaned and scored at once within a chunk


@dataclass(frozen=True)
class ScoreOutputs(StepOutputs):
    """A folder of a scoring run: `scores/<run id>/<folder>`."""

    @property
    def prefix(self) -> str:
        return f"scores/{self.run_id}/{self.folder}"


@dataclass(frozen=True)
class ScoringRun:
    """The lake folders of one batch scoring run."""

    lake: Lake
    run_id: str

    @property
    def plan(self) -> ScoreOutputs:
        return ScoreOutputs(self.lake, self.run_id, "plan", "plan", "planned")

    def part(self, index: int) -> ScoreOutputs:
        name = _part_name(index)
        return ScoreOutputs(self.lake, self.run_id, f"score {name}", name, "scored")

    @property
    def summary(self) -> ScoreOutputs:
        return ScoreOutputs(self.lake, self.run_id, "summary", "summary", "summarised")

    def plan_manifest(self) -> dict[str, Any]:
        return self.plan.manifest(
            f"run `occupancy step score-plan --run-id {self.run_id} --input <uri>` first"
        )


def _part_name(index: int) -> str:
    return f"part-{index:05d}"


def open_scoring(settings: Settings, run_id: str) -> ScoringRun:
    """The folders of scoring run `run_id` in the configured lake."""
    lake = Lake(settings.lake_uri, endpoint_url=settings.s3_endpoint_url)
    return ScoringRun(lake, check_run_id(run_id))


def run_score_plan(settings: Settings, run_id: str, input_uri: str) -> dict[str, Any]:
    """Split `input_uri` into chunks of `score_chunk_rows` raw rows, pinning the champion."""
    run = open_scoring(settings, run_id)
    if (published := run.plan.published()) is not None:
        # Another input is refused without reading it; the pinned model is the plan's own.
        return {**run.plan.reuse(published, {"input": input_uri}), "chunks": _chunks(published)}
    champion = Registry(settings).champion()
    if champion is None:
        raise NotFoundError(
            f"no model at models:/{settings.model_name}@{settings.model_alias} to score with: "
            "run the training pipeline first"
        )
    started = time.perf_counter()
    writer = run.plan.new_writer()
    parts: list[dict[str, Any]] = []
    with (
        local_workdir() as work,
        fetched_source(settings, input_uri, work) as (source_inputs, local),
        open_listings_csv(
            input_uri, REQUIRED_FOR_SCORING, endpoint_url=settings.s3_endpoint_url, local=local
        ) as source,
    ):
        pending: list[pa.Table] = []
        pending_rows = 0

        def flush() -> None:
            nonlocal pending, pending_rows
            table = pa.concat_tables(pending).combine_chunks()
            name = f"{_part_name(len(parts))}.parquet"
            path = work / name
            pq.write_table(table, path, compression="lz4")
            parts.append(
                {
                    "rows": table.num_rows,
                    "digest": file_digest(path),
                    "uri": run.plan.upload(path, name, writer),
                }
            )
            path.unlink()
            pending, pending_rows = [], 0

        for batch in iter_tables(source):
            while batch.num_rows:
                take = min(batch.num_rows, settings.score_chunk_rows - pending_rows)
                pending.append(batch.slice(0, take))
                pending_rows += take
                batch = batch.slice(take)
                if pending_rows == settings.score_chunk_rows:
                    flush()
        if pending_rows:
            flush()
    if not parts:
        raise DataError(f"{input_uri} has a header but no rows to score")
    summary = {
        "step": "score-plan",
        "run_id": run_id,
        "writer": writer,
        "input": input_uri,
        **{k: v for k, v in source_inputs.items() if k != "source"},
        "model_name": settings.model_name,
        "model_version": str(champion.version),
        "chunk_rows": settings.score_chunk_rows,
        "rows": sum(p["rows"] for p in parts),
        "parts": parts,
        "seconds": round(time.perf_counter() - started, 2),
    }
    run.plan.publish(summary)
    return {**summary, "chunks": _chunks(summary)}


def _chunks(plan: dict[str, Any]) -> list[int]:
    return list(range(len(plan["parts"])))


def run_score_chunk(settings: Settings, run_id: str, chunk: int) -> dict[str, Any]:
    """Score chunk `chunk` of the plan with the version the plan pinned."""
    run = open_scoring(settings, run_id)
    plan = run.plan_manifest()
    if not 0 <= chunk < len(plan["parts"]):
        raise ConfigError(
            f"scoring run {run_id} has chunks 0 to {len(plan['parts']) - 1}, not {chunk}"
        )
    part = plan["parts"][chunk]
    outputs = run.part(chunk)
    inputs = {"input_digest": part["digest"], "model_version": plan["model_version"]}
    if (published := outputs.published()) is not None:
        return outputs.reuse(published, inputs)
    started = time.perf_counter()
    model = Registry(settings).load_version(plan["model_version"]).model
    writer = outputs.new_writer()
    with local_workdir() as work:
        raw_path = verify_file(
            run.plan.fetch_uri(part["uri"], work / "input.parquet"),
            part["digest"],
            part["uri"],
        )
        out_path = work / SCORES
        levels: Counter[str] = Counter()
        statuses: Counter[str] = Counter()
        refused_by_column: Counter[str] = Counter()
        seen_ids: set[int] = set()
        rows = 0
        # Batch by batch, so memory stays flat whatever the chunk size.
        with (
            readable_parquet(part["uri"]),
            pq.ParquetWriter(out_path, OUTPUT_SCHEMA, compression="zstd") as scores,
        ):
            for batch in pq.ParquetFile(raw_path).iter_batches(batch_size=SCORE_BATCH_ROWS):
                raw = pa.Table.from_batches([batch])
                verdict = validate_rows(
                    raw, REQUIRED_FOR_SCORING, seen_ids=seen_ids, required=REQUIRED_VALUES
                )
                scored = score_batch(model, raw, verdict)
                scores.write_table(scored)
                rows += scored.num_rows
                counted = pc.value_counts(scored.column("occupancy_level").drop_null())
                levels.update({i["values"]: i["counts"] for i in counted.to_pylist()})
                statuses.update(scored.column("status").to_pylist())
                refused_by_column.update(verdict.columns)
        summary = {
            "step": "score",
            "run_id": run_id,
            "writer": writer,
            "chunk": chunk,
            **inputs,
            "rows": rows,
            "rows_scored": statuses.get(SCORED, 0),
            "rows_refused": rows - statuses.get(SCORED, 0),
            "levels": dict(sorted(levels.items())),
            "refused_by_column": dict(refused_by_column.most_common()),
            "digest": file_digest(out_path),
            "scores": outputs.upload(out_path, SCORES, writer),
            "seconds": round(time.perf_counter() - started, 2),
        }
    outputs.publish(summary)
    log.info(
        "score: chunk %d, %s rows scored, %s refused",
        chunk,
        f"{summary['rows_scored']:,}",
        f"{summary['rows_refused']:,}",
    )
    return summary


def run_score_summary(settings: Settings, run_id: str) -> dict[str, Any]:
    """The run's totals over every chunk; fails naming the chunks that were not scored."""
    run = open_scoring(settings, run_id)
    plan = run.plan_manifest()
    parts = [run.part(i).published() for i in _chunks(plan)]
    missing = [_part_name(i) for i, p in enumerate(parts) if p is None]
    if missing:
        raise NotFoundError(
            f"scoring run {run_id} has {len(missing)} unscored chunk(s) ({', '.join(missing)}): "
            f"rerun their score tasks (`occupancy step score --run-id {run_id} --chunk N`)"
        )
    done = [p for p in parts if p is not None]
    inputs = {"parts": [p["digest"] for p in done]}
    if (published := run.summary.published()) is not None:
        return run.summary.reuse(published, inputs)
    levels: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    for part in done:
        levels.update(part["levels"])
        refused.update(part["refused_by_column"])
    rows_scored = sum(p["rows_scored"] for p in done)
    if rows_scored == 0:
        raise DataError(
            f"none of the {plan['rows']:,} rows of {plan['input']} can be scored: every row "
            f"breaks the data contract (by column: {dict(refused.most_common(5))})"
        )
    summary = {
        "step": "score-summary",
        "run_id": run_id,
        "writer": run.summary.new_writer(),
        **inputs,
        "input": plan["input"],
        "model": f"{plan['model_name']} v{plan['model_version']}",
        "rows": plan["rows"],
        "rows_scored": rows_scored,
        "rows_refused": plan["rows"] - rows_scored,
        "levels": dict(sorted(levels.items())),
        "refused_by_column": dict(refused.most_common()),
        "scores": [p["scores"] for p in done],
    }
    summary["summary"] = run.summary.uri(MANIFEST)
    run.summary.publish(summary)
    return summary
