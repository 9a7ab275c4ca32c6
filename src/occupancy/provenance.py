"""Where a model came from: the code version recorded on runs and registered versions."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path

from occupancy.config import Settings


def git_sha(settings: Settings) -> str:
    """The commit of the running code: OCCUPANCY_GIT_SHA (set in images) or the checkout's HEAD."""
    return settings.git_sha or _checkout_head()


@lru_cache(maxsize=1)
def _checkout_head() -> str:
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
