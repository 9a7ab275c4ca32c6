"""Batch scoring: raw Inside Airbnb rows in, one output row per listing, with the champion.

Every row is first held to the ingest data contract (`occupancy.data.validate`, the same code
ingest and the API use, without the target): a valid row is scored; an invalid one is written
with status `refused`, a reason naming the column, the expectation and the value, and empty level
and probabilities, so nothing is scored from a value the model would silently read as missing.
A file that cannot be scored at all fails with one sentence (exit 2) and writes nothing: not a
listings CSV, required columns missing, or every row refused.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from occupancy.atomic import atomic_write
from occupancy.config import Settings
from occupancy.data.csvio import iter_batches, open_listings_csv
from occupancy.data.csvsafe import neutralise_table
from occupancy.data.schema import REQUIRED_FOR_SCORING
from occupancy.data.validate import Verdict, validate_rows
from occupancy.errors import ConfigError, DataError, NotFoundError
from occupancy.registry import Registry
from occupancy.scored_rows import OUTPUT_SCHEMA, REQUIRED_VALUES, score_batch

log = logging.getLogger(__name__)

SHOWN_REASONS = 3


@dataclass
class _Tally:
    """What a scoring pass saw: rows, refused rows by column, the first few reasons."""

    rows: int = 0
    refused: int = 0
    refused_by_column: Counter[str] = field(default_factory=Counter)
    first_reasons: list[str] = field(default_factory=list)

    def add(self, verdict: Verdict) -> None:
        """Count one batch (its rows follow the ones already counted)."""
        bad_rows = np.flatnonzero(verdict.bad)
        for row, reason in zip(bad_rows[:SHOWN_REASONS].tolist(), verdict.reasons, strict=False):
            if len(self.first_reasons) < SHOWN_REASONS:
                self.first_reasons.append(f"row {self.rows + row + 1}, {reason}")
        self.refused_by_column.update(verdict.columns)
        self.refused += len(bad_rows)
        self.rows += len(verdict.bad)

    @property
    def scored(self) -> int:
        return self.rows - self.refused

    def line(self) -> str:
        """The one-line account a user reads on stderr."""
        first = f" (first: {'; '.join(self.first_reasons)})" if self.first_reasons else ""
        return f"predict: {self.scored:,} rows scored, {self.refused:,} refused{first}"


def load_champion(settings: Settings) -> tuple[Any, str]:
    """The served model and a label like 'airbnb-occupancy-classifier v3'."""
    registry = Registry(settings)
    version = registry.champion()
    if version is None:
        raise NotFoundError(
            f"no model at models:/{settings.model_name}@{settings.model_alias}: run the pipeline "
            "(`occupancy demo` or the Airflow DAGs) first"
        )
    model = registry.load_model(f"models:/{settings.model_name}@{settings.model_alias}")
    return model, f"{settings.model_name} v{version.version}"


def run_predict(settings: Settings, input_uri: str, output: Path) -> dict[str, Any]:
    """Score every valid listing of a CSV(.gz), refuse the others, write `output` atomically.

    `output` (.csv or .parquet) is replaced only when the whole input was read and at least one
    row was scored (or the input has no rows); otherwise it is left as it was.
    """
    suffix = output.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ConfigError(f"output {output} must end in .csv or .parquet")
    model, label = load_champion(settings)
    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(output) as tmp:
        tally = _write_predictions(
            model,
            input_uri,
            tmp,
            parquet=suffix == ".parquet",
            endpoint_url=settings.s3_endpoint_url,
        )
        if tally.rows and not tally.scored:
            raise DataError(
                f"none of the {tally.rows:,} rows of {input_uri} can be scored: every row breaks "
                f"the data contract (first: {'; '.join(tally.first_reasons)}); "
                f"{output} was not written"
            )
    (log.warning if tally.refused else log.info)("%s", tally.line())
    return {
        "step": "predict",
        "model": label,
        "rows": tally.rows,
        "rows_scored": tally.scored,
        "rows_refused": tally.refused,
        "refused_by_column": dict(tally.refused_by_column.most_common()),
        "output": str(output),
    }


def _write_predictions(
    model: Any, input_uri: str, target: Path, *, parquet: bool, endpoint_url: str | None
) -> _Tally:
    """Validate and score the input batch by batch into `target` (Parquet or CSV)."""
    tally = _Tally()
    seen_ids: set[int] = set()  # a repeated id is refused wherever it is, as ingest does
    with open_listings_csv(input_uri, REQUIRED_FOR_SCORING, endpoint_url=endpoint_url) as source:
        # Opened after the header check; a header-only input still yields a valid, empty output.
        make = pq.ParquetWriter if parquet else pacsv.CSVWriter
        with make(target, OUTPUT_SCHEMA) as writer:
            for batch in iter_batches(source):
                raw = pa.Table.from_batches([batch])
                verdict = validate_rows(
                    raw, REQUIRED_FOR_SCORING, seen_ids=seen_ids, required=REQUIRED_VALUES
                )
                table = score_batch(model, raw, verdict)
                # A spreadsheet opening the CSV must not run an id or a quoted value as a formula.
                writer.write_table(table if parquet else neutralise_table(table))
                tally.add(verdict)
                log.info("predict: %s rows read", f"{tally.rows:,}")
    return tally
