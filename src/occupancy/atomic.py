"""Atomic local file writes: write a temporary sibling, then rename it over the target.

Readers of the target see the old content or the new, never a part, and a failed write leaves
the target as it was. The temporary file sits in the target's own directory because a rename
is atomic only within one file system.
"""

from __future__ import annotations

import contextlib
import errno
import os
import uuid
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_write(target: Path) -> Iterator[Path]:
    """Yield a temporary path next to `target`; when the block succeeds, it replaces `target`.

    Write the whole content to the yielded path. On error the temporary file is removed and
    the exception propagates, naming `target` rather than the temporary file. The target's
    directory must exist; an existing target must be a regular file (never a directory, a
    device or a pipe, which a rename would silently replace).
    """
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(target))
    if target.exists() and not target.is_file():
        raise FileExistsError(errno.EEXIST, "exists and is not a regular file", str(target))
    # A dot name with a random part: hidden from casual listings and unique per writer, so
    # concurrent writers of one target never share a temporary file.
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield tmp
        os.replace(tmp, target)
    except OSError as exc:
        # The temporary name is ours, not the user's: a failure to create it is a failure to
        # write the target (a read-only or missing directory).
        if exc.filename == str(tmp):
            exc.filename = str(target)
        raise
    finally:
        tmp.unlink(missing_ok=True)
