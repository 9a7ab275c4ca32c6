"""`occupancy demo` as the README runs it: both DAGs through Airflow, a champion, then serving."""

from __future__ import annotations

import json
import os
import signal
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


def test_demo_runs_the_dags_through_airflow_then_serves_the_champion(tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "demo.log").open("w+")
    demo = subprocess.Popen(
        [OCCUPANCY, "demo", "--rows", "3000", "--port", str(port)],
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
        assert answer["model"] == {"name": "airbnb-occupancy-classifier", "version": "1"}
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
