"""Row-at-a-time twins of the Arrow parsing, validation and cleaning, for API-sized batches.

Arrow compute pays a fixed cost per kernel call, and validating plus cleaning one listing calls
about two hundred kernels: for the few listings of an API request that overhead was 20 ms, the
arithmetic a few microseconds. These functions apply the same rules to one raw string at a time in
plain Python. They must agree exactly with `parsing`, `validate` and `clean`;
tests/unit/test_rows.py proves it on every row of the real Inside Airbnb files and on generated
strings, and the API only uses them for small batches.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from occupancy.data.clean import (
    AMENITIES_COLUMN,
    BOOL_COLUMNS,
    CATEGORICAL_FEATURES,
    NUMBER_COLUMNS,
    NUMERIC_FEATURES,
    RATE_COLUMNS,
    TEXT_LENGTH_COLUMNS,
)
from occupancy.data.parsing import (
    AMENITY_SEPARATOR,
    DATE_PATTERN,
    FALSE_WORDS,
    NUMBER_PATTERN,
    TRUE_WORDS,
    amenities_from_json,
    raw_string,
)
from occupancy.data.schema import COLUMNS_BY_NAME, Column, Kind
from occupancy.data.validate import (
    EXPECTED,
    NOT_APPLICABLE,
    NUMERIC_KINDS,
    PATTERNS,
    bounds,
    malformed_message,
    outside_message,
    required_message,
    shown,
    unreal_date_message,
)

Raw = Mapping[str, str | None]  # one listing: column → raw CSV string (None when empty)

# re.ASCII: Arrow's RE2 reads \d as 0-9 only; Python would also accept other scripts' digits.
_NUMBER = re.compile(NUMBER_PATTERN, re.ASCII)
_DATE = re.compile(DATE_PATTERN, re.ASCII)
_PATTERNS = {kind: re.compile(pattern, re.ASCII) for kind, pattern in PATTERNS.items()}
_CANONICAL_LIST = re.compile(r'\[(?:"[^"\\|]*"(?:, "[^"\\|]*")*)?\]')
_FIRST_NUMBER = re.compile(r"\d+(?:\.\d+)?", re.ASCII)
_TRUE, _FALSE = frozenset(TRUE_WORDS), frozenset(FALSE_WORDS)
_NAN = math.nan


class CleanedRows(NamedTuple):
    """Model input for a few listings: NUMERIC_FEATURES as a matrix, then the other columns."""

    numeric: np.ndarray  # (rows, len(NUMERIC_FEATURES)) float64, NaN for missing
    categorical: list[list[Any]]  # one list per CATEGORICAL_FEATURES column
    amenities: list[str]  # '|'-joined names, '' when none


# ---- parsers: one raw string (or None) in, a float (NaN when missing or unreadable) out ----


def to_float(text: str | None) -> float:
    """A plain number as a finite float; anything else NaN."""
    if text is None:
        return _NAN
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        return _NAN
    number = float(text)
    return number if math.isfinite(number) else _NAN


def parse_price(text: str | None) -> float:
    return _NAN if text is None else to_float(text.replace("$", "").replace(",", ""))


def parse_rate(text: str | None) -> float:
    if text is None or text == NOT_APPLICABLE:
        return _NAN
    return to_float(text.replace("%", ""))


def parse_bool(text: str | None) -> float:
    word = "" if text is None else text.strip().lower()
    return 1.0 if word in _TRUE else 0.0 if word in _FALSE else _NAN


def parse_date(text: str | None) -> dt.date | None:
    """ISO 'YYYY-MM-DD' (blanks around allowed) as a date; anything else None."""
    text = None if text is None else text.strip()
    if not text or not _DATE.fullmatch(text):
        return None
    try:
        return dt.date(int(text[:4]), int(text[5:7]), int(text[8:10]))
    except ValueError:  # 2024-02-30, year 0
        return None


def parse_bathrooms_text(text: str | None) -> tuple[float, float]:
    """'1.5 shared baths' / 'Half-bath' as (count, shared 1.0/0.0)."""
    text = None if text is None else text.strip().lower()
    if not text:
        return _NAN, _NAN
    if "half" in text:
        count = 0.5
    else:
        found = _FIRST_NUMBER.search(text)
        count = float(found.group()) if found else _NAN
    return count, 1.0 if "shared" in text else 0.0


def parse_amenities(text: str | None) -> str:
    """A JSON list string as names joined by '|' ('' when missing or empty)."""
    if text is None:
        return ""
    if _CANONICAL_LIST.fullmatch(text):
        return text[2:-2].replace('", "', AMENITY_SEPARATOR)
    return amenities_from_json(text)


def count_items(joined: str) -> float:
    return float(joined.count(AMENITY_SEPARATOR) + 1) if joined else 0.0


# ---- validation ----


def _number(text: str, kind: Kind) -> float:
    if kind is Kind.PRICE:
        return parse_price(text)
    if kind is Kind.RATE:
        return parse_rate(text)
    return to_float(text)


def _problem(text: str | None, column: Column, required: bool) -> str | None:
    """The first rule this value breaks, as the same reason `validate_rows` gives, or None."""
    if text is None:
        return required_message(column) if required else None
    if column.kind not in EXPECTED:
        return None
    if column.kind in NUMERIC_KINDS:
        number = _number(text, column.kind)
        if math.isnan(number):
            if column.kind is Kind.RATE and text == NOT_APPLICABLE:
                return None
            return malformed_message(column).replace("{}", shown(text))
        if column.kind is Kind.INT and number != math.floor(number):
            return malformed_message(column).replace("{}", shown(text))
        low, high = bounds(column)
        if number < low or number > high:
            return outside_message(column).replace("{}", shown(text))
        return None
    if not _PATTERNS[column.kind].fullmatch(text):
        return malformed_message(column).replace("{}", shown(text))
    if column.kind is Kind.DATE and parse_date(text) is None:
        return unreal_date_message(column).replace("{}", shown(text))
    return None


def first_problem(
    raw: Raw, columns: Iterable[str], *, required: Collection[str] = ()
) -> tuple[str, str] | None:
    """(column, reason) of the first broken rule of one listing, in `columns` order, or None.

    Matches `validate_rows` row for row; a column missing from `raw` counts as empty. Duplicate
    ids are a property of a whole file and are not checked here.
    """
    for name in columns:
        column = COLUMNS_BY_NAME.get(name)
        if column is None:
            continue
        reason = _problem(raw.get(name), column, name in required)
        if reason is not None:
            return name, reason
    return None


# ---- cleaning ----


def _numeric_row(raw: Raw, today: dt.date) -> list[float]:
    """NUMERIC_FEATURES of one listing, in order (see `clean.clean_listings`)."""
    get = raw.get
    values = [to_float(get(name)) for name in NUMBER_COLUMNS]
    values += [parse_rate(get(name)) for name in RATE_COLUMNS]
    values += [parse_bool(get(name)) for name in BOOL_COLUMNS]
    values.append(parse_price(get("price")))
    bath_count, bath_shared = parse_bathrooms_text(get("bathrooms_text"))
    bathrooms = to_float(get("bathrooms"))
    values += [bath_count if math.isnan(bathrooms) else bathrooms, bath_shared]
    scraped = parse_date(get("last_scraped")) or today
    host_since = parse_date(get("host_since"))
    values.append(_NAN if host_since is None else float((scraped - host_since).days))
    values.append(float(len(get("license") or "") > 0))
    values.append(count_items(parse_amenities(get(AMENITIES_COLUMN))))
    verifications = get("host_verifications")
    values.append(
        count_items(
            parse_amenities(None if verifications is None else verifications.replace("'", '"'))
        )
    )
    values += [float(len(get(name) or "")) for name in TEXT_LENGTH_COLUMNS]
    return values


_SIGNED = frozenset({"latitude", "longitude"})
_NON_NEGATIVE = np.asarray([name not in _SIGNED for name in NUMERIC_FEATURES])


def clean_rows(raws: Sequence[Raw], *, today: dt.date | None = None) -> CleanedRows:
    """Cleaned model input for a few listings, equal to `clean_listings` on the same rows."""
    # Listings scored without a scrape date are aged against today, like a fresh scrape.
    today = today or dt.date.today()
    numeric = np.asarray([_numeric_row(raw, today) for raw in raws], dtype="float64")
    numeric = numeric.reshape(len(raws), len(NUMERIC_FEATURES))
    with np.errstate(invalid="ignore"):
        # Counts, prices and ages cannot be negative (coordinates can): a negative one is missing.
        numeric[(numeric < 0) & _NON_NEGATIVE] = np.nan
    return CleanedRows(
        numeric=numeric,
        categorical=[[raw.get(name) for raw in raws] for name in CATEGORICAL_FEATURES],
        amenities=[parse_amenities(raw.get(AMENITIES_COLUMN)) for raw in raws],
    )


def rows_frame(rows: CleanedRows) -> pd.DataFrame:
    """CleanedRows as the DataFrame `clean_listings` makes (MODEL_INPUT_COLUMNS, same dtypes)."""
    frame: dict[str, Any] = {name: rows.numeric[:, i] for i, name in enumerate(NUMERIC_FEATURES)}
    for name, values in zip(CATEGORICAL_FEATURES, rows.categorical, strict=True):
        # clean_listings' missing category is NaN, which the pipeline's imputer fills; None is
        # not missing to it (it would be scored as a category of its own).
        frame[name] = np.asarray([np.nan if v is None else v for v in values], dtype=object)
    frame[AMENITIES_COLUMN] = np.asarray(rows.amenities, dtype=object)
    return pd.DataFrame(frame, columns=[*NUMERIC_FEATURES, *CATEGORICAL_FEATURES, AMENITIES_COLUMN])


def raw_listing(listing: Mapping[str, Any]) -> dict[str, str | None]:
    """A JSON-typed listing as raw CSV strings (the API accepts either spelling)."""
    return {name: raw_string(value) for name, value in listing.items()}
