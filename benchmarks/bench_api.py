"""`make bench` (API part): this API vs `mlflow models serve` on the same registered model.

Both servers run in the same run on the same machine, each loaded by wrk (single-listing POSTs)
at 1 and 16 connections; plus the latency of a 1,000-listing batch and the in-process
clean + predict time of one listing (the floor); the same server with its prediction log off is
the peer that prices the log. Targets (issue 2/5): at least 20x the
throughput of `mlflow models serve` at 16 connections, p50 at most 5 ms at 1 connection.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import recording

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
MIN_SPEEDUP = 20.0
MAX_P50_MS = 5.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit(f"server at {url} did not become ready in {timeout:.0f} s")


def _prepare(home: Path, env: dict[str, str]) -> None:
    """Synthetic data → ingest → treat → train hgb → promote: one registered champion."""
    occupancy = str(VENV_BIN / "occupancy")
    raw = home / "listings.csv"
    steps = [
        [occupancy, "data", "synth", "--rows", "20000", "--out", str(raw)],
        [occupancy, "step", "ingest", "--run-id", "bench", "--raw", str(raw)],
        [occupancy, "step", "treat", "--run-id", "bench"],
        [occupancy, "step", "train", "--run-id", "bench", "--model", "hgb"],
        [occupancy, "step", "promote", "--run-id", "bench"],
    ]
    for step in steps:
        subprocess.run(step, env=env, check=True, capture_output=True, timeout=900)


def _wrk(url: str, body: str, connections: int, seconds: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\nwrk.headers["Content-Type"] = "application/json"\n'
        )
    try:
        result = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
        )
    finally:
        os.unlink(script.name)
    out = result.stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def latency(pct: str) -> float:
        match = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out)
        assert match, out
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def _post(url: str, payload: dict[str, Any]) -> float:
    data = json.dumps(payload).encode()
    start = time.perf_counter()
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()
    return (time.perf_counter() - start) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per measurement")
    recording.add_record_option(parser)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install -y wrk")

    home = Path(tempfile.mkdtemp(prefix="occupancy-bench-api-"))
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLFLOW_", "OCCUPANCY_"))
    }
    # `mlflow models serve` execs `uvicorn` by name: the venv's bin must be on PATH.
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(
        {
            "OCCUPANCY_HOME": str(home),
            "MLFLOW_TRACKING_URI": f"sqlite:///{home}/mlflow.db",
            "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",
        }
    )
    print("preparing a registered model (synthetic data, hgb) ...", flush=True)
    _prepare(home, env)

    import pandas as pd

    sys.path.insert(0, str(ROOT / "src"))
    os.environ.update(env)
    from occupancy.data.clean import clean_listings

    raw_row = pd.read_csv(home / "listings.csv", dtype=str, keep_default_na=False, nrows=1000)
    listing = {k: v for k, v in raw_row.iloc[0].to_dict().items() if v != ""}
    cleaned = (
        clean_listings(pd.DataFrame([listing])).astype(object).where(lambda f: f.notna(), None)
    )
    ours_body = json.dumps({"listings": [listing]})
    mlflow_body = json.dumps({"dataframe_records": cleaned.to_dict(orient="records")})

    ours_port, mlflow_port, unlogged_port = _free_port(), _free_port(), _free_port()
    # The same server with its prediction log off: the difference is the log's cost per request.
    unlogged_env = env | {"OCCUPANCY_PREDICTION_LOG": "false"}
    servers = [
        subprocess.Popen(
            [str(VENV_BIN / "occupancy"), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=server_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for port, server_env in ((ours_port, env), (unlogged_port, unlogged_env))
    ] + [
        subprocess.Popen(
            [
                str(VENV_BIN / "mlflow"),
                "models",
                "serve",
                "-m",
                "models:/airbnb-occupancy-classifier@champion",
                "--env-manager",
                "local",
                "--host",
                "127.0.0.1",
                "-p",
                str(mlflow_port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        ),
    ]
    try:
        _wait(f"http://127.0.0.1:{ours_port}/health/ready")
        _wait(f"http://127.0.0.1:{unlogged_port}/health/ready")
        _wait(f"http://127.0.0.1:{mlflow_port}/ping")
        results: dict[str, Any] = {
            "date": time.strftime("%Y-%m-%d"),
            "model": "hgb on 20k synthetic listings",
        }
        for name, url, body in (
            ("occupancy", f"http://127.0.0.1:{ours_port}/predict", ours_body),
            ("mlflow_models_serve", f"http://127.0.0.1:{mlflow_port}/invocations", mlflow_body),
            ("occupancy_log_off", f"http://127.0.0.1:{unlogged_port}/predict", ours_body),
        ):
            _wrk(url, body, 1, 2)  # warm-up
            results[name] = {f"c{c}": _wrk(url, body, c, args.seconds) for c in (1, 16)}
        batch = {
            "listings": [
                {k: v for k, v in r.items() if v != ""} for r in raw_row.to_dict(orient="records")
            ]
        }
        timings = sorted(_post(f"http://127.0.0.1:{ours_port}/predict", batch) for _ in range(5))
        results["occupancy"]["batch_1000_ms"] = timings[2]
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)

    import mlflow

    from occupancy.registry.artifacts import load_model

    # The product's own loader (skops, trusted types): MLflow's needs pickle allowed.
    uri = "models:/airbnb-occupancy-classifier@champion"
    model = load_model(uri, mlflow.get_tracking_uri())
    frame = pd.DataFrame([listing])
    floor = []
    for _ in range(200):
        start = time.perf_counter()
        model.predict_proba(clean_listings(frame))
        floor.append((time.perf_counter() - start) * 1000)
    results["in_process_predict_ms_p50"] = sorted(floor)[100]

    ours, theirs = results["occupancy"], results["mlflow_models_serve"]
    speedup = ours["c16"]["rps"] / theirs["c16"]["rps"]
    results["speedup_c16"] = speedup
    unlogged = results["occupancy_log_off"]
    results["prediction_log_added_p50_ms_c1"] = ours["c1"]["p50_ms"] - unlogged["c1"]["p50_ms"]
    results["prediction_log_throughput_ratio_c16"] = ours["c16"]["rps"] / unlogged["c16"]["rps"]
    for path in recording.write("api", results, record=args.record):
        print(f"results: {path.relative_to(ROOT)}")
    print(f"\n{'server':<22}{'rps@16':>9}{'p50@1':>9}{'p99@1':>9}{'p50@16':>9}{'p99@16':>9}  (ms)")
    for name in ("occupancy", "occupancy_log_off", "mlflow_models_serve"):
        r = results[name]
        print(
            f"{name:<22}{r['c16']['rps']:>9.0f}{r['c1']['p50_ms']:>9.2f}{r['c1']['p99_ms']:>9.2f}{r['c16']['p50_ms']:>9.2f}{r['c16']['p99_ms']:>9.2f}"
        )
    print(
        f"batch of 1000 listings: {ours['batch_1000_ms']:.0f} ms; in-process clean+predict of one listing: {results['in_process_predict_ms_p50']:.2f} ms"
    )
    print(
        "prediction log: p50 at 1 connection "
        f"{results['prediction_log_added_p50_ms_c1']:+.2f} ms, throughput at 16 connections "
        f"{results['prediction_log_throughput_ratio_c16']:.2f}x of the same server with it off"
    )
    print(
        f"throughput {speedup:.1f}x mlflow models serve (target >= {MIN_SPEEDUP:.0f}x); p50 at 1 connection {ours['c1']['p50_ms']:.2f} ms (target <= {MAX_P50_MS} ms)"
    )
    ok = speedup >= MIN_SPEEDUP and ours["c1"]["p50_ms"] <= MAX_P50_MS
    print("targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
