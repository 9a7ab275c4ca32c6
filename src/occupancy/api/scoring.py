"""Scoring a request's listings: validate with the ingest contract, clean, predict.

The one place that chooses between the two ways through: up to FAST_PATH_MAX_ROWS listings are
validated and cleaned row at a time and scored by the compiled fast path (for a handful of rows
Arrow's and pandas' per-call cost dominates); larger batches go through the vectorized contract,
`clean_listings` and the logged scikit-learn pipeline, which are as fast there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from occupancy.api.holder import ServedModel
from occupancy.data.clean import clean_listings
from occupancy.data.parsing import records_to_raw_strings
from occupancy.data.rows import CleanedRows, Raw, clean_rows, first_problem, raw_listing
from occupancy.data.schema import FEATURE_SOURCE_COLUMNS, HOST_ID_COLUMN, ID_COLUMN
from occupancy.data.validate import validate_rows
from occupancy.errors import ModelInputError

# Above this many listings the vectorized path is as fast and is used instead.
FAST_PATH_MAX_ROWS = 64
_CHECKED_COLUMNS = (ID_COLUMN, HOST_ID_COLUMN, *FEATURE_SOURCE_COLUMNS)


def score_listings(served: ServedModel, listings: Sequence[dict[str, Any]]) -> np.ndarray:
    """Probabilities (zero, low, mid, high) per listing; ModelInputError locates bad values."""
    return score_listings_with_input(served, listings)[0]


def score_listings_with_input(
    served: ServedModel, listings: Sequence[dict[str, Any]]
) -> tuple[np.ndarray, CleanedRows | pd.DataFrame]:
    """The probabilities and the cleaned model input they were computed from (for the log)."""
    raws = [raw_listing(listing) for listing in listings]
    small = len(raws) <= FAST_PATH_MAX_ROWS
    problems = _row_problems(raws) if small else _batch_problems(raws)
    if problems:
        details: list[dict[str, object]] = [
            {
                "loc": ["body", "listings", row, column],
                "msg": reason.split(": ", 1)[-1],
                "type": "value_error",
            }
            for row, column, reason in problems
        ]
        raise ModelInputError(f"{len(problems)} invalid listing(s)", details)
    if small and served.fast is not None:
        rows = clean_rows(raws)
        return served.predict_rows(rows), rows
    cleaned = clean_listings(records_to_raw_strings(raws))
    return served.predict_proba(cleaned), cleaned


def _row_problems(raws: Sequence[Raw]) -> list[tuple[int, str, str]]:
    """(row, column, reason) of each listing's first invalid value, one listing at a time."""
    return [
        (row, *problem)
        for row, raw in enumerate(raws)
        if (problem := first_problem(raw, _CHECKED_COLUMNS)) is not None
    ]


def _batch_problems(raws: Sequence[Raw]) -> list[tuple[int, str, str]]:
    """The same verdict from the vectorized ingest contract."""
    verdict = validate_rows(records_to_raw_strings(raws), _CHECKED_COLUMNS, required=())
    return list(
        zip(np.flatnonzero(verdict.bad).tolist(), verdict.columns, verdict.reasons, strict=True)
    )
