from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from occupancy.data import parsing


def _s(*values: object) -> pd.Series:
    return pd.Series(list(values), dtype="object")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("$1,234.00", 1234.0),
        ("$73.00", 73.0),
        (" $5 ", 5.0),
        (99.5, 99.5),
        ("", None),
        (None, None),
        ("abc", None),
    ],
)
def test_parse_price_reads_dollar_strings_and_numbers(raw: object, expected: float | None) -> None:
    value = parsing.parse_price(_s(raw)).iloc[0]
    assert math.isnan(value) if expected is None else value == expected


def test_parse_number_rejects_nan_and_infinity() -> None:
    out = parsing.parse_number(_s("nan", "inf", "-inf", "1e3", 2))
    assert out.isna().tolist() == [True, True, True, False, False]
    assert out.iloc[3] == 1000.0


@pytest.mark.parametrize(
    ("raw", "expected"), [("95%", 95.0), ("100%", 100.0), ("N/A", None), (80, 80.0)]
)
def test_parse_rate_reads_percent_strings(raw: object, expected: float | None) -> None:
    value = parsing.parse_rate(_s(raw)).iloc[0]
    assert math.isnan(value) if expected is None else value == expected


def test_parse_bool_accepts_airbnb_and_json_forms() -> None:
    out = parsing.parse_bool(_s("t", "f", "TRUE", "false", "maybe", None))
    assert out.tolist()[:4] == [1.0, 0.0, 1.0, 0.0]
    assert out.iloc[4:].isna().all()
    assert parsing.parse_bool(pd.Series([True, False])).tolist() == [1.0, 0.0]


@pytest.mark.parametrize(
    ("raw", "count", "shared"),
    [
        ("1 bath", 1.0, 0.0),
        ("1.5 shared baths", 1.5, 1.0),
        ("1 private bath", 1.0, 0.0),
        ("Half-bath", 0.5, 0.0),
        ("Shared half-bath", 0.5, 1.0),
        ("2.5 baths", 2.5, 0.0),
    ],
)
def test_parse_bathrooms_text(raw: str, count: float, shared: float) -> None:
    out = parsing.parse_bathrooms_text(_s(raw))
    assert out["count"].iloc[0] == count
    assert out["shared"].iloc[0] == shared


def test_parse_amenities_normalizes_json_strings_and_lists() -> None:
    out = parsing.parse_amenities(
        _s('["Wifi", "Kitchen"]', "[]", None, '["Pool | Hot tub", "Caf\\u00e9 \\"bar\\""]')
    )
    assert out.iloc[0] == "wifi|kitchen"
    assert out.iloc[1] == ""
    assert out.iloc[2] == ""
    assert out.iloc[3] == 'pool / hot tub|café "bar"'
    assert parsing.parse_amenities(pd.Series([["Wifi", "TV"], []], dtype="object")).tolist() == [
        "wifi|tv",
        "",
    ]


def test_count_items_counts_joined_names() -> None:
    assert parsing.count_items(pd.Series(["a|b|c", "", "x"])).tolist() == [3.0, 0.0, 1.0]


def test_parse_date_rejects_non_iso() -> None:
    out = parsing.parse_date(_s("2024-06-29", "29/06/2024", "2024-02-30"))
    assert out.iloc[0] == pd.Timestamp("2024-06-29")
    assert out.iloc[1:].isna().all()


def test_text_length_counts_missing_as_zero() -> None:
    assert parsing.text_length(_s("abc", None, "")).tolist() == [3.0, 0.0, 0.0]
    assert np.isfinite(parsing.text_length(_s("x\ny")).iloc[0])
