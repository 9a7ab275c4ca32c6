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
    NUMBER_PATTERN,
    id_keys,
    parse_date,
    strings,
    strip_price,
    strip_rate,
    to_float,
)
from occupancy.data.schema import COLUMNS_BY_NAME, ID_COLUMN, TARGET_SOURCE_COLUMN, Column, Kind

# What each kind must look like, and how to say it to a user.
_PATTERNS: dict[Kind, tuple[str, str]] = {
    Kind.ID: (r"\d{1,19}", "a positive whole number"),
    Kind.INT: (r"-?\d+(?:\.0*)?", "a whole number"),
    Kind.FLOAT: (NUMBER_PATTERN, "a number"),
    Kind.PRICE: (r"-?\$?-?[\d,]*\.?\d+", "a price like $1,234.00"),
    Kind.RATE: (r"(?:\d+(?:\.\d+)?%|N/A)", "a rate like 95% or N/A"),
    Kind.BOOL: (r"[tf]", "t or f"),
    Kind.DATE: (r"\d{4}-\d{2}-\d{2}", "a date like 2024-06-29"),
}
_MAX_SHOWN_VALUE = 40
_NUMERIC = frozenset({Kind.INT, Kind.FLOAT, Kind.PRICE, Kind.RATE})


@dataclass(frozen=True)
class Verdict:
    """Which rows of a batch are invalid, and why (reasons line up with `np.flatnonzero(bad)`)."""

    bad: np.ndarray
    reasons: list[str]
    columns: list[str]


def _numbers(text: pa.Array, kind: Kind) -> np.ndarray:
    if kind is Kind.PRICE:
        text = strip_price(text)
    elif kind is Kind.RATE:
        text = strip_rate(text)
    return np.asarray(to_float(text).to_numpy(zero_copy_only=False), dtype="float64")


def _all_parsed(numbers: np.ndarray, *, whole: bool) -> bool:
    if np.isnan(numbers).any():
        return False
    return not whole or bool(np.all(numbers == np.floor(numbers)))


def _mask(values: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def _column_problems(
    text: pa.Array, column: Column, required: bool
) -> list[tuple[np.ndarray, str]]:
    """(rows, message template) pairs for one column; '{}' in a template is the shown value."""
    present = _mask(pc.is_valid(text))
    found: list[tuple[np.ndarray, str]] = []
    if required:
        found.append((~present, f"column '{column.name}': value is required but empty"))
    spec = _PATTERNS.get(column.kind)
    if spec is None:
        return found
    pattern, expected = spec
    numbers = _numbers(text, column.kind) if column.kind in _NUMERIC else None
    if numbers is not None and _all_parsed(numbers[present], whole=column.kind is Kind.INT):
        malformed = np.zeros(len(present), dtype=bool)  # the cast proved every value: no regex
    else:
        malformed = present & ~_mask(pc.match_substring_regex(text, f"^(?:{pattern})$"))
    found.append((malformed, f"column '{column.name}': expected {expected}, got '{{}}'"))
    well_formed = present & ~malformed
    if column.kind is Kind.DATE:
        real = _mask(pc.is_valid(parse_date(text)))
        found.append(
            (
                well_formed & ~real,
                f"column '{column.name}': expected a real calendar date, got '{{}}'",
            )
        )
    if numbers is not None and (column.low is not None or column.high is not None):
        low = -np.inf if column.low is None else column.low
        high = np.inf if column.high is None else column.high
        with np.errstate(invalid="ignore"):
            outside = well_formed & ((numbers < low) | (numbers > high))
        found.append(
            (
                outside,
                f"column '{column.name}': expected a value between {low:g} and {high:g}, got '{{}}'",
            )
        )
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
                shown = text.take(pa.array(np.flatnonzero(new))).to_pylist()
                for row, value in zip(np.flatnonzero(new).tolist(), shown, strict=True):
                    reason_of[row] = template.replace("{}", str(value or "")[:_MAX_SHOWN_VALUE])
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
