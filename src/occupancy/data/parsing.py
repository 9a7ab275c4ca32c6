"""Stateless parsers for the raw Inside Airbnb string formats, vectorized over pandas Series.

Each parser accepts the raw CSV format ("$1,234.00", "95%", "t", '["Wifi"]', "1.5 shared baths")
and the equivalent JSON types (numbers, booleans, lists), so the treat step and the prediction API
share one implementation. Unparseable values become missing; validation reports them separately.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

AMENITY_SEPARATOR = "|"

_TRUE = frozenset({"t", "true", "1", "yes", "y"})
_FALSE = frozenset({"f", "false", "0", "no", "n"})


def as_text(values: pd.Series) -> pd.Series:
    """Strings with surrounding blanks removed; missing stays missing."""
    return values.astype("str").str.strip().where(values.notna())


def parse_number(values: pd.Series) -> pd.Series:
    """Plain numbers (JSON numbers or numeric strings) as float; NaN and ±inf become missing."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.astype("float64")
    else:
        numbers = pd.to_numeric(as_text(values), errors="coerce").astype("float64")
    return numbers.where(np.isfinite(numbers))


def parse_price(values: pd.Series) -> pd.Series:
    """'$1,234.00' (or 1234) as float dollars."""
    if pd.api.types.is_numeric_dtype(values):
        return parse_number(values)
    cleaned = as_text(values).str.replace(r"[$,\s]", "", regex=True)
    return parse_number(cleaned)


def parse_rate(values: pd.Series) -> pd.Series:
    """'95%' (or 95) as a percentage in [0, 100]; 'N/A' is missing."""
    if pd.api.types.is_numeric_dtype(values):
        return parse_number(values)
    return parse_number(as_text(values).str.rstrip("%"))


def parse_bool(values: pd.Series) -> pd.Series:
    """'t'/'f' (or true/false, 1/0) as 1.0/0.0; anything else is missing."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        numbers = values.astype("float64")
        return numbers.where(numbers.isin([0.0, 1.0]))
    text = as_text(values).str.lower()
    out = pd.Series(np.nan, index=values.index, dtype="float64")
    out[text.isin(_TRUE)] = 1.0
    out[text.isin(_FALSE)] = 0.0
    return out


def parse_date(values: pd.Series) -> pd.Series:
    """ISO 'YYYY-MM-DD' as datetime64; anything else is missing."""
    return pd.to_datetime(as_text(values), format="%Y-%m-%d", errors="coerce")


def parse_bathrooms_text(values: pd.Series) -> pd.DataFrame:
    """'1.5 shared baths' / 'Half-bath' as columns `count` (float) and `shared` (1.0/0.0)."""
    text = as_text(values).str.lower()
    count = pd.to_numeric(text.str.extract(r"(\d+(?:\.\d+)?)", expand=False), errors="coerce")
    count = count.where(~text.str.contains("half", na=False), 0.5)
    shared = text.str.contains("shared", na=False).astype("float64").where(text.notna())
    return pd.DataFrame({"count": count.astype("float64"), "shared": shared}, index=values.index)


def _amenities_from_list(items: Any) -> str:
    if not isinstance(items, list | tuple | np.ndarray):
        return ""
    names = (str(item).strip().lower().replace(AMENITY_SEPARATOR, "/") for item in items)
    return AMENITY_SEPARATOR.join(name for name in names if name)


def parse_amenities(values: pd.Series) -> pd.Series:
    """A JSON list (or its string form) as lower-case names joined by '|'; missing is ''."""
    if values.dtype == object and values.map(lambda v: isinstance(v, list | tuple)).any():
        return values.map(_amenities_from_list).astype("str")
    text = as_text(values).fillna("")
    # The common, well-formed case is handled vectorized; odd strings fall back to json.loads.
    well_formed = text.str.fullmatch(r'\[\s*(?:"[^"\\|]*"(?:\s*,\s*"[^"\\|]*")*)?\s*\]')
    joined = (
        text.str.lower()
        .str.replace(r'^\[\s*"?|"?\s*\]$', "", regex=True)
        .str.replace(r'"\s*,\s*"', AMENITY_SEPARATOR, regex=True)
        .str.strip()
    )
    odd = ~well_formed & (text != "")
    if odd.any():
        joined[odd] = text[odd].map(_amenities_from_json)
    return joined.where(text != "", "").astype("str")


def _amenities_from_json(text: str) -> str:
    try:
        return _amenities_from_list(json.loads(text))
    except ValueError:
        return ""


def count_items(joined: pd.Series, separator: str = AMENITY_SEPARATOR) -> pd.Series:
    """Number of items in a separator-joined string ('' has none)."""
    counts = joined.str.count(rf"\{separator}") + 1
    return counts.where(joined != "", 0).astype("float64")


def text_length(values: pd.Series) -> pd.Series:
    """Length of free text in characters; missing text has length 0."""
    return as_text(values).fillna("").str.len().astype("float64")
