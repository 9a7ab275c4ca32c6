"""Where a model came from: the code version recorded on runs and registered versions.

An image carries the commit it was built from in OCCUPANCY_GIT_SHA (build arg GIT_SHA, set by
`make images`, compose, skaffold and the e2e); a checkout answers with `checkout_revision`, the
same value the Makefile computes: the full commit sha, `-dirty` when tracked files differ.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from occupancy.config import Settings

UNKNOWN = "unknown"
# Tags are excluded so describe falls back to the commit itself (--always), in full (--abbrev=40).
# The Makefile's GIT_SHA runs the same command: keep the two identical.
DESCRIBE = ("describe", "--always", "--dirty", "--abbrev=40", "--exclude=*")


def git_sha(settings: Settings) -> str:
    """The commit of the running code: OCCUPANCY_GIT_SHA (set in images) or the checkout's."""
    return settings.git_sha or _running_checkout()


def checkout_revision(directory: Path) -> str:
    """The commit checked out at `directory` (`<sha>-dirty` with uncommitted changes to tracked
    files), or `unknown` outside a git checkout or without git."""
    git = shutil.which("git")
    if git is None:
        return UNKNOWN
    try:
        # git by its absolute path, with fixed arguments, no shell.
        result = subprocess.run(  # nosec B603
            [git, "-C", str(directory), *DESCRIBE],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN
    return result.stdout.strip() or UNKNOWN


@lru_cache(maxsize=1)
def _running_checkout() -> str:
    return checkout_revision(Path(__file__).resolve().parent)
