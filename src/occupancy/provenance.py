"""Where a model came from: the code version recorded on runs and registered versions."""

from __future__ import annotations

import os
import subprocess
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def git_sha() -> str:
    """The commit of the running code: OCCUPANCY_GIT_SHA (set in images) or the checkout's HEAD."""
    if sha := os.environ.get("OCCUPANCY_GIT_SHA"):
        return sha
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() or "unknown"
