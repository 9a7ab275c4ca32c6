"""CSV/formula injection: text cells a spreadsheet would run as a formula are neutralised."""

from __future__ import annotations

import pyarrow as pa
import pytest

from occupancy.data.csvsafe import FORMULA_TRIGGERS, neutralise_cell, neutralise_table


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
    ],
)
def test_neutralise_cell_prefixes_a_quote_to_each_formula_trigger(text: str, expected: str) -> None:
    assert neutralise_cell(text) == expected


@pytest.mark.parametrize("text", ["", "12345", "Entire home/apt", "a=b", " =1", "'=1", "low"])
def test_neutralise_cell_leaves_other_text_unchanged(text: str) -> None:
    assert neutralise_cell(text) == text


def test_every_owasp_trigger_is_covered() -> None:
    assert set(FORMULA_TRIGGERS) == {"=", "+", "-", "@", "\t", "\r"}


def test_neutralise_table_rewrites_text_columns_like_the_cell_function() -> None:
    values = ["=1+1", "-x", None, "ok", "\rA", "@me", ""]
    table = pa.table(
        {
            "id": pa.array(values, type=pa.string()),
            "note": pa.array(values, type=pa.large_string()),
            "p_low": pa.array([-0.5, 0.1, None, 1.0, 0.0, -1.0, 2.0]),
            "row": pa.array([-1, 2, 3, 4, 5, 6, 7]),
        }
    )
    safe = neutralise_table(table)
    expected = [None if v is None else neutralise_cell(v) for v in values]
    assert safe.column("id").to_pylist() == expected
    assert safe.column("note").to_pylist() == expected
    assert safe.schema == table.schema
    assert safe.column("p_low").equals(table.column("p_low"))
    assert safe.column("row").equals(table.column("row"))


def test_neutralise_table_returns_a_table_without_text_columns_as_is() -> None:
    table = pa.table({"p_high": [-0.25, 0.75]})
    assert neutralise_table(table).equals(table)
