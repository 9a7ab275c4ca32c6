"""The published training table of a run, read back as features, target and split."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from occupancy.data.clean import MODEL_INPUT_COLUMNS
from occupancy.data.schema import SPLIT_COLUMN, TARGET_COLUMN
from occupancy.errors import NotFoundError
from occupancy.lake import Lake, local_workdir
from occupancy.steps.layout import MANIFEST, processed_prefix


@dataclass(frozen=True)
class Processed:
    """One run's processed table split into the three parts, plus its manifest."""

    manifest: dict[str, Any]
    frames: dict[str, pd.DataFrame]

    def X(self, split: str) -> pd.DataFrame:  # noqa: N802 - X is the conventional name
        """Model inputs of a split."""
        return self.frames[split][list(MODEL_INPUT_COLUMNS)]

    def y(self, split: str) -> pd.Series:
        """Target of a split."""
        return self.frames[split][TARGET_COLUMN]


def processed_manifest(lake: Lake, run_id: str) -> dict[str, Any]:
    """The published manifest of run `run_id`'s processed table, or a NotFoundError saying why."""
    prefix = processed_prefix(run_id)
    if not lake.exists(f"{prefix}/{MANIFEST}"):
        raise NotFoundError(
            f"run {run_id} has no processed data at {lake.uri(prefix)}: run data_treatment_dag "
            f"(or `occupancy step treat --run-id {run_id}`) for this run first"
        )
    manifest: dict[str, Any] = lake.read_json(f"{prefix}/{MANIFEST}")
    return manifest


def load_processed(lake: Lake, run_id: str, max_train_rows: int, seed: int) -> Processed:
    """Read run `run_id`'s processed table; cap the train split with a deterministic sample."""
    prefix = processed_prefix(run_id)
    manifest = processed_manifest(lake, run_id)
    with local_workdir() as work:
        path = lake.download(f"{prefix}/listings.parquet", work / "listings.parquet")
        table = pq.read_table(path).to_pandas()
    frames = {split: part.reset_index(drop=True) for split, part in table.groupby(SPLIT_COLUMN)}
    train = frames.get("train", table.iloc[:0])
    if len(train) > max_train_rows:
        frames["train"] = train.sample(n=max_train_rows, random_state=seed).reset_index(drop=True)
    for split in ("train", "valid", "test"):
        frames.setdefault(split, table.iloc[:0])
    return Processed(manifest, frames)
