from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from occupancy.data import parsing


def _a(*values: str | None) -> pa.Array:
    return pa.array(list(values), type=pa.string())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("$1,234.00", 1234.0),
        ("$73.00", 73.0),
        (" $5 ", 5.0),
        ("99.5", 99.5),
        ("", None),
        (None, None),
        ("abc", None),
    ],
)
def test_parse_price_reads_dollar_strings(raw: str | None, expected: float | None) -> None:
    assert parsing.parse_price(_a(raw)).to_pylist() == [expected]


def test_parse_number_rejects_nan_and_infinity() -> None:
    assert parsing.parse_number(_a("nan", "inf", "-inf", "1e3", "2")).to_pylist() == [
        None,
        None,
        None,
        1000.0,
        2.0,
    ]


@pytest.mark.parametrize(
    ("raw", "expected"), [("95%", 95.0), ("100%", 100.0), ("N/A", None), ("80", 80.0)]
)
def test_parse_rate_reads_percent_strings(raw: str, expected: float | None) -> None:
    assert parsing.parse_rate(_a(raw)).to_pylist() == [expected]


def test_parse_bool_accepts_airbnb_and_json_spellings() -> None:
    out = parsing.parse_bool(_a("t", "f", "TRUE", "false", "maybe", None)).to_pylist()
    assert out == [1.0, 0.0, 1.0, 0.0, None, None]


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
    counts, shares = parsing.parse_bathrooms_text(_a(raw))
    assert counts.to_pylist() == [count]
    assert shares.to_pylist() == [shared]


def test_parse_amenities_joins_canonical_json_and_falls_back_for_odd_spellings() -> None:
    out = parsing.parse_amenities(
        _a(
            '["Wifi", "Kitchen"]',
            "[]",
            None,
            '["Pool | Hot tub", "Caf\\u00e9 \\"bar\\""]',
            '[ "TV" ,"Oven"]',
            "not json",
        )
    ).to_pylist()
    assert out == ["Wifi|Kitchen", "", "", 'Pool / Hot tub|Café "bar"', "TV|Oven", ""]


def test_count_items_counts_joined_names() -> None:
    assert parsing.count_items(_a("a|b|c", "", "x")).to_pylist() == [3.0, 0.0, 1.0]


def test_parse_date_rejects_non_iso_and_impossible_dates() -> None:
    out = parsing.parse_date(_a("2024-06-29", "29/06/2024", "2024-02-30")).to_pylist()
    assert out[0] == pd.Timestamp("2024-06-29").to_pydatetime()
    assert out[1:] == [None, None]


def test_text_length_counts_missing_as_zero() -> None:
    assert parsing.text_length(_a("abc", None, "x\ny")).to_pylist() == [3.0, 0.0, 3.0]


def test_id_keys_are_exact_for_18_digit_ids() -> None:
    keys = parsing.id_keys(_a("1234567890123456789", "42", "x", None))
    assert keys.tolist() == [1234567890123456789, 42, 0, 0]


def test_to_raw_strings_writes_json_types_in_the_raw_formats() -> None:
    frame = pd.DataFrame(
        {"b": [True, False], "n": [3, None], "l": [["Wifi"], []], "s": ["$5.00", None]}
    )
    table = parsing.to_raw_strings(frame)
    assert table.column("b").to_pylist() == ["t", "f"]
    assert table.column("n").to_pylist() == ["3.0", None]
    assert table.column("l").to_pylist() == ['["Wifi"]', "[]"]
    assert table.column("s").to_pylist() == ["$5.00", None]
