"""Step check: a run's processed data is published and its data file is there.

The first step of the training DAG, so that a training DAG started for a run whose treatment
never finished fails at once with one clear line instead of in every training pod.
"""

from __future__ import annotations

from typing import Any

from occupancy.config import Settings
from occupancy.errors import NotFoundError
from occupancy.run_layout import open_run


def run_check(settings: Settings, run_id: str) -> dict[str, Any]:
    """The processed manifest of run `run_id`, after checking that what it names exists."""
    run = open_run(settings, run_id)
    manifest = run.processed_manifest()
    if not run.processed.holds(manifest["data"]):
        raise NotFoundError(
            f"run {run_id}'s manifest names {manifest.get('data')}, which is missing: "
            "rerun the treat step"
        )
    return {
        "step": "check",
        "run_id": run_id,
        "rows": manifest["rows"],
        "split_rows": manifest["split_rows"],
        "digest": manifest["digest"],
    }
