"""Turn a failure that is not an OccupancyError into one sentence a user can act on.

Recognised foreign failures (file system, S3, MLflow, Arrow) name the place and what to check;
anything else names its type and the command and asks for a `--debug` rerun.
`is_path_error` says whether a retry could help (DESIGN.md section 5): a path the user gave
that cannot be used fails the same way every time (the CLI exits 2); anything else may pass
later (exit 1).
"""

from __future__ import annotations

import errno
import os
import tempfile

_FS_ADVICE = {
    FileNotFoundError: "does not exist; check the path and that its directory exists",
    PermissionError: "is not accessible; check its permissions",
    IsADirectoryError: "is a directory; give a file path",
    NotADirectoryError: "has a parent that is not a directory; check the path",
    FileExistsError: "exists and is not a regular file; give the path of a new or regular file",
}
# Errors of a path itself, not of the moment: a retry meets the same path (a full disk, by
# contrast, may have room on the next try).
_PATH_ERRNOS = {
    errno.ENOENT,
    errno.EACCES,
    errno.EPERM,
    errno.EISDIR,
    errno.ENOTDIR,
    errno.EEXIST,
    errno.EROFS,
    errno.ENAMETOOLONG,
}


def _short(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _foreign(exc: BaseException) -> str | None:
    name = type(exc).__name__
    if isinstance(exc, OSError):
        place = exc.filename if exc.filename is not None else "the output"
        if exc.errno == errno.ENOSPC:
            if exc.filename is None:  # a download or a library's own temporary file
                place = f"the output or the scratch space ({tempfile.gettempdir()}, TMPDIR)"
            return f"no space left on the device writing {place}; free some space and rerun"
        if isinstance(exc, FileExistsError) and os.path.isfile(place):  # mkdir of a file
            return f"{place} is a file where a directory is needed; check the path"
        if exc.errno == errno.EROFS:
            return f"{place} is on a read-only file system; choose a writable path"
        for kind, advice in _FS_ADVICE.items():
            if isinstance(exc, kind):
                return f"{place} {advice}"
    module = type(exc).__module__
    if module.startswith("botocore") and name in {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "NoCredentialsError",
    }:
        return (
            f"the S3 endpoint cannot be used ({_short(exc)}); check OCCUPANCY_S3_ENDPOINT "
            "is reachable and the S3 credentials are set"
        )
    if module.startswith("mlflow") or (
        module.startswith(("requests", "urllib3")) and "mlflow" in str(exc).lower()
    ):
        return (
            f"the MLflow tracking server cannot be used ({_short(exc)}); check "
            "MLFLOW_TRACKING_URI points at a running server"
        )
    if module.startswith("pyarrow") and name == "ArrowInvalid":
        return f"a file could not be read as Parquet/CSV ({_short(exc)}); check the input file"
    return None


def describe(exc: BaseException, command: str) -> str:
    """One sentence (no `error:` prefix) for `exc` raised while running `command`."""
    known = _foreign(exc)
    if known is not None:
        return known
    return (
        f"unexpected {type(exc).__name__} in {command} ({_short(exc)}); "
        "rerun with --debug for the traceback and report it"
    )


def is_path_error(exc: BaseException) -> bool:
    """True when `exc` says a named path is unusable as given (no retry can fix it)."""
    return isinstance(exc, OSError) and exc.errno in _PATH_ERRNOS and exc.filename is not None
