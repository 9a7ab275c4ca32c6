"""Class probabilities in the product's fixed order (zero, low, mid, high), whatever the model's.

scikit-learn orders `classes_` alphabetically (high, low, mid, zero), and a model trained on data
without some level has no column for it. Everything that reports probabilities (the API, batch
scoring) goes through `in_class_order`, so a column always means the same level.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from occupancy.data.schema import CLASSES


def in_class_order(proba: Any, model_classes: Iterable[Any]) -> np.ndarray:
    """`proba` (columns in `model_classes` order) as one column per CLASSES level; absent ones 0."""
    columns: np.ndarray = np.asarray(proba)
    classes = list(model_classes)
    if classes == list(CLASSES):
        return columns
    missing = np.zeros(len(columns))
    return np.column_stack(
        [columns[:, classes.index(c)] if c in classes else missing for c in CLASSES]
    )
