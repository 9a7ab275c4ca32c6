"""data_treatment_dag: raw listings, one or many files → validated snapshots → one processed table."""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Param, get_current_context, task
from occupancy_airflow.assets import (
    PIPELINE_RUN_ID_KEY,
    PROCESSED_LISTINGS,
    RAW_URI_KEY,
    RETRAINING_NEEDED,
)
from occupancy_airflow.config import (
    DAG_DEFAULTS,
    DATA,
    LIGHT,
    RUN_ID_PATTERN,
    load_step_config,
)
from occupancy_airflow.steps import mapped_step, step

# One pipeline run id for every step: the one passed in the run's conf, else Airflow's run id.
PIPELINE_RUN_ID = "{{ params.pipeline_run_id or run_id }}"
# The names the sources task found, comma-separated (none when it failed: combine says so).
SOURCE_NAMES = "{{ (ti.xcom_pull(task_ids='sources') or {}).get('names', []) | join(',') }}"

DOC = """
### Data treatment

Turns Inside Airbnb *detailed listings* CSVs, one city scrape or many, into the processed table
the models train on. Each box runs `occupancy step <name>` in its own pod (or as a local
process, see `OCCUPANCY_STEP_RUNNER`); every step writes under `runs/<pipeline run id>/` in the
lake and publishes by writing its manifest last, so a retried step never sees half an output.

0. **raw_uris** — the files to treat: `raw_uris` (a list) or `raw_uri` from the run conf, else
   the newest triggering `occupancy_retraining_needed` event's, else `OCCUPANCY_RAW_URI`.
1. **sources** — names each file (`<city>_<scrape date>` from an Inside Airbnb path) and expands
   folders (a URI ending in `/`: every .csv/.csv.gz under it).
2. **ingest**, one task (pod) per source, `OCCUPANCY_MAX_PARALLEL_SOURCES` at a time — downloads
   (http(s) with retries and resume) or reads the file, checks the header against the contract,
   validates every row, quarantines bad rows with the column and reason, and snapshots the rest
   as Parquet. Fails when more than `OCCUPANCY_MAX_BAD_ROW_FRACTION` of the rows are bad.
3. **treat**, one per source — cleans (prices, rates, booleans, dates, amenities), derives the
   occupancy level and the host-grouped split, and writes the source's table with its `source`
   column. A source whose ingest failed is skipped.
4. **combine** — joins the sources' tables into the run's processed table. When a source failed,
   `OCCUPANCY_SOURCE_FAILURES` decides: `fail` (default) fails the run naming each failed source
   and why; `continue` trains on the rest and records the failed ones in the manifest.
5. **publish_processed** — emits the `occupancy_processed_listings` Asset with the pipeline run
   id, which schedules `train_pipeline_dag`.

**Run conf** (all optional): `raw_uris` (e.g. `["https://data.insideairbnb.com/.../listings.csv.gz",
"s3://occupancy-lake/raw/2025q3/"]`), `raw_uri` (one file, default `OCCUPANCY_RAW_URI`) and
`pipeline_run_id` (default: this Airflow run's id). Scheduled by the `occupancy_retraining_needed`
Asset that `monitoring_dag` emits when drift or the live performance crosses a threshold; trigger
it by hand when new files land (Inside Airbnb publishes quarterly).
"""

CONFIG = load_step_config()

with DAG(
    dag_id="data_treatment_dag",
    description="Validate, snapshot and clean raw Inside Airbnb listings, one pod per source",
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
        "raw_uris": Param(
            None,
            type=["null", "array"],
            items={"type": "string", "minLength": 1},
            description=(
                "Several raw files (or folders ending in /) treated in one run, one pod each; "
                "overrides raw_uri"
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
    def raw_uris() -> list[str]:
        """The raw files: the conf's, else the newest retraining request's, else [] (default)."""
        context = get_current_context()
        params = context["params"]
        if params.get("raw_uris"):
            return [str(uri) for uri in params["raw_uris"]]
        if params.get("raw_uri"):
            return [str(params["raw_uri"])]
        events = context.get("triggering_asset_events", {}).get(RETRAINING_NEEDED, [])
        requested = [e for e in events if (e.extra or {}).get(RAW_URI_KEY)]
        if not requested:
            return []
        # Coalesced requests: the newest scrape wins (the events come in no set order).
        return [str(max(requested, key=lambda e: e.timestamp).extra[RAW_URI_KEY])]

    sources = step(
        "sources",
        [
            "step", "sources", "--run-id", PIPELINE_RUN_ID,
            "--raw-list", "{{ ti.xcom_pull(task_ids='raw_uris') | tojson }}",
        ],
        resources=LIGHT,
        result=True,
    )  # fmt: skip

    @task
    def per_source(found: dict[str, Any], command: str) -> list[list[str]]:
        """The arguments of one `occupancy step <command>` per source of the run."""
        run_id = str(found["run_id"])
        arguments = []
        for source in found["sources"]:
            extra = ["--raw", str(source["uri"])] if command == "ingest" else []
            arguments.append(
                ["step", command, "--run-id", run_id, *extra, "--source", str(source["name"])]
            )
        return arguments

    # One pod per source, a bounded number at a time; each shows its source as its map index.
    by_source = {
        "max_active_tis_per_dagrun": CONFIG.source_concurrency,
        "map_index_template": "{{ task.arguments[-1] }}",
    }
    ingest = mapped_step("ingest", resources=DATA, config=CONFIG, **by_source).expand(
        arguments=per_source.override(task_id="ingest_arguments")(sources.output, "ingest")
    )
    # all_done: one source's failed ingest must not stop the others' treat (it skips its own).
    treat = mapped_step(
        "treat", resources=DATA, config=CONFIG, trigger_rule="all_done", **by_source
    ).expand(arguments=per_source.override(task_id="treat_arguments")(sources.output, "treat"))
    combine = step(
        "combine",
        [
            "step", "combine", "--run-id", PIPELINE_RUN_ID,
            "--sources", SOURCE_NAMES,
        ],
        resources=DATA,
        config=CONFIG,
        trigger_rule="all_done",  # the policy for failed sources is the step's
    )  # fmt: skip

    @task(outlets=[PROCESSED_LISTINGS])
    def publish_processed(pipeline_run_id: str) -> str:
        """Announce the processed data of this pipeline run to train_pipeline_dag."""
        events = get_current_context()["outlet_events"]
        events[PROCESSED_LISTINGS].extra = {PIPELINE_RUN_ID_KEY: pipeline_run_id}
        return pipeline_run_id

    raw_uris() >> sources
    ingest >> treat >> combine >> publish_processed(PIPELINE_RUN_ID)
