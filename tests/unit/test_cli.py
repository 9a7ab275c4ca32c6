"""The CLI maps product errors to one line and their exit status, and prints JSON summaries."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from occupancy.cli import app

runner = CliRunner()


def test_bad_input_is_one_line_and_exit_2(isolated_settings, tmp_path: Path) -> None:
    from occupancy.config import get_settings

    get_settings.cache_clear()
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"name,city\nx,y\n")
    result = runner.invoke(app, ["step", "ingest", "--run-id", "r1", "--raw", str(bad)])
    assert result.exit_code == 2  # the input is wrong: no retry can fix it
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("error: ") and "has no 'id' column" in result.stderr
    get_settings.cache_clear()


def test_synth_prints_a_json_summary(tmp_path: Path) -> None:
    out = tmp_path / "l.csv"
    result = runner.invoke(
        app, ["data", "synth", "--rows", "200", "--seed", "7", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary == {"out": str(out), "rows": 200, "seed": 7, "step": "synth"}
    assert len(out.read_text().splitlines()) > 200


def test_unknown_model_family_is_refused(isolated_settings) -> None:
    from occupancy.config import get_settings

    get_settings.cache_clear()
    result = runner.invoke(app, ["step", "train", "--run-id", "r1", "--model", "xgboost"])
    assert result.exit_code == 2
    assert "unknown model family 'xgboost': choose one of logreg, hgb, forest, mlp" in result.stderr
    get_settings.cache_clear()
