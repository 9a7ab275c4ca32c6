"""The published training table of a run, read back as features, target and split.

The table is read at the URI its manifest names and checked against the manifest's digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from occupancy.data.clean import MODEL_INPUT_COLUMNS
from occupancy.data.schema import SOURCE_COLUMN, SPLIT_COLUMN, TARGET_COLUMN
from occupancy.digest import readable_parquet, verify_file
from occupancy.lake import local_workdir
from occupancy.run_layout import LISTINGS, RunLayout
from occupancy.sources import DEFAULT_SOURCE_NAME


@dataclass(frozen=True)
class Processed:
    """One run's processed table split into the three parts, plus its manifest."""

    manifest: dict[str, Any]
    frames: dict[str, pd.DataFrame]
    uri: str  # where the table lives in the lake (dataset lineage)

    def X(self, split: str) -> pd.DataFrame:  # noqa: N802 - X is the conventional name
        """Model inputs of a split."""
        return self.frames[split][list(MODEL_INPUT_COLUMNS)]

    def y(self, split: str) -> pd.Series:
        """Target of a split."""
        return self.frames[split][TARGET_COLUMN]

    def sources(self, split: str) -> pd.Series:
        """The source (`<city>_<scrape date>`) of each row of a split."""
        return self.frames[split][SOURCE_COLUMN]


def load_processed(run: RunLayout, max_train_rows: int, seed: int) -> Processed:
    """Read a run's processed table; cap the train split with a deterministic sample."""
    manifest = run.processed_manifest()
    with local_workdir() as work:
        path = run.processed.fetch(manifest, "data", work / LISTINGS)
        verify_file(path, manifest["digest"], manifest["data"])
        with readable_parquet(manifest["data"]):
            table = pq.read_table(path).to_pandas()
    if SOURCE_COLUMN not in table:  # published before runs had sources: one, unnamed
        table[SOURCE_COLUMN] = DEFAULT_SOURCE_NAME
    frames = {split: part.reset_index(drop=True) for split, part in table.groupby(SPLIT_COLUMN)}
    train = frames.get("train", table.iloc[:0])
    if len(train) > max_train_rows:
        frames["train"] = train.sample(n=max_train_rows, random_state=seed).reset_index(drop=True)
    for split in ("train", "valid", "test"):
        frames.setdefault(split, table.iloc[:0])
    return Processed(manifest, frames, manifest["data"])
