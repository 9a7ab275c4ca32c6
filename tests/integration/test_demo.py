"""`occupancy demo` as the README runs it: synthetic data, the four steps, a champion, a summary."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

OCCUPANCY = str(Path(sys.executable).with_name("occupancy"))


def test_demo_ends_with_a_champion_and_prints_the_summary(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLFLOW_", "OCCUPANCY_"))
    }
    result = subprocess.run(
        [OCCUPANCY, "demo", "--rows", "3000", "--no-serve"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for family in ("logreg", "hgb", "forest", "mlp"):
        assert family in out
    assert "champion: airbnb-occupancy-classifier v1 (@champion)" in out
    assert "mlflow ui --backend-store-uri sqlite:///" in out
    assert (tmp_path / ".occupancy" / "mlflow.db").exists()
    assert (tmp_path / ".occupancy" / "data" / "synthetic-3000-seed42.csv").exists()

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
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert predict.returncode == 0, predict.stderr[-3000:]
    assert len(scored.read_text().splitlines()) == 3001
