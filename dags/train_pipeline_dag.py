"""train_pipeline_dag: train every model family on one run's processed data, then promote."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from airflow.sdk import DAG, Param, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from occupancy_airflow.assets import PROCESSED_LISTINGS
from occupancy_airflow.coalesce import (
    EVENTS_LOOKED_AT,
    SUPERSEDED_KEY,
    MissingRunIdError,
    choose,
    own_events,
)
from occupancy_airflow.config import DAG_DEFAULTS, DATA, LIGHT, RUN_ID_PATTERN, load_step_config
from occupancy_airflow.steps import mapped_step, step

log = logging.getLogger(__name__)
PIPELINE_RUN_ID = "{{ ti.xcom_pull(task_ids='pipeline_run_id') }}"
SUPERSEDED = (
    "{{ ti.xcom_pull(task_ids='pipeline_run_id', key='" + SUPERSEDED_KEY + "') | join(',') }}"
)

DOC = """
### Training and promotion

Scheduled by the `occupancy_processed_listings` Asset that `data_treatment_dag` emits, so it
trains on exactly the data that run produced (the pipeline run id travels in the event).

1. **pipeline_run_id** — the run to train on: `pipeline_run_id` from the run conf, else the
   newest Asset event published since the previous training run started. When several treatment
   runs published before this run started, Airflow coalesces them into this one run: only the
   newest is trained, and the older run ids are logged, kept in this task's `superseded_runs`
   XCom and tagged `occupancy.superseded_runs` on the pipeline's MLflow run.
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
    # inlets: the task reads the Asset's events itself, because the triggering events of a run
    # that several events coalesced into stop at the first one (see coalesce.py).
    @task(inlets=[PROCESSED_LISTINGS])
    def pipeline_run_id() -> str:
        """The pipeline run to train on: from the run conf, else the newest Asset event's."""
        context = get_current_context()
        explicit = context["params"].get("pipeline_run_id")
        superseded: tuple[str, ...] = ()
        if explicit:
            chosen = str(explicit)
        else:
            run = context["dag_run"]
            started_at = run.start_date or datetime.now(UTC)
            latest = (
                context["inlet_events"][PROCESSED_LISTINGS]
                .before(started_at.isoformat())
                .ascending(False)
                .limit(EVENTS_LOOKED_AT)
            )
            events = own_events(latest, dag_id=run.dag_id, run_id=run.run_id, started_at=started_at)
            try:
                choice = choose(events)
            except MissingRunIdError as missing:
                raise AirflowFailException(str(missing)) from None
            triggered = any(context.get("triggering_asset_events", {}).values())
            if choice is None and triggered:
                # The events that created this run arrived after the previous training run was
                # created but before it started, so that run trained them: nothing is left here.
                raise AirflowSkipException(
                    "every Asset event that triggered this run was trained by the previous "
                    "training run (it started after they were published): nothing to train"
                )
            if choice is None:
                raise AirflowFailException(
                    "no pipeline run to train on: run data_treatment_dag (it triggers this DAG), "
                    'or trigger with the conf {"pipeline_run_id": "<id>"}'
                )
            chosen, superseded = choice.pipeline_run_id, choice.superseded
        # The Task SDK cannot write the DAG run's note (see coalesce.py): the record is this
        # XCom (UI and REST API), the task log line below and the promote step's MLflow tag.
        context["ti"].xcom_push(SUPERSEDED_KEY, list(superseded))
        if superseded:
            log.warning(
                "training pipeline run %s, the newest of %d runs published since the previous "
                "training run started; superseded (published but not trained): %s",
                chosen,
                len(superseded) + 1,
                ", ".join(superseded),
            )
        return chosen

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
    promote = step(
        "promote",
        ["step", "promote", "--run-id", PIPELINE_RUN_ID, "--superseded", SUPERSEDED],
        resources=DATA,
    )

    pipeline_run_id() >> check >> train >> promote
