"""A model's reference profile: what its training data looked like, kept small and in JSON.

Computed by the train step on the training split (the cleaned model input, as the model saw it)
and logged with the model as `reference_profile.json`, so drift is always measured against the
champion's own data (`occupancy.monitoring.drift`):

- numbers: decile edges of the non-missing values, the share of rows in each bin, the share
  missing, and 101 quantiles (a sketch of the distribution for the KS statistic);
- categories: the share of each value seen in at least MIN_CATEGORY_SHARE of the rows, the rest
  pooled as OTHER, and the share missing;
- amenities: the share of listings that have each of the TOP_AMENITIES most common;
- the class balance of the target, and the share of validation listings predicted in each level.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from occupancy.data.clean import AMENITIES_COLUMN, CATEGORICAL_FEATURES, NUMERIC_FEATURES
from occupancy.data.parsing import AMENITY_SEPARATOR
from occupancy.data.schema import CLASSES

VERSION = 1
BINS = 10
SKETCH_POINTS = 101
MIN_CATEGORY_SHARE = 0.005
TOP_AMENITIES = 100
OTHER = "(other)"
FILE_NAME = "reference_profile.json"


def numeric_profile(values: pd.Series) -> dict[str, Any]:
    """Decile edges, the share per bin, the share missing, and a quantile sketch."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
    present = numbers[np.isfinite(numbers)]
    missing = 1.0 - len(present) / len(numbers) if len(numbers) else 0.0
    if not len(present):
        # One (empty) bin besides missing, as for any other feature: the shapes always match.
        return {"edges": [], "shares": [0.0], "missing": missing, "sketch": [], "rows": 0}
    edges = np.unique(np.quantile(present, np.linspace(0, 1, BINS + 1)[1:-1]))
    return {
        "edges": edges.tolist(),
        "shares": bin_shares(present, edges).tolist(),
        "missing": missing,
        "sketch": np.quantile(present, np.linspace(0, 1, SKETCH_POINTS)).tolist(),
        "rows": len(present),
    }


def bin_shares(present: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The share of `present` values in each of the len(edges) + 1 bins the edges make."""
    counts = np.bincount(np.searchsorted(edges, present, side="right"), minlength=len(edges) + 1)
    return counts / max(1, len(present))


def categorical_profile(values: pd.Series) -> dict[str, Any]:
    """The share of each common value (the rest pooled as OTHER) and the share missing."""
    present = values.dropna().astype(str)
    missing = 1.0 - len(present) / len(values) if len(values) else 0.0
    shares = present.value_counts(normalize=True)
    common = shares[shares >= MIN_CATEGORY_SHARE]
    result = {str(k): float(v) for k, v in common.items()}
    rest = float(shares[shares < MIN_CATEGORY_SHARE].sum())
    if rest:
        result[OTHER] = rest
    return {"shares": result, "missing": missing, "rows": len(present)}


def amenity_shares(amenities: pd.Series, names: list[str] | None = None) -> dict[str, float]:
    """The share of listings that have each amenity (the most common TOP_AMENITIES, or `names`)."""
    lists = amenities.fillna("").astype(str).str.lower().str.split(AMENITY_SEPARATOR)
    exploded = lists.reset_index(drop=True).explode()
    exploded = exploded[exploded != ""]
    # Listings, not mentions: an amenity written twice in one listing counts once.
    unique = exploded.reset_index().drop_duplicates()
    having = unique.iloc[:, 1].value_counts() / max(1, len(amenities))
    if names is None:
        names = list(having.head(TOP_AMENITIES).index)
    return {name: float(having.get(name, 0.0)) for name in names}


def class_shares(labels: pd.Series | np.ndarray) -> dict[str, float]:
    counts = pd.Series(np.asarray(labels, dtype=object)).value_counts(normalize=True)
    return {level: float(counts.get(level, 0.0)) for level in CLASSES}


def reference_profile(
    X_train: pd.DataFrame, y_train: pd.Series, valid_predictions: np.ndarray | pd.Series
) -> dict[str, Any]:
    """The profile of a training split (cleaned model input), its target, validation predictions."""
    return {
        "version": VERSION,
        "rows": len(X_train),
        "numeric": {name: numeric_profile(X_train[name]) for name in NUMERIC_FEATURES},
        "categorical": {name: categorical_profile(X_train[name]) for name in CATEGORICAL_FEATURES},
        "amenities": amenity_shares(X_train[AMENITIES_COLUMN]),
        "classes": class_shares(y_train),
        "predictions": class_shares(valid_predictions),
    }


def check_profile(profile: Mapping[str, Any], source: str) -> None:
    """Refuse a profile this code cannot read, naming where it came from."""
    if not isinstance(profile, Mapping) or profile.get("version") != VERSION:
        found = profile.get("version") if isinstance(profile, Mapping) else type(profile).__name__
        raise ValueError(
            f"{source} is not a reference profile of version {VERSION} (found {found!r})"
        )
