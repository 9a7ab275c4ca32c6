"""`occupancy demo`: the whole pipeline through Airflow on embedded defaults, then serve it.

Embedded defaults: a file:// lake and SQLite MLflow under `.occupancy/`, a SQLite Airflow home
running both DAGs with `airflow dags test` and the local step runner (no service to start).
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

import typer

from occupancy.config import Settings

log = logging.getLogger(__name__)


def run_demo(
    settings: Settings,
    *,
    raw: list[str] | None,
    rows: int,
    seed: int,
    serve: bool,
    port: int = 8000,
    loop: bool = False,
) -> dict[str, Any]:
    """Generate data if needed, run both DAGs through Airflow on the raw file(s), summarize, with
    `loop` run the monitoring loop on the first file (`occupancy.demo_loop`), optionally serve."""
    from occupancy.data.synth import write_synthetic_file
    from occupancy.orchestration import run_dags
    from occupancy.steps.promote import pipeline_outcome

    started = time.perf_counter()
    if not raw:
        path = settings.home / "data" / f"synthetic-{rows}-seed{seed}.csv"
        raw = [str(path if path.exists() else write_synthetic_file(path, rows, seed))]
    run_id = "demo-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    log.info("demo: pipeline run %s on %s", run_id, ", ".join(raw))
    run_dags(settings, run_id, raw)
    trained, decision = pipeline_outcome(settings, run_id)
    _print_summary(settings, run_id, trained, decision, time.perf_counter() - started)
    if loop:
        from occupancy.demo_loop import run_loop

        run_loop(settings, raw[0])
    if serve:
        _serve(settings, port)
    return decision


def _serve(settings: Settings, port: int) -> None:
    from occupancy.api.holder import PROBE_LISTING
    from occupancy.api.server import run_server

    body = json.dumps({"listings": [PROBE_LISTING]})
    typer.echo("")
    typer.echo(f"Serving the champion on http://127.0.0.1:{port} (Ctrl-C stops):")
    typer.echo(f"  the prediction page: http://127.0.0.1:{port}/")
    typer.echo(f"  the API's docs:      http://127.0.0.1:{port}/docs")
    typer.echo("  or from a shell:")
    typer.echo(
        f"  curl -s -X POST http://127.0.0.1:{port}/predict "
        f"-H 'Content-Type: application/json' -d '{body}'"
    )
    run_server(settings, host="127.0.0.1", port=port, workers=1, poll_seconds=30.0)


def _print_summary(
    settings: Settings,
    run_id: str,
    trained: list[dict[str, Any]],
    decision: dict[str, Any],
    seconds: float,
) -> None:
    echo = typer.echo
    echo("")
    echo(f"Pipeline run {run_id} finished in {seconds:.0f} s")
    echo(f"{'model family':<14}{'val macro-F1':>14}")
    for row in sorted(trained, key=lambda r: -r["val_f1_macro"]):
        marker = "  <- selected" if row["family"] == decision["family"] else ""
        echo(f"{row['family']:<14}{row['val_f1_macro']:>14.4f}{marker}")
    echo(f"selected model test macro-F1: {decision['test_f1_macro']:.4f}")
    if decision["decision"] == "promoted":
        echo(f"champion: {settings.model_name} v{decision['version']} (@{settings.model_alias})")
    else:
        echo("champion unchanged")
    echo(f"reason: {decision['reason']}")
    if settings.is_local_tracking:
        echo(
            "MLflow UI: .venv/bin/mlflow ui --backend-store-uri "
            f"{settings.mlflow_tracking_uri} --port 5000  (then open http://127.0.0.1:5000)"
        )
    echo(
        f"score a CSV: .venv/bin/occupancy predict --input {settings.home / 'data'}/<file>.csv --output predictions.csv"
    )
