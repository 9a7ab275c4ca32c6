"""Row-level data contract for raw listings: parseable types, values in range, unique ids.

`validate_rows` looks at the columns the product uses (and the target when training) and returns,
per row, either no problem or one reason naming the column, the expectation and the value. Unused
columns are never judged: a new Inside Airbnb column must not break ingestion.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from occupancy.data.schema import COLUMNS_BY_NAME, ID_COLUMN, TARGET_SOURCE_COLUMN, Column, Kind

# What each kind must look like, and how to say it to a user.
_PATTERNS: dict[Kind, tuple[str, str]] = {
    Kind.ID: (r"\d{1,19}", "a positive whole number"),
    Kind.INT: (r"-?\d+(?:\.0*)?", "a whole number"),
    Kind.FLOAT: (r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", "a number"),
    Kind.PRICE: (r"-?\$?-?[\d,]*\.?\d+", "a price like $1,234.00"),
    Kind.RATE: (r"(?:\d+(?:\.\d+)?%|N/A)", "a rate like 95% or N/A"),
    Kind.BOOL: (r"[tf]", "t or f"),
    Kind.DATE: (r"\d{4}-\d{2}-\d{2}", "a date like 2024-06-29"),
}
_MAX_SHOWN_VALUE = 40


def _numeric_value(text: pd.Series, kind: Kind) -> pd.Series:
    if kind is Kind.PRICE:
        text = text.str.replace(r"[$,]", "", regex=True)
    elif kind is Kind.RATE:
        text = text.str.rstrip("%").replace("N/A", None)
    return pd.to_numeric(text, errors="coerce")


def _column_problems(values: pd.Series, column: Column, required_value: bool) -> pd.Series:
    """Per row: a reason string when the value breaks the column's contract, else missing."""
    text = values.astype("str").str.strip().where(values.notna())
    present = text.notna() & (text != "")
    problems = pd.Series(pd.NA, index=values.index, dtype="object")
    shown = text.str.slice(0, _MAX_SHOWN_VALUE)
    if required_value:
        problems[~present] = f"column '{column.name}': value is required but empty"
    spec = _PATTERNS.get(column.kind)
    if spec is None:
        return problems
    pattern, expected = spec
    malformed = present & ~text.str.fullmatch(pattern).fillna(False).astype(bool)
    problems[malformed] = (
        f"column '{column.name}': expected {expected}, got '" + shown[malformed] + "'"
    )
    if column.kind is Kind.DATE:
        bad_date = (
            present & ~malformed & pd.to_datetime(text, format="%Y-%m-%d", errors="coerce").isna()
        )
        problems[bad_date] = (
            f"column '{column.name}': expected a real calendar date, got '" + shown[bad_date] + "'"
        )
    if column.low is not None or column.high is not None:
        number = _numeric_value(text.where(present & ~malformed), column.kind)
        low = -np.inf if column.low is None else column.low
        high = np.inf if column.high is None else column.high
        out_of_range = number.notna() & ~number.between(low, high)
        problems[out_of_range] = (
            f"column '{column.name}': expected a value between {low:g} and {high:g}, got '"
            + shown[out_of_range]
            + "'"
        )
    return problems


def validate_rows(
    frame: pd.DataFrame, columns: Iterable[str], *, seen_ids: set[int] | None = None
) -> pd.Series:
    """Per row, the first contract violation (a sentence) or missing when the row is valid.

    `seen_ids` carries listing ids across batches so a duplicate id is caught wherever it is;
    the first occurrence is kept and later ones are reported.
    """
    problems = pd.Series(pd.NA, index=frame.index, dtype="object")
    for name in columns:
        if name not in frame.columns or name not in COLUMNS_BY_NAME:
            continue
        required_value = name in (ID_COLUMN, TARGET_SOURCE_COLUMN)
        found = _column_problems(frame[name], COLUMNS_BY_NAME[name], required_value)
        problems = problems.fillna(found) if problems.isna().any() else problems
    if seen_ids is not None and ID_COLUMN in frame.columns:
        problems = problems.fillna(_duplicate_ids(frame[ID_COLUMN], problems.isna(), seen_ids))
    return problems


def _duplicate_ids(ids: pd.Series, valid: pd.Series, seen_ids: set[int]) -> pd.Series:
    """Reasons for ids already seen (in earlier batches or earlier in this one)."""
    reasons = pd.Series(pd.NA, index=ids.index, dtype="object")
    candidates = ids[valid].astype("str").str.strip()
    numbers = candidates.astype("uint64")
    repeated = numbers.duplicated(keep="first") | numbers.isin(seen_ids)
    reasons[repeated[repeated].index] = (
        "column 'id': duplicate listing id '" + candidates[repeated] + "'"
    )
    seen_ids.update(numbers[~repeated].tolist())
    return reasons
