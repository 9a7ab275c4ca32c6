"""train_pipeline_dag: train every model family on one run's processed data, then promote."""

from __future__ import annotations

from airflow.sdk import DAG, Param, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException
from occupancy_airflow.assets import PIPELINE_RUN_ID_KEY, PROCESSED_LISTINGS
from occupancy_airflow.config import DAG_DEFAULTS, DATA, LIGHT, RUN_ID_PATTERN, load_step_config
from occupancy_airflow.steps import mapped_step, step

PIPELINE_RUN_ID = "{{ ti.xcom_pull(task_ids='pipeline_run_id') }}"

DOC = """
### Training and promotion

Scheduled by the `occupancy_processed_listings` Asset that `data_treatment_dag` emits, so it
trains on exactly the data that run produced (the pipeline run id travels in the event).

1. **pipeline_run_id** — the run to train on: `pipeline_run_id` from the run conf, else the
   triggering Asset event.
2. **check_processed** — `occupancy step check`: the processed table of that run exists.
3. **train** — one mapped task (one pod) per model family (`OCCUPANCY_MODEL_FAMILIES`, default
   logreg, hgb, forest, mlp), `OCCUPANCY_TRAIN_CONCURRENCY` (default 2) at a time; each is an
   MLflow child run of the pipeline run with its parameters, validation metrics, confusion matrix
   and the logged model.
4. **promote** — picks the family with the best validation macro-F1, scores it and the current
   `@champion` on the same test rows, and registers it as `airbnb-occupancy-classifier` and moves
   `@champion` only if it is at least as good. The API picks the new version up by itself.

To retrain a past run by hand: trigger with `{"pipeline_run_id": "<id>"}`.
"""

CONFIG = load_step_config()

with DAG(
    dag_id="train_pipeline_dag",
    description="Train the model families in parallel and promote the best to @champion",
    schedule=[PROCESSED_LISTINGS],
    **DAG_DEFAULTS,
    tags=["occupancy", "training"],
    doc_md=DOC,
    params={
        "pipeline_run_id": Param(
            None,
            type=["null", "string"],
            pattern=RUN_ID_PATTERN,
            description="Train on this pipeline run (default: the triggering Asset event's)",
        ),
    },
):

    @task
    def pipeline_run_id() -> str:
        """The pipeline run to train on: from the run conf, else from the Asset event."""
        context = get_current_context()
        explicit = context["params"].get("pipeline_run_id")
        if explicit:
            return str(explicit)
        for events in context["triggering_asset_events"].values():
            for event in reversed(list(events)):
                found = (event.extra or {}).get(PIPELINE_RUN_ID_KEY)
                if found:
                    return str(found)
        raise AirflowFailException(
            "no pipeline run to train on: run data_treatment_dag (it triggers this DAG), or "
            'trigger with the conf {"pipeline_run_id": "<id>"}'
        )

    check = step(
        "check_processed",
        ["step", "check", "--run-id", PIPELINE_RUN_ID],
        resources=LIGHT,
    )
    train = mapped_step(
        "train",
        resources=CONFIG.train,
        config=CONFIG,
        # Bounded, so the fan-out fits the node beside the platform instead of pods waiting
        # Pending until their startup timeout.
        max_active_tis_per_dag=CONFIG.train_concurrency,
        map_index_template="{{ task.arguments[-1] }}",
    ).expand(
        arguments=[
            ["step", "train", "--run-id", PIPELINE_RUN_ID, "--model", family]
            for family in CONFIG.families
        ]
    )
    promote = step("promote", ["step", "promote", "--run-id", PIPELINE_RUN_ID], resources=DATA)

    pipeline_run_id() >> check >> train >> promote
