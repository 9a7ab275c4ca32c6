"""Where each step keeps its outputs in the lake; one place so no step guesses another's keys."""

from __future__ import annotations

import re

from occupancy.errors import ConfigError

MANIFEST = "_manifest.json"
LATEST_PROCESSED = "processed/latest.json"
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+-]{0,127}")


def check_run_id(run_id: str) -> str:
    """A run id is a short token safe in object keys, MLflow tags and pod labels."""
    if not _RUN_ID.fullmatch(run_id):
        raise ConfigError(
            f"invalid run id {run_id!r}: use 1-128 letters, digits, '_', '.', ':', '+' or '-', "
            "starting with a letter or digit"
        )
    return run_id


def ingest_prefix(run_id: str) -> str:
    """Validated raw snapshot, quarantine and report of one run."""
    return f"runs/{run_id}/ingest"


def processed_prefix(run_id: str) -> str:
    """Cleaned, split training table of one run."""
    return f"runs/{run_id}/processed"
