"""Batch scoring: raw Inside Airbnb rows in, one prediction per listing out, with the champion."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from occupancy.atomic import atomic_write
from occupancy.config import Settings
from occupancy.data.clean import clean_listings
from occupancy.data.csvio import iter_batches, open_listings_csv
from occupancy.data.csvsafe import neutralise_table
from occupancy.data.schema import CLASSES, FEATURE_SOURCE_COLUMNS, ID_COLUMN
from occupancy.errors import ConfigError, NotFoundError
from occupancy.probabilities import in_class_order
from occupancy.registry import Registry

log = logging.getLogger(__name__)
OUTPUT_COLUMNS = (ID_COLUMN, "occupancy_level", *(f"p_{c}" for c in CLASSES))


def score_frame(model: Any, raw: pa.Table) -> pd.DataFrame:
    """Predictions for raw listings: id, occupancy_level and one probability per class."""
    aligned = in_class_order(model.predict_proba(clean_listings(raw)), model.classes_)
    out = pd.DataFrame({f"p_{c}": aligned[:, i] for i, c in enumerate(CLASSES)})
    out.insert(0, "occupancy_level", np.asarray(CLASSES, dtype=object)[aligned.argmax(axis=1)])
    out.insert(0, ID_COLUMN, raw.column(ID_COLUMN).to_pandas().astype("str").to_numpy())
    return out


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
    """Score every listing of a CSV(.gz) and write `output` (.csv or .parquet) atomically."""
    suffix = output.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ConfigError(f"output {output} must end in .csv or .parquet")
    model, label = load_champion(settings)
    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(output) as tmp:
        rows = _write_predictions(
            model,
            input_uri,
            tmp,
            parquet=suffix == ".parquet",
            endpoint_url=settings.s3_endpoint_url,
        )
    return {"step": "predict", "model": label, "rows": rows, "output": str(output)}


def _write_predictions(
    model: Any, input_uri: str, target: Path, *, parquet: bool, endpoint_url: str | None
) -> int:
    """Score the input batch by batch into `target` (Parquet or CSV); returns the rows written."""
    rows = 0
    writer: Any = None
    try:
        with open_listings_csv(input_uri, [ID_COLUMN], endpoint_url=endpoint_url) as source:
            absent = [c for c in FEATURE_SOURCE_COLUMNS if c not in source.columns]
            if absent:
                log.warning(
                    "predict: %s lacks %s; scored as missing values", input_uri, ", ".join(absent)
                )
            for batch in iter_batches(source):
                table = pa.Table.from_pandas(
                    score_frame(model, pa.Table.from_batches([batch])), preserve_index=False
                )
                if writer is None:
                    make = pq.ParquetWriter if parquet else pacsv.CSVWriter
                    writer = make(target, table.schema)
                # A spreadsheet opening the CSV must not run an id as a formula (Parquet: as is).
                writer.write_table(table if parquet else neutralise_table(table))
                rows += table.num_rows
                log.info("predict: %s listings scored", f"{rows:,}")
    finally:
        if writer is not None:
            writer.close()
    if writer is None:  # a header-only input still yields a valid, empty output
        empty = pa.Table.from_pandas(
            pd.DataFrame(columns=list(OUTPUT_COLUMNS)), preserve_index=False
        )
        (pq.write_table if parquet else pacsv.write_csv)(empty, target)
    return rows
