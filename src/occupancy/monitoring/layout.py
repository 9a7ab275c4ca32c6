"""Where one monitoring run keeps its outputs: `<lake>/monitoring/runs/<run id>/`.

The steps of `monitoring_dag` hand over through these files (each written whole, by one step):
drift writes `drift.json`, performance `performance.json`, and report reads both and writes
`report.html` and `summary.json`, the last.
"""

from __future__ import annotations

from occupancy.run_layout import check_run_id

PREFIX = "monitoring/runs"
DRIFT = "drift.json"
PERFORMANCE = "performance.json"
REPORT = "report.html"
SUMMARY = "summary.json"


def monitoring_key(run_id: str, name: str) -> str:
    """The lake key of output `name` of monitoring run `run_id` (the id checked first)."""
    return f"{PREFIX}/{check_run_id(run_id)}/{name}"
