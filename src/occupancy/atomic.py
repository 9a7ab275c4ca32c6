"""Atomic local file writes: write a temporary sibling, then rename it over the target.

Readers of the target see the old content or the new, never a part, and a failed write leaves
the target as it was. The temporary file sits in the target's own directory because a rename
is atomic only within one file system.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_write(target: Path) -> Iterator[Path]:
    """Yield a temporary path next to `target`; when the block succeeds, it replaces `target`.

    Write the whole content to the yielded path. On error the temporary file is removed and
    the exception propagates. The target's directory must exist.
    """
    # A dot name with a random part: hidden from casual listings and unique per writer, so
    # concurrent writers of one target never share a temporary file.
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
