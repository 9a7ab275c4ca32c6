"""`make bench` (scoring part): batch_scoring_dag's score step against `mlflow.pyfunc` predict.

One champion (synthetic data, HistGradientBoosting, as `bench_api.py` prepares it) scores the
same `--rows` synthetic listings (default 1,000,000) twice, each contender in a fresh process:

- **occupancy**: `occupancy step score-plan`, then `occupancy step score` of every chunk, one
  after the other (`OCCUPANCY_SCORE_CHUNK_ROWS`, 250,000): the time of the score steps, which
  read each raw chunk, hold every row to the data contract, clean it and write the scores.
- **mlflow.pyfunc** (peer): `mlflow.pyfunc.load_model("models:/…@champion").predict` of the
  same rows, **already cleaned** (the peer gets the work done for it, as `mlflow models serve`
  does in `bench_api.py`): the time of predict alone.

Targets (issue 17): the score steps at least 5x faster than the peer's predict, peak memory of a
score step under 2 GB. Exits 1 when one is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import recording

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
MIN_SPEEDUP = 5.0
MAX_PEAK_MB = 2048

PYFUNC = """
import json, resource, sys, time
import pandas as pd
import mlflow.pyfunc
from occupancy.data.clean import clean_listings
from occupancy.data.csvio import iter_tables, open_listings_csv
from occupancy.data.schema import REQUIRED_FOR_SCORING
frames = []
with open_listings_csv(sys.argv[1], REQUIRED_FOR_SCORING) as source:
    for table in iter_tables(source):
        frames.append(clean_listings(table))
cleaned = pd.concat(frames, ignore_index=True)
model = mlflow.pyfunc.load_model("models:/airbnb-occupancy-classifier@champion")
start = time.perf_counter()
predicted = model.predict(cleaned)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rows": len(predicted), "seconds": seconds, "peak_mb": peak}))
"""


# Runs one command and prints its peak RSS (KiB) last on stderr: the wrapper's only child is it.
PEAK_OF = (
    "import resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
    "sys.exit(done.returncode)"
)


def _occupancy(env: dict[str, str], *args: str) -> dict[str, object]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", PEAK_OF, str(VENV_BIN / "occupancy"), *args],
        env=env, capture_output=True, text=True, check=False, timeout=3600,
    )  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"occupancy {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    summary["_wall"] = time.perf_counter() - started
    summary["_peak_mb"] = int(done.stderr.strip().splitlines()[-1]) / 1024
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    recording.add_record_option(parser)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_api import _prepare
    from bench_pipeline import _dataset

    home = Path(tempfile.mkdtemp(prefix="occupancy-bench-scoring-"))
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLFLOW_", "OCCUPANCY_"))
    }
    env.update(
        {
            "OCCUPANCY_HOME": str(home),
            "MLFLOW_TRACKING_URI": f"sqlite:///{home}/mlflow.db",
            # The peer: MLflow's own loader of a skops model needs pickle allowed; ours never.
            "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",
            "OPENBLAS_NUM_THREADS": "1",
        }
    )
    print("preparing a registered model (synthetic data, hgb) ...", flush=True)
    _prepare(home, env)
    data = _dataset(args.rows, 42)

    plan = _occupancy(env, "step", "score-plan", "--run-id", "bench", "--input", str(data))
    chunks = [
        _occupancy(env, "step", "score", "--run-id", "bench", "--chunk", str(chunk))
        for chunk in plan["chunks"]  # type: ignore[union-attr]
    ]
    ours = sum(float(c["_wall"]) for c in chunks)
    ours_peak = max(float(c["_peak_mb"]) for c in chunks)
    scored = sum(int(c["rows"]) for c in chunks)  # type: ignore[call-overload]

    peer = subprocess.run(
        [sys.executable, "-c", PYFUNC, str(data)],
        env=env, capture_output=True, text=True, check=False, timeout=3600,
    )  # fmt: skip
    if peer.returncode != 0:
        sys.exit(f"mlflow.pyfunc contender failed:\n{peer.stderr[-3000:]}")
    theirs = json.loads(peer.stdout.strip().splitlines()[-1])
    speedup = theirs["seconds"] / ours
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "rows": args.rows,
        "chunks": len(chunks),
        "plan_seconds": round(float(plan["_wall"]), 2),
        "score_steps_seconds": round(ours, 2),
        "score_steps_rows_per_s": round(scored / ours),
        "score_step_peak_mb": round(ours_peak),
        "pyfunc_predict_seconds": round(theirs["seconds"], 2),
        "pyfunc_peak_mb": round(theirs["peak_mb"]),
        "speedup_vs_pyfunc": round(speedup, 2),
        "targets": {"min_speedup": MIN_SPEEDUP, "max_peak_mb": MAX_PEAK_MB},
    }
    for path in recording.write("scoring", report, record=args.record):
        print(f"results: {path.relative_to(ROOT)}")
    print(
        f"\n{args.rows:,} listings, {len(chunks)} chunks (plan {plan['_wall']:.1f} s, not compared)"
    )
    print(f"score steps (raw rows: contract, cleaning, scores written): {ours:.1f} s, "
          f"peak {ours_peak:,.0f} MB per step")  # fmt: skip
    print(f"mlflow.pyfunc predict (pre-cleaned rows, predict only): {theirs['seconds']:.1f} s")
    ok = speedup >= MIN_SPEEDUP and ours_peak < MAX_PEAK_MB
    print(f"speedup {speedup:.2f}x (target >= {MIN_SPEEDUP:.0f}x), peak {ours_peak:,.0f} MB "
          f"(target < {MAX_PEAK_MB} MB): {'targets met' if ok else 'TARGET MISSED'}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
