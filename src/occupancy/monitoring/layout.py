"""Where one monitoring run keeps its outputs: `<lake>/monitoring/runs/<run id>/`.

The steps of `monitoring_dag` hand over through these files (each written whole, by one step):
drift writes `drift.json`, performance `performance.json`, and report reads both and writes
`report.html` and `summary.json`, the last.
"""

from __future__ import annotations

import math
from typing import Any

from occupancy.run_layout import check_run_id

PREFIX = "monitoring/runs"
DRIFT = "drift.json"
PERFORMANCE = "performance.json"
REPORT = "report.html"
SUMMARY = "summary.json"


def monitoring_key(run_id: str, name: str) -> str:
    """The lake key of output `name` of monitoring run `run_id` (the id checked first)."""
    return f"{PREFIX}/{check_run_id(run_id)}/{name}"


def without_nan(value: Any) -> Any:
    """`value` with every NaN float as None: the files are strict JSON (`null`, never `NaN`)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: without_nan(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [without_nan(v) for v in value]
    return value
