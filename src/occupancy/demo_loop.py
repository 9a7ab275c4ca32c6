"""`occupancy demo --loop`: the monitoring loop on embedded defaults, after the demo's first run.

1. The next scrape, simulated: the same listings with prices × 1.5 (their nights stay: the truth
   live performance is measured against).
2. `occupancy serve` scores it through `POST /predict`, logging every prediction to the lake.
3. `monitoring_dag` (through `airflow dags test`, like the demo's other DAGs) measures drift and
   live performance, writes the report and, over the thresholds, emits
   `occupancy_retraining_needed`.
4. `airflow dags test` runs one DAG without a scheduler, so the treatment and training DAGs the
   Asset schedules on a deployment are started here on the file its event names; the promotion
   gate then replaces the champion or keeps it, with its reason.
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import subprocess  # nosec B404
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import typer

from occupancy.config import Settings
from occupancy.errors import PipelineError
from occupancy.lake import Lake
from occupancy.monitoring.layout import SUMMARY, monitoring_key
from occupancy.orchestration import LocalAirflow, airflow_env, run_dags
from occupancy.steps.promote import pipeline_outcome

log = logging.getLogger(__name__)
PRICE_FACTOR = 1.5
BATCH = 1000
READY_SECONDS = 300


def shifted_scrape(raw: str, out: Path) -> Path:
    """The scrape `raw` with every price × PRICE_FACTOR, written to `out` (kept if there)."""
    if out.exists():
        return out
    frame = pd.read_csv(raw, dtype=str, keep_default_na=False)
    price = pd.to_numeric(frame["price"].str.replace(r"[$,]", "", regex=True), errors="coerce")
    frame["price"] = ("$" + (price * PRICE_FACTOR).round(2).map("{:.2f}".format)).where(
        price.notna(), ""
    )
    partial = out.with_suffix(".partial")
    frame.to_csv(partial, index=False)
    partial.replace(out)
    return out


def score_through_the_api(settings: Settings, raw: Path) -> int:
    """Serve the champion with the prediction log on, score every listing of `raw`, stop."""
    port = _free_port()
    env = airflow_env(settings)
    env.update(
        {"OCCUPANCY_PREDICTION_LOG": "true", "OCCUPANCY_API_DRAIN_SECONDS": "0"}
    )  # the log is written whole when the server stops
    command = [str(Path(sys.executable).parent / "occupancy"), "serve", "--host", "127.0.0.1"]
    server_log = (settings.home / "demo-loop-serve.log").open("w")
    # The occupancy next to this interpreter, with fixed arguments: no shell.
    server = subprocess.Popen(  # nosec B603
        [*command, "--port", str(port)], env=env, stdout=server_log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, server)
        frame = pd.read_csv(raw, dtype=str, keep_default_na=False)
        listings = [{k: v for k, v in r.items() if v != ""} for r in frame.to_dict("records")]
        for start in range(0, len(listings), BATCH):
            _post(f"{base}/predict", {"listings": listings[start : start + BATCH]})
        return len(listings)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=120)
        except subprocess.TimeoutExpired:
            server.kill()
        server_log.close()


def run_loop(settings: Settings, raw: str) -> dict[str, Any]:
    """The loop after the demo's first pipeline run on `raw`; prints what each part found."""
    echo = typer.echo
    started = time.perf_counter()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    shifted = shifted_scrape(raw, settings.home / "data" / f"{Path(raw).stem}-next-scrape.csv")
    echo("")
    echo(f"Monitoring loop: the next scrape simulated (prices x {PRICE_FACTOR}): {shifted}")
    scored = score_through_the_api(settings, shifted)
    echo(f"the API scored {scored} listings of it and logged them to {settings.lake_uri}")
    monitoring_run = f"demo-monitoring-{stamp}"
    airflow = LocalAirflow(settings, f"dags-test-{monitoring_run}")
    airflow.test_dag(
        "monitoring_dag",
        {
            "monitoring_run_id": monitoring_run,
            "raw_uri": str(shifted),
            "days": 1,
            "until": datetime.now(UTC).date().isoformat(),
        },
    )
    lake = Lake(settings.lake_uri, endpoint_url=settings.s3_endpoint_url)
    summary: dict[str, Any] = lake.read_json(monitoring_key(monitoring_run, SUMMARY))
    echo(f"monitoring report: {summary['report']}")
    if summary["live_macro_f1"] is not None:
        echo(f"live macro-F1 against the next scrape: {summary['live_macro_f1']:.4f}")
    if not summary["retrain"]:
        echo("no threshold crossed: no retraining requested")
        return summary
    for reason in summary["reasons"]:
        echo(f"retraining requested: {reason}")
    retrain_run = f"demo-retrain-{stamp}"
    run_dags(settings, retrain_run, [str(shifted)])
    _, decision = pipeline_outcome(settings, retrain_run)
    if decision["decision"] == "promoted":
        echo(f"retrained champion: {settings.model_name} v{decision['version']}")
    else:
        echo("after retraining the champion is unchanged")
    echo(f"gate: {decision['reason']}")
    echo(f"monitoring loop finished in {time.perf_counter() - started:.0f} s")
    return {**summary, "retraining": decision}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise PipelineError(f"`occupancy serve` exited ({server.returncode}) before ready")
        try:
            with urllib.request.urlopen(f"{base}/health/ready", timeout=2) as answer:  # nosec B310
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)  # polling a starting server: there is nothing to wait on instead
    raise PipelineError(f"`occupancy serve` was not ready within {READY_SECONDS} s")


def _post(url: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:  # nosec B310
            answer.read()
    except urllib.error.HTTPError as error:
        raise PipelineError(
            f"the API refused a batch: {error.code} {error.read()[:300]!r}"
        ) from None
