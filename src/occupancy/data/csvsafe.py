"""CSV/formula injection defence for text cells the product writes to CSV files.

A spreadsheet runs a cell that begins with `=`, `+`, `-`, `@`, tab or carriage return as a
formula, so a listing id like `=HYPERLINK(...)` would become a live link in whoever opens the
file. Following OWASP (https://owasp.org/www-community/attacks/CSV_Injection), such a text cell
is prefixed with a single quote; quoting of the cell itself is left to the CSV writer. Only text
is touched: numeric columns stay numbers (a negative probability is a number, not a formula).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_TRIGGER_PATTERN = "^([=+\\-@\t\r])"


def neutralise_cell(text: str) -> str:
    """`text` with a leading `'` when a spreadsheet would read it as a formula, else unchanged."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def neutralise_table(table: pa.Table) -> pa.Table:
    """`table` with every string column neutralised cell by cell (vectorised); others untouched."""
    for index, field in enumerate(table.schema):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            safe = pc.replace_substring_regex(
                table.column(index), pattern=_TRIGGER_PATTERN, replacement="'\\1"
            )
            table = table.set_column(index, field, safe)
    return table
