"""An uploaded listings CSV scored for the page, as `occupancy predict` scores a file.

The same reader (header checked first, gzip detected by content), the same data contract and the
same output rows (`occupancy.scored_rows`): a valid row is scored, an invalid one is
shown with its reason. Uploads are held to the API's own batch limit (MAX_LISTINGS); larger
files are what `occupancy predict` is for.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from occupancy.api.schemas import MAX_LISTINGS
from occupancy.data.csvio import iter_batches, listings_csv_from_stream
from occupancy.data.csvsafe import neutralise_table
from occupancy.data.schema import REQUIRED_FOR_SCORING
from occupancy.data.validate import validate_rows
from occupancy.errors import DataError, SchemaError
from occupancy.scored_rows import OUTPUT_SCHEMA, REFUSED, REQUIRED_VALUES, score_batch

GZIP_MAGIC = b"\x1f\x8b"
# 1,000 listings with long descriptions are about 10 MB of CSV; past this an upload is refused.
MAX_PLAIN_BYTES = 64 * 2**20


@dataclass(frozen=True)
class BatchResult:
    """One output row per uploaded listing, and the same rows as a downloadable CSV."""

    filename: str
    rows: list[dict[str, Any]]  # occupancy.scored_rows.OUTPUT_COLUMNS → value
    csv: bytes

    @property
    def refused(self) -> int:
        return sum(row["status"] == REFUSED for row in self.rows)

    @property
    def scored(self) -> int:
        return len(self.rows) - self.refused


def score_upload(model: Any, filename: str, data: bytes) -> BatchResult:
    """Score an uploaded CSV(.gz); SchemaError/DataError say in one sentence why it cannot be."""
    name = f"the uploaded file {filename!r}" if filename else "the uploaded file"
    plain = _gunzipped(name, data) if data[:2] == GZIP_MAGIC else data
    source = listings_csv_from_stream(name, io.BytesIO(plain), REQUIRED_FOR_SCORING)
    seen_ids: set[int] = set()  # a repeated id is refused wherever it is, as ingest does
    tables: list[pa.Table] = []
    rows = 0
    for batch in iter_batches(source):
        rows += batch.num_rows
        if rows > MAX_LISTINGS:
            raise DataError(
                f"{name} has more than {MAX_LISTINGS:,} listings: the page scores up to "
                f"{MAX_LISTINGS:,} at a time (`occupancy predict` scores files of any size)"
            )
        raw = pa.Table.from_batches([batch])
        verdict = validate_rows(
            raw, REQUIRED_FOR_SCORING, seen_ids=seen_ids, required=REQUIRED_VALUES
        )
        tables.append(score_batch(model, raw, verdict))
    table = pa.concat_tables(tables) if tables else OUTPUT_SCHEMA.empty_table()
    buffer = io.BytesIO()
    # A spreadsheet opening the download must not run an id or a quoted value as a formula.
    pacsv.write_csv(neutralise_table(table), buffer)
    return BatchResult(filename, table.to_pylist(), buffer.getvalue())


def _gunzipped(name: str, data: bytes) -> bytes:
    """A gzip upload decompressed, refused past MAX_PLAIN_BYTES (16 MB of gzip can hold 16 GB)."""
    out = bytearray()
    rest = data
    try:
        while rest:  # a gzip file may hold several members
            member = zlib.decompressobj(wbits=31)
            out += member.decompress(rest, MAX_PLAIN_BYTES + 1 - len(out))
            if len(out) > MAX_PLAIN_BYTES or member.unconsumed_tail:
                raise DataError(
                    f"{name} decompresses to more than {MAX_PLAIN_BYTES // 2**20} MB: the page "
                    f"scores up to {MAX_LISTINGS:,} listings (`occupancy predict` scores files "
                    "of any size)"
                )
            if not member.eof:
                raise zlib.error("the stream ends before the gzip member does")
            rest = member.unused_data
    except zlib.error as exc:
        raise SchemaError(
            f"{name} is a truncated or corrupt gzip file ({exc}): compress it again"
        ) from None
    return bytes(out)
