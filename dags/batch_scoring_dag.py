"""batch_scoring_dag: score a raw listings file with @champion into the lake, chunk by chunk."""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Param, task
from occupancy_airflow.config import (
    DAG_DEFAULTS,
    DATA,
    LIGHT,
    RUN_ID_PATTERN,
    load_step_config,
)
from occupancy_airflow.steps import mapped_step, step

SCORING_RUN_ID = "{{ params.scoring_run_id or run_id }}"

DOC = """
### Batch scoring

Scores every listing of a raw Inside Airbnb file with the model at `@champion`, into the lake
under `scores/<scoring run id>/`. Each box runs `occupancy step <name>` in its own pod (or as
a local process).

1. **plan** — reads the file once (an http(s) URL is downloaded with retries and resume, its
   digest recorded), checks its header, cuts it into chunks of `OCCUPANCY_SCORE_CHUNK_ROWS` rows
   (default 250,000) and pins the champion's version, so that every chunk scores with the same
   model even if the alias moves during the run.
2. **score**, one task (pod) per chunk, `OCCUPANCY_SCORE_CONCURRENCY` at a time — holds every row
   to the data contract, scores the valid ones and writes `part-NNNNN/.../scores.parquet`: id,
   level, the four probabilities, status (`ok` or `refused`) and the reason of a refusal.
3. **summarize** — the run's totals (rows scored and refused, the level mix, refusals by column,
   the parts' URIs) in `scores/<run id>/summary/_manifest.json`, and as this task's XCom.

Idempotent per scoring run id: a rerun reuses every published part and refuses another input.

**Run conf**: `input_uri` (required: path, file://, s3:// or http(s)://) and `scoring_run_id`
(default: this Airflow run's id).
"""

CONFIG = load_step_config()

with DAG(
    dag_id="batch_scoring_dag",
    description="Score a raw listings file with @champion into the lake, one pod per chunk",
    schedule=None,
    **DAG_DEFAULTS,
    tags=["occupancy", "scoring"],
    doc_md=DOC,
    params={
        "input_uri": Param(
            type="string",
            minLength=1,
            description="Raw listings CSV(.gz) to score: path, file://, s3:// or http(s)://",
        ),
        "scoring_run_id": Param(
            None,
            type=["null", "string"],
            pattern=RUN_ID_PATTERN,
            description="Scoring run id (default: the Airflow run id); a rerun reuses its parts",
        ),
    },
):
    plan = step(
        "plan",
        ["step", "score-plan", "--run-id", SCORING_RUN_ID, "--input", "{{ params.input_uri }}"],
        resources=DATA,
        config=CONFIG,
        result=True,
    )

    @task
    def chunk_arguments(planned: dict[str, Any]) -> list[list[str]]:
        """The arguments of one `occupancy step score` per chunk of the plan."""
        run_id = str(planned["run_id"])
        return [
            ["step", "score", "--run-id", run_id, "--chunk", str(chunk)]
            for chunk in planned["chunks"]
        ]

    score = mapped_step(
        "score",
        resources=DATA,
        config=CONFIG,
        max_active_tis_per_dagrun=CONFIG.score_concurrency,
        map_index_template="{{ task.arguments[-1] }}",
    ).expand(arguments=chunk_arguments(plan.output))
    summarize = step(
        "summarize",
        ["step", "score-summary", "--run-id", SCORING_RUN_ID],
        resources=LIGHT,
        config=CONFIG,
        result=True,
    )

    score >> summarize
