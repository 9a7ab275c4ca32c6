"""Streaming reader for raw listings CSV (plain or gzip, local or S3) in bounded memory.

The header is read first, so a file that is empty, binary, or lacks required columns fails before
any work is done. Rows then arrive in batches with every column as text: typing is the job of
validation and cleaning, which report problems per row instead of failing the whole file.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from occupancy.errors import SchemaError
from occupancy.lake import open_input

_PEEK_BYTES = 1 << 16
BLOCK_BYTES = 1 << 24  # ~16 MB of CSV per batch keeps memory flat on any file size


class _Prefixed(io.RawIOBase):
    """A read-only stream that replays bytes already consumed, then continues the source."""

    def __init__(self, prefix: bytes, source: IO[bytes]) -> None:
        self._prefix = prefix
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


@dataclass(frozen=True)
class CsvSource:
    """An opened CSV: its URI, header and a stream positioned at the start of the file."""

    uri: str
    columns: tuple[str, ...]
    stream: IO[bytes]


def _read_header(uri: str, head: bytes) -> tuple[str, ...]:
    if not head.strip():
        raise SchemaError(
            f"{uri} is empty: expected an Inside Airbnb listings CSV with a header row"
        )
    if b"\x00" in head:
        raise SchemaError(f"{uri} is not a CSV text file (it contains binary data)")
    first_line = head.split(b"\n", 1)[0]
    try:
        text = first_line.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SchemaError(f"{uri} is not a UTF-8 CSV file (its header cannot be decoded)") from None
    header = next(csv.reader([text]), [])
    return tuple(name.strip() for name in header)


@contextlib.contextmanager
def open_listings_csv(uri: str, required: Iterable[str]) -> Iterator[CsvSource]:
    """Open a listings CSV and check its header has every required column."""
    with open_input(uri) as raw:
        magic = raw.read(2)
        stream: IO[bytes] = io.BufferedReader(_Prefixed(magic, raw), buffer_size=1 << 20)
        if magic == b"\x1f\x8b":
            stream = gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[assignment]
        try:
            head = stream.read(_PEEK_BYTES)
        except (OSError, EOFError) as exc:
            raise SchemaError(f"{uri} is not a readable gzip file: {exc}") from None
        columns = _read_header(uri, head)
        missing = [name for name in required if name not in columns]
        if "id" not in columns:
            raise SchemaError(
                f"{uri} is not an Inside Airbnb listings CSV: its header has no 'id' column "
                f"(found {len(columns)} columns starting {list(columns[:3])})"
            )
        if missing:
            raise SchemaError(
                f"{uri} lacks required column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)}: use an Inside Airbnb 'detailed listings' file "
                "(listings.csv.gz)"
            )
        yield CsvSource(uri, columns, io.BufferedReader(_Prefixed(head, stream), 1 << 20))  # type: ignore[arg-type]


def read_options(columns: Iterable[str]) -> dict[str, object]:
    """pyarrow CSV options for raw listings: quoted newlines allowed, every column as text."""
    return {
        "read_options": pacsv.ReadOptions(block_size=BLOCK_BYTES, use_threads=True),
        "parse_options": pacsv.ParseOptions(newlines_in_values=True),
        "convert_options": pacsv.ConvertOptions(
            column_types={name: pa.string() for name in columns},
            # Only an empty field is missing: "NaN" or "NA" in a number column is an error to report.
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    }


def iter_batches(source: CsvSource) -> Iterator[pa.RecordBatch]:
    """Record batches of the CSV body, all columns as strings."""
    try:
        reader = pacsv.open_csv(source.stream, **read_options(source.columns))  # type: ignore[arg-type]
        for batch in reader:
            if batch.num_rows:
                yield batch
    except pa.ArrowInvalid as exc:
        raise SchemaError(f"{source.uri} is not a well-formed CSV: {exc}") from None


def batch_to_frame(batch: pa.RecordBatch) -> pd.DataFrame:
    """A record batch as a DataFrame of (Arrow-backed) strings."""
    return batch.to_pandas()
