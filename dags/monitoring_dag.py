"""monitoring_dag: the champion's drift and live performance, a report, retraining when needed."""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Param, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException
from occupancy_airflow.assets import RAW_URI_KEY, REASON_KEY, RETRAINING_NEEDED
from occupancy_airflow.config import DAG_DEFAULTS, DATA, LIGHT, RUN_ID_PATTERN
from occupancy_airflow.steps import step

MONITORING_RUN_ID = "{{ params.monitoring_run_id or run_id }}"
# A scheduled run (at midnight) measures up to the day that just ended; a manual run without a
# logical date (the REST API's and the UI's default) up to now: Airflow 3 then leaves `ds` out of
# the context altogether, and its strict templates fail on a name that is not defined.
UNTIL = "{{ params.until or (macros.ds_add(ds, -1) if ds is defined and ds else '') }}"

DOC = """
### Monitoring

Watches the served champion, daily and on demand. Each box runs `occupancy step <name>` in its own
pod (or as a local process), writing under `monitoring/runs/<monitoring run id>/` in the lake.

1. **drift** — the prediction log's rows of the champion over `days` (default 7) ending `until`
   (default: the day before a scheduled run's, today for a manual one) against the reference profile logged with the champion at training:
   PSI and KS / chi-square per feature, PSI of the predicted levels.
2. **performance** — with `raw_uri` (a newer scrape of the city), the champion's live macro-F1,
   per-class F1 and confusion matrix: its logged predictions of the last 120 days joined by
   listing id with the scrape's binned `estimated_occupancy_l365d`. Without one, nothing.
3. **report** — the HTML report (lake and an MLflow run tagged `occupancy.role=monitoring`,
   which the API's `/metrics` reads) and the decision against the thresholds
   (`OCCUPANCY_MONITORING_*`, see the README).
4. **request_retraining** — when a threshold is crossed and `raw_uri` names a newer scrape, emits
   the `occupancy_retraining_needed` Asset with the reasons and that file; it schedules
   `data_treatment_dag` on it, whose Asset schedules training and the promotion gate. Skipped
   otherwise, saying why (retraining on the champion's own data cannot fix drift).

**Run conf** (all optional): `days`, `until` (YYYY-MM-DD), `raw_uri`, `monitoring_run_id`.
"""

with DAG(
    dag_id="monitoring_dag",
    description="Drift and live performance of the champion; retraining when thresholds are crossed",
    schedule="@daily",
    **DAG_DEFAULTS,
    tags=["occupancy", "monitoring"],
    doc_md=DOC,
    params={
        "days": Param(7, type="integer", minimum=1, maximum=366, description="Days of log"),
        "until": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Last day of the window (default: yesterday when scheduled, else today)",
        ),
        "raw_uri": Param(
            None,
            type=["null", "string"],
            description="A newer scrape of the city: live performance, and what to retrain on",
        ),
        "monitoring_run_id": Param(
            None,
            type=["null", "string"],
            pattern=RUN_ID_PATTERN,
            description="Monitoring run id shared by the steps (default: the Airflow run id)",
        ),
    },
):
    drift = step(
        "drift",
        [
            "step", "drift", "--run-id", MONITORING_RUN_ID,
            "--days", "{{ params.days }}", "--until", UNTIL,
        ],
        resources=DATA,
    )  # fmt: skip
    performance = step(
        "performance",
        [
            "step", "performance", "--run-id", MONITORING_RUN_ID,
            "--truth", "{{ params.raw_uri or '' }}", "--until", UNTIL,
        ],
        resources=DATA,
    )  # fmt: skip
    report = step(
        "report", ["step", "report", "--run-id", MONITORING_RUN_ID], resources=LIGHT, result=True
    )

    @task(outlets=[RETRAINING_NEEDED])
    def request_retraining(summary: dict[str, Any]) -> dict[str, Any]:
        """Ask for retraining when the report crossed a threshold; skip otherwise."""
        if not summary.get("retrain"):
            raise AirflowSkipException(
                f"no threshold crossed: no retraining requested (report: {summary.get('report')})"
            )
        raw_uri = get_current_context()["params"].get("raw_uri")
        if not raw_uri:
            # Retraining on the data the champion was trained on cannot fix drift in what it is
            # asked: without a newer scrape, the report says so and nothing is retrained.
            raise AirflowSkipException(
                "thresholds crossed (" + "; ".join(summary["reasons"]) + ") but no newer scrape "
                'was given: trigger with {"raw_uri": "<newer scrape>"} to retrain on it'
            )
        extra = {
            REASON_KEY: "; ".join(summary["reasons"]),
            RAW_URI_KEY: raw_uri,
            "report": summary.get("report"),
            "monitoring_run_id": summary.get("run_id"),
            "model_version": summary.get("model_version"),
        }
        get_current_context()["outlet_events"][RETRAINING_NEEDED].extra = extra
        return extra

    drift >> performance >> report
    request_retraining(report.output)
