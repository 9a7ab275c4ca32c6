"""The Asset that links the two DAGs: the processed listings of one pipeline run."""

from __future__ import annotations

from airflow.sdk import Asset

# Logical, not a storage address: the lake URI differs between modes, the contract does not.
# Each event's extra carries {"pipeline_run_id": ...}, the run whose data it announces.
PROCESSED_LISTINGS = Asset(
    name="occupancy_processed_listings", uri="occupancy://lake/processed", group="occupancy"
)
PIPELINE_RUN_ID_KEY = "pipeline_run_id"
