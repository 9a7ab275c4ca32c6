"""`occupancy demo` as the README runs it: the DAGs through Airflow, a champion, then serving."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from api_support import wait_until
from servers import free_port

from occupancy.api.holder import PROBE_LISTING

pytestmark = pytest.mark.integration

OCCUPANCY = str(Path(sys.executable).with_name("occupancy"))


def _clean_env() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLFLOW_", "OCCUPANCY_"))
    }


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def _asset_events(airflow_db: Path) -> list[tuple[str, dict]]:
    with sqlite3.connect(airflow_db) as db:
        rows = db.execute(
            "select a.name, e.extra from asset_event e join asset a on a.id = e.asset_id "
            "order by e.id"
        ).fetchall()
    return [(name, json.loads(extra)) for name, extra in rows]


def test_demo_runs_the_dags_and_the_monitoring_loop_through_airflow_then_serves(
    tmp_path: Path,
) -> None:
    """`occupancy demo --loop`: the first pipeline, then the API logs its scoring of a shifted
    scrape, monitoring_dag finds the price drift and emits the retraining Asset with the reason
    and the file, and the retraining pipeline's gate decides; the final champion is served."""
    port = free_port()
    log = (tmp_path / "demo.log").open("w+")
    demo = subprocess.Popen(
        [OCCUPANCY, "demo", "--rows", "3000", "--loop", "--port", str(port)],
        cwd=tmp_path,
        env=_clean_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until(lambda: _ready(port) or demo.poll() is not None, 900, "the demo to serve")
        log.seek(0)
        out = log.read()
        assert demo.poll() is None, out[-3000:]
        for task in ("ingest", "treat", "publish_processed", "check_processed", "promote"):
            assert f"airflow: task {task}" in out
        for family in ("logreg", "hgb", "forest", "mlp"):
            assert f"--model {family}" in out  # each family ran as its own mapped task
        assert "champion: airbnb-occupancy-classifier v1 (@champion)" in out
        # The loop: every shifted listing logged and measured, the drift over the threshold.
        assert "the API scored 3000 listings of it" in out
        for task in ("drift", "performance", "report", "request_retraining"):
            assert f"airflow: task {task}\n" in out
        assert "retraining requested: input drift: PSI over 0.25" in out and "price" in out
        events = _asset_events(tmp_path / ".occupancy" / "airflow" / "airflow.db")
        names = [name for name, _ in events]
        assert names == [
            "occupancy_processed_listings",
            "occupancy_retraining_needed",
            "occupancy_processed_listings",  # the retraining pipeline's data
        ]
        request = events[1][1]
        assert "price" in request["reason"] and request["raw_uri"].endswith("-next-scrape.csv")
        assert request["model_version"] == "1"
        gate = re.search(r"retrained champion: airbnb-occupancy-classifier v(\d+)", out)
        if gate is None:  # the gate kept v1: it said why
            assert "after retraining the champion is unchanged\ngate: champion v1 kept" in out
        served = gate.group(1) if gate else "1"
        live = re.search(r"live macro-F1 against the next scrape: ([0-9.]+)", out)
        assert live is not None and 0.0 < float(live.group(1)) <= 1.0
        assert "mlflow ui --backend-store-uri sqlite:///" in out
        assert f"curl -s -X POST http://127.0.0.1:{port}/predict" in out
        assert f"the prediction page: http://127.0.0.1:{port}/\n" in out
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            assert response.status == 200
            assert "How booked will this listing be?" in response.read().decode()
        assert (tmp_path / ".occupancy" / "airflow" / "airflow.db").exists()

        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/predict",
            data=json.dumps({"listings": [PROBE_LISTING]}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read())
        assert answer["model"] == {"name": "airbnb-occupancy-classifier", "version": served}
        assert answer["predictions"][0]["occupancy_level"] in ("zero", "low", "mid", "high")
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGINT)
            try:
                demo.wait(timeout=60)
            except subprocess.TimeoutExpired:
                demo.kill()
                demo.wait()
        log.close()

    scored = tmp_path / "scored.csv"
    predict = subprocess.run(
        [
            OCCUPANCY,
            "predict",
            "--input",
            str(tmp_path / ".occupancy/data/synthetic-3000-seed42.csv"),
            "--output",
            str(scored),
        ],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert predict.returncode == 0, predict.stderr[-3000:]
    assert len(scored.read_text().splitlines()) == 3001
