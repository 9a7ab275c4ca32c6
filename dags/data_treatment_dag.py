"""data_treatment_dag: raw listings → validated snapshot → processed table, then announce it."""

from __future__ import annotations

from airflow.sdk import DAG, Param, get_current_context, task
from occupancy_airflow.assets import (
    PIPELINE_RUN_ID_KEY,
    PROCESSED_LISTINGS,
    RAW_URI_KEY,
    RETRAINING_NEEDED,
)
from occupancy_airflow.config import DAG_DEFAULTS, DATA, RUN_ID_PATTERN
from occupancy_airflow.steps import step

# One pipeline run id for every step: the one passed in the run's conf, else Airflow's run id.
PIPELINE_RUN_ID = "{{ params.pipeline_run_id or run_id }}"

DOC = """
### Data treatment

Turns an Inside Airbnb *detailed listings* CSV into the processed table the models train on.
Each box runs `occupancy step <name>` in its own pod (or as a local process, see
`OCCUPANCY_STEP_RUNNER`); every step writes under `runs/<pipeline run id>/` in the lake and
publishes by writing its manifest last, so a retried step never sees half an output.

0. **raw_uri** — the file to treat: `raw_uri` from the run conf, else the newest triggering
   `occupancy_retraining_needed` event's, else `OCCUPANCY_RAW_URI` (the step's default).
1. **ingest** — checks the header against the contract, validates every row (types, ranges,
   duplicate ids), quarantines bad rows with the column and reason, and snapshots the rest as
   Parquet. Fails when more than `OCCUPANCY_MAX_BAD_ROW_FRACTION` of the rows are bad.
2. **treat** — cleans (prices, rates, booleans, dates, amenities), derives the occupancy level
   and the host-grouped train/valid/test split, and writes the processed table.
3. **publish_processed** — emits the `occupancy_processed_listings` Asset with the pipeline run id,
   which schedules `train_pipeline_dag`.

**Run conf** (both optional): `raw_uri` (default `OCCUPANCY_RAW_URI`, e.g.
`s3://occupancy-lake/raw/listings_big.csv`) and `pipeline_run_id` (default: this Airflow run's id).
Scheduled by the `occupancy_retraining_needed` Asset that `monitoring_dag` emits when drift or the
live performance crosses a threshold; trigger it by hand when a new file lands (Inside Airbnb
publishes quarterly).
"""

with DAG(
    dag_id="data_treatment_dag",
    description="Validate, snapshot and clean raw Inside Airbnb listings",
    schedule=[RETRAINING_NEEDED],
    **DAG_DEFAULTS,
    tags=["occupancy", "data"],
    doc_md=DOC,
    params={
        "raw_uri": Param(
            None,
            type=["null", "string"],
            description=(
                "Raw listings CSV(.gz): path, file://, s3:// or http(s):// "
                "(default OCCUPANCY_RAW_URI)"
            ),
        ),
        "pipeline_run_id": Param(
            None,
            type=["null", "string"],
            pattern=RUN_ID_PATTERN,
            description="Pipeline run id shared by all steps (default: the Airflow run id)",
        ),
    },
):

    @task
    def raw_uri() -> str:
        """The raw file: the conf's, else the newest retraining request's, else the default."""
        context = get_current_context()
        explicit = context["params"].get("raw_uri")
        if explicit:
            return str(explicit)
        events = context.get("triggering_asset_events", {}).get(RETRAINING_NEEDED, [])
        requested = [e for e in events if (e.extra or {}).get(RAW_URI_KEY)]
        if not requested:
            return ""
        # Coalesced requests: the newest scrape wins (the events come in no set order).
        return str(max(requested, key=lambda e: e.timestamp).extra[RAW_URI_KEY])

    ingest = step(
        "ingest",
        [
            "step", "ingest", "--run-id", PIPELINE_RUN_ID,
            "--raw", "{{ ti.xcom_pull(task_ids='raw_uri') or '' }}",
        ],
        resources=DATA,
    )  # fmt: skip
    treat = step("treat", ["step", "treat", "--run-id", PIPELINE_RUN_ID], resources=DATA)

    @task(outlets=[PROCESSED_LISTINGS])
    def publish_processed(pipeline_run_id: str) -> str:
        """Announce the processed data of this pipeline run to train_pipeline_dag."""
        events = get_current_context()["outlet_events"]
        events[PROCESSED_LISTINGS].extra = {PIPELINE_RUN_ID_KEY: pipeline_run_id}
        return pipeline_run_id

    raw_uri() >> ingest >> treat >> publish_processed(PIPELINE_RUN_ID)
