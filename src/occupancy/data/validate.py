"""Row-level data contract for raw listings: parseable types, values in range, unique ids.

`validate_rows` looks at the columns the product uses (and the target when training) and returns
which rows break the contract and, for those rows only, one reason naming the column, the
expectation and the value. Unused columns are never judged: a new Inside Airbnb column must not
break ingestion. Checks run as Arrow compute kernels; only bad rows reach Python.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from occupancy.data.parsing import (
    DATE_PATTERN,
    id_keys,
    parse_date,
    strings,
    strip_price,
    strip_rate,
    to_float,
)
from occupancy.data.schema import COLUMNS_BY_NAME, ID_COLUMN, TARGET_SOURCE_COLUMN, Column, Kind

# What each kind must look like, said to a user. Numeric kinds are judged by their parser (a value
# is well-formed exactly when cleaning can read it), the others by a pattern.
EXPECTED: dict[Kind, str] = {
    Kind.ID: "a positive whole number",
    Kind.INT: "a whole number",
    Kind.FLOAT: "a number",
    Kind.PRICE: "a price like $1,234.00",
    Kind.RATE: "a rate like 95% or N/A",
    Kind.BOOL: "t or f",
    Kind.DATE: "a date like 2024-06-29",
}
PATTERNS: dict[Kind, str] = {
    Kind.ID: r"\d{1,19}",
    Kind.BOOL: r"[tf]",
    Kind.DATE: DATE_PATTERN,
}
NOT_APPLICABLE = "N/A"  # the one non-number a rate may hold
MAX_SHOWN_VALUE = 40
NUMERIC_KINDS = frozenset({Kind.INT, Kind.FLOAT, Kind.PRICE, Kind.RATE})


@dataclass(frozen=True)
class Verdict:
    """Which rows of a batch are invalid, and why (reasons line up with `np.flatnonzero(bad)`)."""

    bad: np.ndarray
    reasons: list[str]
    columns: list[str]


def required_message(column: Column) -> str:
    return f"column '{column.name}': value is required but empty"


def malformed_message(column: Column) -> str:
    """A message template; '{}' stands for the value shown (see `shown`)."""
    return f"column '{column.name}': expected {EXPECTED[column.kind]}, got '{{}}'"


def unreal_date_message(column: Column) -> str:
    return f"column '{column.name}': expected a real calendar date, got '{{}}'"


def bounds(column: Column) -> tuple[float, float]:
    """The column's allowed range, open ends as infinities."""
    low = -np.inf if column.low is None else column.low
    high = np.inf if column.high is None else column.high
    return low, high


def outside_message(column: Column) -> str:
    low, high = bounds(column)
    return f"column '{column.name}': expected a value between {low:g} and {high:g}, got '{{}}'"


def shown(value: str | None) -> str:
    """A raw value as quoted in a reason, cut short."""
    return str(value or "")[:MAX_SHOWN_VALUE]


def _numbers(text: pa.Array, kind: Kind) -> np.ndarray:
    if kind is Kind.PRICE:
        text = strip_price(text)
    elif kind is Kind.RATE:
        text = strip_rate(text)
    return np.asarray(to_float(text).to_numpy(zero_copy_only=False), dtype="float64")


def _mask(values: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def _column_problems(
    text: pa.Array, column: Column, required: bool
) -> list[tuple[np.ndarray, str]]:
    """(rows, message template) pairs for one column; '{}' in a template is the shown value."""
    present = _mask(pc.is_valid(text))
    found: list[tuple[np.ndarray, str]] = []
    if required:
        found.append((~present, required_message(column)))
    if column.kind not in EXPECTED:
        return found
    numbers = _numbers(text, column.kind) if column.kind in NUMERIC_KINDS else None
    if numbers is not None:
        with np.errstate(invalid="ignore"):
            unreadable = np.isnan(numbers) | (
                (numbers != np.floor(numbers)) if column.kind is Kind.INT else False
            )
        if column.kind is Kind.RATE:
            unreadable &= ~_mask(pc.equal(text, NOT_APPLICABLE))
        malformed = present & unreadable
    else:
        pattern = PATTERNS[column.kind]
        malformed = present & ~_mask(pc.match_substring_regex(text, f"^(?:{pattern})$"))
    found.append((malformed, malformed_message(column)))
    well_formed = present & ~malformed
    if column.kind is Kind.DATE:
        real = _mask(pc.is_valid(parse_date(text)))
        found.append((well_formed & ~real, unreal_date_message(column)))
    if numbers is not None and (column.low is not None or column.high is not None):
        low, high = bounds(column)
        with np.errstate(invalid="ignore"):
            outside = well_formed & ((numbers < low) | (numbers > high))
        found.append((outside, outside_message(column)))
    return found


def validate_rows(
    batch: pa.RecordBatch | pa.Table,
    columns: Iterable[str],
    *,
    seen_ids: set[int] | None = None,
    required: Collection[str] = (ID_COLUMN, TARGET_SOURCE_COLUMN),
) -> Verdict:
    """Check every row of a batch; the first violation per row is its reason.

    `seen_ids` carries listing ids across batches so a duplicate id is caught wherever it is;
    the first occurrence is kept and later ones are reported.
    """
    n = batch.num_rows
    reason_of: dict[int, str] = {}
    column_of: dict[int, str] = {}
    bad = np.zeros(n, dtype=bool)
    for name in columns:
        if name not in batch.schema.names or name not in COLUMNS_BY_NAME:
            continue
        text = strings(batch.column(name))
        for rows, template in _column_problems(text, COLUMNS_BY_NAME[name], name in required):
            new = rows & ~bad
            if new.any():
                values = text.take(pa.array(np.flatnonzero(new))).to_pylist()
                for row, value in zip(np.flatnonzero(new).tolist(), values, strict=True):
                    reason_of[row] = template.replace("{}", shown(value))
                    column_of[row] = name
                bad |= new
    if seen_ids is not None and ID_COLUMN in batch.schema.names:
        for row, listing_id in _duplicate_ids(batch.column(ID_COLUMN), bad, seen_ids):
            reason_of[row] = f"column 'id': duplicate listing id '{listing_id}'"
            column_of[row] = ID_COLUMN
            bad[row] = True
    bad_rows = np.flatnonzero(bad).tolist()
    return Verdict(bad, [reason_of[row] for row in bad_rows], [column_of[row] for row in bad_rows])


def _duplicate_ids(ids: pa.Array, bad: np.ndarray, seen_ids: set[int]) -> list[tuple[int, int]]:
    """(row, id) for valid rows whose id was already seen, in this batch or an earlier one."""
    keys = id_keys(ids)
    repeated = []
    for row in np.flatnonzero(~bad).tolist():
        key = int(keys[row])
        if key in seen_ids:
            repeated.append((row, key))
        else:
            seen_ids.add(key)
    return repeated
