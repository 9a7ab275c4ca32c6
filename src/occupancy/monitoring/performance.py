"""Live performance: the levels a model predicted against what the next scrape says happened.

Every Inside Airbnb scrape carries `estimated_occupancy_l365d`, the nights booked over the year
before it. Binned like the training target, a newer scrape of the same city is the truth for the
predictions made earlier about the same listings: they are joined by listing id (the newest
prediction of each listing counts once), and scored with the metrics training reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.metrics import confusion_matrix, f1_score

from occupancy.data.clean import occupancy_level
from occupancy.data.csvio import iter_batches, open_listings_csv
from occupancy.data.schema import CLASSES, ID_COLUMN, TARGET_SOURCE_COLUMN

TRUTH_COLUMNS = (ID_COLUMN, TARGET_SOURCE_COLUMN)


@dataclass(frozen=True)
class LivePerformance:
    """How the logged predictions fared against a later scrape."""

    matched: int  # listings both predicted and in the scrape with a known level
    predicted_listings: int  # distinct listings with a prediction
    truth_listings: int  # listings of the scrape with a known level
    macro_f1: float  # NaN when nothing matched
    f1_per_class: dict[str, float]
    confusion: list[list[int]]  # rows: true level, columns: predicted level, in CLASSES order


def read_truth(uri: str, *, endpoint_url: str | None = None) -> pd.DataFrame:
    """`id` and the binned `occupancy_level` of every listing of a raw scrape with a known level."""
    ids: list[np.ndarray] = []
    levels: list[np.ndarray] = []
    with open_listings_csv(uri, TRUTH_COLUMNS, endpoint_url=endpoint_url) as source:
        for batch in iter_batches(source):
            table = pa.Table.from_batches([batch])
            ids.append(np.asarray(table.column(ID_COLUMN).to_pandas(), dtype=object))
            levels.append(occupancy_level(table.column(TARGET_SOURCE_COLUMN)))
    if not ids:
        return pd.DataFrame({ID_COLUMN: [], "occupancy_level": []}, dtype=object)
    truth = pd.DataFrame(
        {ID_COLUMN: np.concatenate(ids), "occupancy_level": np.concatenate(levels)}, dtype=object
    )
    known = truth[truth[ID_COLUMN].notna() & truth["occupancy_level"].notna()]
    # A repeated id (the ingest step refuses those) counts as its last row, as a later scrape.
    return known.drop_duplicates(ID_COLUMN, keep="last").reset_index(drop=True)


def live_performance(predictions: pd.DataFrame, truth: pd.DataFrame) -> LivePerformance:
    """Join the newest prediction of each listing (`id`, `logged_at`, `occupancy_level`) with
    the truth (`id`, `occupancy_level`) and score the matched listings."""
    newest = (
        predictions.dropna(subset=[ID_COLUMN])
        .sort_values("logged_at", kind="stable")
        .drop_duplicates(ID_COLUMN, keep="last")
    )
    joined = newest[[ID_COLUMN, "occupancy_level"]].merge(
        truth[[ID_COLUMN, "occupancy_level"]], on=ID_COLUMN, suffixes=("_predicted", "_true")
    )
    predicted = joined["occupancy_level_predicted"].astype(str).to_numpy()
    true = joined["occupancy_level_true"].astype(str).to_numpy()
    labels = list(CLASSES)
    if len(joined):
        per_class = f1_score(true, predicted, labels=labels, average=None, zero_division=0)
        macro = float(np.mean(per_class))
        matrix = confusion_matrix(true, predicted, labels=labels).tolist()
    else:
        per_class = np.full(len(labels), np.nan)
        macro = float("nan")
        matrix = [[0] * len(labels) for _ in labels]
    return LivePerformance(
        matched=len(joined),
        predicted_listings=len(newest),
        truth_listings=len(truth),
        macro_f1=macro,
        f1_per_class={label: float(f1) for label, f1 in zip(labels, per_class, strict=True)},
        confusion=[[int(c) for c in row] for row in matrix],
    )
