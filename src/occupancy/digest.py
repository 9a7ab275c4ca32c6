"""Content digests that identify a dataset version, and the checks that a read got that version.

A digest names a dataset version in manifests, MLflow and model tags. Every read of a step's
Parquet output compares the downloaded file with the digest its manifest recorded, and turns an
unreadable file into one sentence: a flipped byte or a truncated upload never reaches Arrow's
traceback or, worse, a model.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from occupancy.errors import DataError

_BLOCK = 1 << 20


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes, first 16 hex digits (enough to tell versions apart)."""
    with path.open("rb") as handle:
        return stream_digest(handle)[0]


def stream_digest(handle: IO[bytes]) -> tuple[str, int]:
    """(digest as `file_digest` gives it, size in bytes) of a stream read to its end."""
    sha = hashlib.sha256()
    size = 0
    for block in iter(lambda: handle.read(_BLOCK), b""):
        sha.update(block)
        size += len(block)
    return sha.hexdigest()[:16], size


def _redo(uri: str) -> str:
    return f"rerun the step that wrote it with a new run id, or restore {uri}"


def verify_file(path: Path, expected: str, uri: str) -> Path:
    """`path` (a copy of `uri`) when its digest is the manifest's `expected`; else DataError."""
    actual = file_digest(path)
    if actual != expected:
        raise DataError(
            f"{uri} does not match its manifest (digest {actual}, manifest {expected}): the "
            f"object was damaged or replaced after publishing; {_redo(uri)}"
        )
    return path


@contextlib.contextmanager
def readable_parquet(uri: str) -> Iterator[None]:
    """Turn Arrow's errors on reading the Parquet copy of `uri` into one DataError sentence."""
    import pyarrow as pa

    try:
        yield
    except (pa.ArrowException, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{uri} is not a readable Parquet file ({reason}); {_redo(uri)}") from None
