"""Failures a user can cause print one `error:` line and no traceback; --debug shows it."""

from __future__ import annotations

import os
import subprocess  # nosec B404
import sys
from pathlib import Path


def _occupancy(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # nosec B603
        [sys.executable, "-m", "occupancy", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_output_under_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("not a directory")
    out = tmp_path / "plain" / "l.csv"
    result = _occupancy("data", "synth", "--rows", "10", "--out", str(out))
    assert result.returncode == 2  # a path the user gave: no retry can fix it
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"error: {tmp_path / 'plain'} is a file where a directory is needed; check the path"
    ]


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("not a directory")
    out = tmp_path / "plain" / "l.csv"
    result = _occupancy("--debug", "data", "synth", "--rows", "10", "--out", str(out))
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    env_result = _occupancy(
        "data", "synth", "--rows", "10", "--out", str(out), env={"OCCUPANCY_DEBUG": "1"}
    )
    assert "Traceback" in env_result.stderr


def test_unexpected_exception_names_type_and_command(monkeypatch) -> None:
    from typer.testing import CliRunner

    import occupancy.data.synth as synth
    from occupancy.cli import app

    def boom(*_args: object) -> None:
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(synth, "write_synthetic_file", boom)
    result = CliRunner().invoke(app, ["data", "synth", "--rows", "10", "--out", "x.csv"])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: unexpected ZeroDivisionError in synth (planted); "
        "rerun with --debug for the traceback and report it"
    )


def test_unreachable_mlflow_for_predict_is_one_line(tmp_path: Path) -> None:
    listings = tmp_path / "in.csv"
    listings.write_text("id,price\n1,$10\n")
    result = _occupancy(
        "predict",
        "--input",
        str(listings),
        "--output",
        str(tmp_path / "out.csv"),
        env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"},
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and "127.0.0.1:9" in lines[0]


def test_a_full_disk_without_a_file_name_names_the_scratch_space() -> None:
    """A download (boto3) or a library's temporary file fills the disk without naming a path."""
    import errno
    import tempfile

    from occupancy.failures import describe

    line = describe(OSError(errno.ENOSPC, "No space left on device"), "treat")
    assert line == (
        "no space left on the device writing the output or the scratch space "
        f"({tempfile.gettempdir()}, TMPDIR); free some space and rerun"
    )
