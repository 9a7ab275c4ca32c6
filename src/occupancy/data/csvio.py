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
import threading
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, Full, Queue
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pacsv

from occupancy.download import DownloadLimits, download, is_http
from occupancy.errors import SchemaError
from occupancy.lake import local_workdir, open_input, split_uri

_PEEK_BYTES = 1 << 16
BLOCK_BYTES = 1 << 22  # 4 MB of CSV per batch: flat memory on any size, measured fastest


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


def _check_header(uri: str, head: bytes, required: Iterable[str]) -> tuple[str, ...]:
    columns = _read_header(uri, head)
    if "id" not in columns:
        raise SchemaError(
            f"{uri} is not an Inside Airbnb listings CSV: its header has no 'id' column "
            f"(found {len(columns)} columns starting {list(columns[:3])})"
        )
    missing = [name for name in required if name not in columns]
    if missing:
        raise SchemaError(
            f"{uri} lacks required column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}: use an Inside Airbnb 'detailed listings' file "
            "(listings.csv.gz)"
        )
    return columns


def _peek(uri: str, stream: IO[bytes]) -> bytes:
    try:
        return stream.read(_PEEK_BYTES)
    except (OSError, EOFError) as exc:
        raise SchemaError(f"{uri} is not a readable gzip file: {exc}") from None


@contextlib.contextmanager
def open_listings_csv(
    uri: str,
    required: Iterable[str],
    *,
    endpoint_url: str | None = None,
    local: Path | None = None,
    limits: DownloadLimits | None = None,
) -> Iterator[CsvSource]:
    """Open a listings CSV (gzip detected by content) and check its header has every required column.

    `endpoint_url` is the S3 endpoint for s3:// inputs (None: boto3's own resolution). An
    http(s) URL is downloaded within `limits` first, unless `local` is a copy of it already on
    disk; either way the file is read in place and errors name `uri`.
    """
    if local is None and is_http(uri):
        with local_workdir() as work:
            fetched = download(uri, work / "download", limits or DownloadLimits())
            with open_listings_csv(uri, required, local=fetched.path) as source:
                yield source
        return
    scheme, path = ("file", str(local)) if local is not None else split_uri(uri)
    opener = local.open("rb") if local is not None else open_input(uri, endpoint_url=endpoint_url)
    with opener as raw:
        gzipped, stream, head, columns = _checked(uri, raw, required)
        if scheme == "file":
            # Local files are read by Arrow's native reader: no Python in the parsing loop.
            native = pa.input_stream(path, compression="gzip" if gzipped else None)
            with native:
                yield CsvSource(uri, columns, native)  # type: ignore[arg-type]
            return
        yield CsvSource(uri, columns, io.BufferedReader(_Prefixed(head, stream), 1 << 20))  # type: ignore[arg-type]


def listings_csv_from_stream(uri: str, raw: IO[bytes], required: Iterable[str]) -> CsvSource:
    """A listings CSV already open as bytes (an upload; `uri` names it in errors), header checked."""
    _, stream, head, columns = _checked(uri, raw, required)
    return CsvSource(uri, columns, io.BufferedReader(_Prefixed(head, stream), 1 << 20))  # type: ignore[arg-type]


def _checked(
    uri: str, raw: IO[bytes], required: Iterable[str]
) -> tuple[bool, IO[bytes], bytes, tuple[str, ...]]:
    """Whether it is gzip, the decompressed stream past the head, the head, the checked header."""
    magic = raw.read(2)
    gzipped = magic == b"\x1f\x8b"
    stream: IO[bytes] = io.BufferedReader(_Prefixed(magic, raw), buffer_size=1 << 20)  # type: ignore[arg-type]
    if gzipped:
        stream = gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[assignment]
    head = _peek(uri, stream)
    return gzipped, stream, head, _check_header(uri, head, required)


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


def _parse(source: CsvSource) -> Iterator[pa.RecordBatch]:
    try:
        reader = pacsv.open_csv(source.stream, **read_options(source.columns))  # type: ignore[arg-type]
        for batch in reader:
            if batch.num_rows:
                yield batch
    except pa.ArrowInvalid as exc:
        raise SchemaError(f"{source.uri} is not a well-formed CSV: {exc}") from None
    except (EOFError, zlib.error, OSError) as exc:
        if isinstance(exc, OSError) and not _is_decompression_error(exc):
            raise
        raise SchemaError(
            f"{source.uri} is a truncated or corrupt gzip file ({exc}): download or compress "
            "it again"
        ) from None


def _is_decompression_error(exc: OSError) -> bool:
    # Arrow's gzip codec and Python's gzip module raise OSError without an errno for a damaged
    # stream; a real I/O or network failure carries one (or is a timeout): that one may pass
    # on a retry and must not become a data error.
    return exc.errno is None and not isinstance(exc, (TimeoutError, ConnectionError))


def iter_tables(source: CsvSource, min_rows: int = 50_000) -> Iterator[pa.Table]:
    """The CSV body in tables of at least `min_rows` rows (the last may be smaller).

    Arrow parses fastest in small blocks, but every compute call has a fixed cost, so callers
    that run many kernels per row get blocks regrouped into larger tables.
    """
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in iter_batches(source):
        pending.append(batch)
        rows += batch.num_rows
        if rows >= min_rows:
            yield pa.Table.from_batches(pending).combine_chunks()
            pending, rows = [], 0
    if pending:
        yield pa.Table.from_batches(pending).combine_chunks()


def iter_batches(source: CsvSource, prefetch: int = 4) -> Iterator[pa.RecordBatch]:
    """Record batches of the CSV body, all columns as strings.

    Parsing runs in a background thread a few batches ahead (Arrow releases the GIL), so it
    overlaps with whatever the caller does with each batch.
    """
    done = object()
    queue: Queue[Any] = Queue(maxsize=prefetch)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in _parse(source):
                while not stop.is_set():
                    try:
                        queue.put(batch, timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put(done)
        except BaseException as exc:  # handed to the consumer, re-raised there
            queue.put(exc)

    worker = threading.Thread(target=produce, name="csv-parse", daemon=True)
    worker.start()
    try:
        while (item := queue.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # drain so a blocked producer can finish
            with contextlib.suppress(Empty):
                queue.get(timeout=0.1)
        worker.join()
