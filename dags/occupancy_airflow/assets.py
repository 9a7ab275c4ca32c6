"""The Assets that link the DAGs.

Logical, not storage addresses: the lake URI differs between modes, the contract does not.
"""

from __future__ import annotations

from airflow.sdk import Asset

# The processed listings of one pipeline run: data_treatment_dag → train_pipeline_dag.
# Each event's extra carries {"pipeline_run_id": ...}, the run whose data it announces.
PROCESSED_LISTINGS = Asset(
    name="occupancy_processed_listings", uri="occupancy://lake/processed", group="occupancy"
)
PIPELINE_RUN_ID_KEY = "pipeline_run_id"

# Monitoring crossed a threshold: monitoring_dag → data_treatment_dag (then training and the
# promotion gate, as for any new data). Each event's extra carries the reasons, the raw file to
# retrain on (RAW_URI_KEY; None: the treatment DAG's default, OCCUPANCY_RAW_URI), the report and
# the monitoring run.
RETRAINING_NEEDED = Asset(
    name="occupancy_retraining_needed", uri="occupancy://monitoring/retraining", group="occupancy"
)
RAW_URI_KEY = "raw_uri"
REASON_KEY = "reason"
