"""`occupancy demo`: the whole pipeline on embedded defaults (SQLite MLflow, file:// lake)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from occupancy.config import Settings
from occupancy.training.models import FAMILIES

log = logging.getLogger(__name__)


def write_synthetic(out: Path, rows: int, seed: int) -> Path:
    """Generate synthetic listings into `out` atomically, logging progress."""
    from occupancy.data.synth import write_synthetic_listings

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    started = time.perf_counter()

    def progress(done: int) -> None:
        log.info("synth: %s of %s listings written", f"{done:,}", f"{rows:,}")

    write_synthetic_listings(tmp, rows, seed, on_progress=progress)
    tmp.replace(out)
    log.info("synth: %s listings in %.1f s -> %s", f"{rows:,}", time.perf_counter() - started, out)
    return out


def run_demo(
    settings: Settings, *, raw: str | None, rows: int, seed: int, serve: bool
) -> dict[str, Any]:
    """Generate data if needed, run ingest → treat → train (every family) → promote, summarize."""
    from occupancy.steps.ingest import run_ingest
    from occupancy.steps.treat import run_treat
    from occupancy.training.promote import run_promote
    from occupancy.training.train import run_train

    started = time.perf_counter()
    if raw is None:
        path = settings.home / "data" / f"synthetic-{rows}-seed{seed}.csv"
        raw = str(path if path.exists() else write_synthetic(path, rows, seed))
    run_id = "demo-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    log.info("demo: pipeline run %s on %s", run_id, raw)
    ingest = run_ingest(settings, run_id, raw)
    log.info(
        "demo: ingest kept %s rows, quarantined %s",
        f"{ingest['rows_valid']:,}",
        f"{ingest['rows_quarantined']:,}",
    )
    treat = run_treat(settings, run_id)
    log.info("demo: treat split %s", treat["split_rows"])
    trained = [run_train(settings, run_id, family) for family in FAMILIES]
    decision = run_promote(settings, run_id)
    _print_summary(settings, run_id, trained, decision, time.perf_counter() - started)
    if serve:
        typer.echo(
            "Serving arrives with the prediction API (issue 2/5); rerun with --no-serve meanwhile."
        )
    return decision


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
