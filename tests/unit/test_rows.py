"""The row-at-a-time path (used by the API for small batches) equals the Arrow path exactly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from occupancy.data import parsing, rows
from occupancy.data.clean import CATEGORICAL_FEATURES, NUMERIC_FEATURES, clean_listings
from occupancy.data.csvio import iter_batches, open_listings_csv
from occupancy.data.schema import (
    COLUMNS_BY_NAME,
    HOST_ID_COLUMN,
    ID_COLUMN,
    REQUIRED_FOR_TRAINING,
    TARGET_SOURCE_COLUMN,
    Kind,
)
from occupancy.data.validate import validate_rows

CHECKED = REQUIRED_FOR_TRAINING
REQUIRED = (ID_COLUMN, TARGET_SOURCE_COLUMN)
REAL_FILES = (
    "newark_2025-09-30_listings.csv.gz",
    "jersey-city_2025-09-25_listings.csv.gz",
    "antwerp_2024-06-29_listings.csv.gz",
)
# Spellings at the edges of the contract: signs, blanks, exponents, non-finite words, rolled-over
# and year-0 dates, non-ASCII digits, odd amenity lists.
TRICKY = [
    "5",
    "+5",
    " 5",
    "5 ",
    "-0",
    "1e5",
    "1E+2",
    ".5",
    "5.",
    "5.5",
    "-3",
    "00012",
    "1e400",
    "nan",
    "NaN",
    "inf",
    "-Infinity",
    "1,000",
    "$1,234.00",
    "$-5",
    "-$5.00",
    "$",
    "95%",
    "9%5%",
    "N/A",
    " N/A",
    "n/a",
    "t",
    "f",
    "T",
    "true",
    "yes",
    " t",
    "0",
    "2024-02-29",
    "2023-02-29",
    "2024-1-5",
    " 2024-01-05",
    "0000-01-01",
    "0001-01-01",
    "9999-12-31",
    "2024-13-01",
    "\u0661\u0662",
    "12\u00a0",
    "[]",
    '["Wifi", "Kitchen"]',
    '["Wifi","Kitchen"]',
    "['Wifi']",
    '["a|b"]',
    '["x"] ',
    "[1, 2]",
    "{}",
    "1.5 shared baths",
    "Half-bath",
    "Shared half-bath",
    "2 baths",
    "1.5",
    "0",
    "x",
    "",
    "\n",
    "Entire home/apt",
    "123456789012345678",
    "0123",
]


def _read(path: Path) -> pa.Table:
    with open_listings_csv(str(path), [ID_COLUMN]) as source:
        return pa.Table.from_batches(list(iter_batches(source))).combine_chunks()


@pytest.fixture(scope="module", params=REAL_FILES)
def real_table(request, real_data_dir) -> pa.Table:
    return _read(real_data_dir / request.param)


def _assert_same_verdicts(table: pa.Table) -> None:
    verdict = validate_rows(table, CHECKED, required=REQUIRED)
    vectorized = dict(
        zip(
            np.flatnonzero(verdict.bad).tolist(),
            zip(verdict.columns, verdict.reasons, strict=True),
            strict=True,
        )
    )
    present = [name for name in CHECKED if name in table.column_names]
    scalar = {
        i: problem
        for i, record in enumerate(table.to_pylist())
        if (problem := rows.first_problem(record, present, required=REQUIRED)) is not None
    }
    assert scalar == vectorized


def _assert_same_cleaning(table: pa.Table) -> None:
    # Both paths age undated listings against today: compare within one calendar day, redoing
    # the comparison if it straddled midnight (a retry, never a skip).
    while True:
        today = dt.date.today()
        frame = clean_listings(table)
        cleaned = rows.clean_rows(table.to_pylist(), today=today)
        if dt.date.today() == today:
            break
    np.testing.assert_array_equal(
        cleaned.numeric, frame[list(NUMERIC_FEATURES)].to_numpy(dtype="float64")
    )
    for j, name in enumerate(CATEGORICAL_FEATURES):
        # Arrow hands pandas NaN or None for a missing label; the encoder reads both as missing.
        expected = [None if isinstance(v, float) and np.isnan(v) else v for v in frame[name]]
        assert cleaned.categorical[j] == expected, name
    assert cleaned.amenities == frame["amenities"].tolist()


def test_validation_matches_arrow_on_every_real_row(real_table) -> None:
    _assert_same_verdicts(real_table)


def test_cleaning_matches_arrow_on_every_real_row(real_table) -> None:
    _assert_same_cleaning(real_table)


_VALUES = st.one_of(
    st.sampled_from(TRICKY),
    st.none(),
    st.text(alphabet="0123456789.-+eE$,% NA/tf", max_size=8),
    st.text(max_size=6),
)


@st.composite
def _tables(draw: st.DrawFn) -> pa.Table:
    """A few listings whose checked columns hold edge-case spellings, side by side in one batch."""
    names = draw(st.lists(st.sampled_from(CHECKED), min_size=1, max_size=12, unique=True))
    n = draw(st.integers(min_value=1, max_value=6))
    columns = {name: draw(st.lists(_VALUES, min_size=n, max_size=n)) for name in names}
    # The vectorized path skips whole columns a batch does not have; keep id so rows exist.
    columns.setdefault(ID_COLUMN, [str(i + 1) for i in range(n)])
    return pa.table(
        {k: pa.array([v or None for v in vs], pa.string()) for k, vs in columns.items()}
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_tables())
def test_validation_matches_arrow_on_generated_values(table: pa.Table) -> None:
    _assert_same_verdicts(table)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_tables())
def test_cleaning_matches_arrow_on_generated_values(table: pa.Table) -> None:
    _assert_same_cleaning(table)


@pytest.mark.parametrize("value", TRICKY)
def test_a_number_is_read_the_same_whatever_its_neighbours(value: str) -> None:
    alone = parsing.to_float(pa.array([value], pa.string()))[0].as_py()
    beside_text = parsing.to_float(pa.array([value, "not a number"], pa.string()))[0].as_py()
    expected = rows.to_float(value)
    for got in (alone, beside_text):
        assert (got is None and np.isnan(expected)) or got == expected


def test_problems_name_the_column_and_value() -> None:
    listing = {ID_COLUMN: "7", HOST_ID_COLUMN: "x", "price": "$5"}
    assert rows.first_problem(listing, CHECKED) == (
        HOST_ID_COLUMN,
        "column 'host_id': expected a positive whole number, got 'x'",
    )
    assert rows.first_problem({"accommodates": "2.5"}, ["accommodates"]) == (
        "accommodates",
        "column 'accommodates': expected a whole number, got '2.5'",
    )


def test_every_checked_kind_has_a_rule() -> None:
    kinds = {COLUMNS_BY_NAME[name].kind for name in CHECKED}
    assert kinds >= {Kind.ID, Kind.INT, Kind.FLOAT, Kind.PRICE, Kind.RATE, Kind.BOOL, Kind.DATE}
