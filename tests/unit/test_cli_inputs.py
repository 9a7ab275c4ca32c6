"""Failures a user causes with a path, a URI or an option: one `error:` line naming the place.

Each case runs the real `occupancy` command in a child process and checks its whole stderr and
exit code: 2 when the input or a setting is wrong (never worth a retry), 1 when it may pass later.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess  # nosec B404
import sys
import time
from pathlib import Path

import pytest

NEWARK_GZ = "newark_2025-09-30_listings.csv.gz"


def _env(home: Path, **extra: str) -> dict[str, str]:
    # Explicit settings: a tracking URI leaked by another test's server must not be used here.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OCCUPANCY_", "MLFLOW_"))}
    env.update(
        {
            "OCCUPANCY_HOME": str(home),
            "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
            **extra,
        }
    )
    return env


def _occupancy(
    home: Path, *args: str, timeout: float = 120, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # nosec B603
        [sys.executable, "-m", "occupancy", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(home, **extra),
        check=False,
    )


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if not line[:2].isdigit()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_ingest_of_a_directory_names_it_and_exits_2(tmp_path: Path) -> None:
    folder = tmp_path / "listings"
    folder.mkdir()
    result = _occupancy(tmp_path / "home", "step", "ingest", "--run-id", "r1", "--raw", str(folder))
    line = _one_error_line(result)
    assert result.returncode == 2
    assert str(folder) in line and "is a directory" in line.lower()


def test_ingest_of_a_truncated_gzip_names_it_and_exits_2(
    tmp_path: Path, real_data_dir: Path
) -> None:
    whole = (real_data_dir / NEWARK_GZ).read_bytes()
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(whole[: len(whole) // 2])  # the header reads fine; the body ends mid-stream
    result = _occupancy(tmp_path / "home", "step", "ingest", "--run-id", "r1", "--raw", str(cut))
    line = _one_error_line(result)
    assert result.returncode == 2
    assert str(cut) in line and "truncated or corrupt gzip" in line


@pytest.mark.parametrize("uri", ["ftp://host/listings.csv", "s3://bucket-only"])
def test_ingest_of_an_unusable_uri_exits_2(tmp_path: Path, uri: str) -> None:
    result = _occupancy(tmp_path / "home", "step", "ingest", "--run-id", "r1", "--raw", uri)
    line = _one_error_line(result)
    assert result.returncode == 2
    assert repr(uri) in line


def test_output_that_is_a_directory_names_it_not_a_temporary_file(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    result = _occupancy(tmp_path / "home", "data", "synth", "--rows", "10", "--out", str(folder))
    line = _one_error_line(result)
    assert result.returncode == 2
    assert line == f"error: {folder} is a directory; give a file path"


def test_output_over_a_special_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    result = _occupancy(tmp_path / "home", "data", "synth", "--rows", "10", "--out", str(fifo))
    line = _one_error_line(result)
    assert result.returncode == 2
    assert str(fifo) in line and "not a regular file" in line
    assert fifo.is_fifo()  # not replaced by a regular file


def test_output_in_a_read_only_place_names_the_output(tmp_path: Path) -> None:
    # sysfs refuses new files to every user, root included, unlike a chmod-ed directory.
    target = Path("/sys/occupancy-test.csv")
    result = _occupancy(tmp_path / "home", "data", "synth", "--rows", "10", "--out", str(target))
    line = _one_error_line(result)
    assert result.returncode == 2
    assert line.startswith(f"error: {target} ") and ".tmp" not in line


def test_malformed_tracking_uri_is_a_setting_error(tmp_path: Path) -> None:
    listings = tmp_path / "in.csv"
    listings.write_text("id,price\n1,$10\n")
    out = str(tmp_path / "out.csv")
    result = _occupancy(
        tmp_path / "home", "predict", "--input", str(listings), "--output", out,
        MLFLOW_TRACKING_URI="ftp://x",
    )  # fmt: skip
    line = _one_error_line(result)
    assert result.returncode == 2
    assert "MLFLOW_TRACKING_URI" in line and "'ftp://x'" in line


def test_serve_on_an_out_of_range_port_is_a_usage_error(tmp_path: Path) -> None:
    result = _occupancy(tmp_path / "home", "serve", "--port", "99999", timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "--port" in result.stderr


def test_serve_on_a_taken_port_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _occupancy(
            tmp_path / "home", "serve", "--host", "127.0.0.1", "--port", str(port), timeout=60
        )
    line = _one_error_line(result)
    assert result.returncode == 1  # the port may be free on the next try
    assert f"127.0.0.1:{port} is already in use" in line and "--port" in line


def test_serve_on_an_unknown_host_exits_2(tmp_path: Path) -> None:
    result = _occupancy(
        tmp_path / "home", "serve", "--host", "999.1.1.1", "--port", "1", timeout=60
    )
    line = _one_error_line(result)
    assert result.returncode == 2
    assert "'999.1.1.1'" in line and "--host" in line


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_is_one_line_exit_130_and_leaves_no_output(tmp_path: Path) -> None:
    out = tmp_path / "big.csv"
    process = subprocess.Popen(  # nosec B603
        [
            sys.executable,
            "-m",
            "occupancy",
            "data",
            "synth",
            "--rows",
            "3000000",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path / "home"),
        # A shell's background job (CI under nohup … &) starts with SIGINT ignored, and Python
        # keeps an inherited ignore: give the child the default a terminal's Ctrl-C meets.
        preexec_fn=_default_sigint,
    )
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".big.csv.*.tmp")):  # writing has started
        assert process.poll() is None and time.monotonic() < deadline, "synth never started"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == "error: interrupted"
    assert not out.exists() and not list(tmp_path.glob(".big.csv.*"))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--until", "last tuesday"), "--until 'last tuesday' is not a date: use YYYY-MM-DD"),
        (("--days", "0"), "--days must be 1 or more, got 0"),
    ],
)
def test_drift_with_a_wrong_window_exits_2(tmp_path: Path, args, expected: str) -> None:
    result = _occupancy(tmp_path / "home", "step", "drift", *args)
    assert expected in _one_error_line(result)
    assert result.returncode == 2


def test_performance_with_a_wrong_window_or_run_id_exits_2(tmp_path: Path) -> None:
    days = _occupancy(tmp_path / "home", "step", "performance", "--run-id", "r1", "--days", "0")
    assert "--days must be 1 or more, got 0" in _one_error_line(days) and days.returncode == 2
    bad_id = _occupancy(tmp_path / "home", "step", "performance", "--run-id", "../up")
    assert "invalid run id '../up'" in _one_error_line(bad_id) and bad_id.returncode == 2


def test_a_report_without_its_drift_says_which_step_to_run(tmp_path: Path) -> None:
    result = _occupancy(tmp_path / "home", "step", "report", "--run-id", "r1")
    assert "run `occupancy step drift --run-id` first" in _one_error_line(result)
    assert result.returncode == 2


def test_drift_without_a_champion_says_so(tmp_path: Path) -> None:
    result = _occupancy(tmp_path / "home", "step", "drift")
    assert "nothing to monitor" in _one_error_line(result)
