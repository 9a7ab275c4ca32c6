"""`make bench`: ingest + treat on a synthetic 1M-row file vs a plain pyarrow CSV parse of it.

Each contender runs in a fresh process (so peak memory is its own) on the same file, in the same
run, and the report gives rows/s, the time ratio and peak RSS. Targets (issue 1/5): ingest + treat
at most 3x the plain parse time, peak memory under 2 GB. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import recording

ROOT = Path(__file__).resolve().parents[1]
MAX_RATIO = 3.0
MAX_PEAK_MB = 2048

# Each contender is a small program run with the project's interpreter; it prints one JSON line.
PLAIN_PARSE = """
import json, resource, sys, time
import pyarrow.csv as pacsv
start = time.perf_counter()
table = pacsv.read_csv(sys.argv[1], parse_options=pacsv.ParseOptions(newlines_in_values=True))
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rows": table.num_rows, "seconds": seconds, "peak_mb": peak}))
"""

INGEST_TREAT = """
import json, logging, resource, sys, time
from pathlib import Path
from occupancy.config import Settings
from occupancy.steps.ingest import run_ingest
from occupancy.steps.treat import run_treat
home = Path(sys.argv[2])
settings = Settings(home=home, lake_uri=(home / "lake").as_uri())
start = time.perf_counter()
ingest = run_ingest(settings, "bench", sys.argv[1])
middle = time.perf_counter()
treat = run_treat(settings, "bench")
end = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rows": treat["rows"], "seconds": end - start, "ingest_seconds": middle - start,
                  "treat_seconds": end - middle, "peak_mb": peak}))
"""


def _run(program: str, *args: str) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", program, *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.exit(f"benchmark contender failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _dataset(rows: int, seed: int) -> Path:
    path = ROOT / ".occupancy" / "bench" / f"listings-{rows}-seed{seed}.csv"
    if not path.exists():
        from occupancy.data.synth import write_synthetic_file

        print(f"generating {rows:,} synthetic listings -> {path}", flush=True)
        write_synthetic_file(path, rows, seed)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeats", type=int, default=2, help="runs per contender; best is kept")
    recording.add_record_option(parser)
    args = parser.parse_args()

    data = _dataset(args.rows, args.seed)
    size_mb = data.stat().st_size / 2**20
    plain, ours = [], []
    for _ in range(args.repeats):  # interleaved so both see the same machine conditions
        plain.append(_run(PLAIN_PARSE, str(data)))
        with tempfile.TemporaryDirectory(prefix="occupancy-bench-") as home:
            ours.append(_run(INGEST_TREAT, str(data), home))
    best_plain = min(plain, key=lambda r: r["seconds"])
    best_ours = min(ours, key=lambda r: r["seconds"])
    ratio = best_ours["seconds"] / best_plain["seconds"]
    peak = max(r["peak_mb"] for r in ours)
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "rows": args.rows,
        "file_mb": round(size_mb, 1),
        "plain_parse_seconds": round(best_plain["seconds"], 2),
        "plain_parse_rows_per_s": round(args.rows / best_plain["seconds"]),
        "plain_parse_peak_mb": round(max(r["peak_mb"] for r in plain)),
        "ingest_treat_seconds": round(best_ours["seconds"], 2),
        "ingest_seconds": round(best_ours["ingest_seconds"], 2),
        "treat_seconds": round(best_ours["treat_seconds"], 2),
        "ingest_treat_rows_per_s": round(args.rows / best_ours["seconds"]),
        "ingest_treat_peak_mb": round(peak),
        "ratio_vs_plain_parse": round(ratio, 2),
        "targets": {"max_ratio": MAX_RATIO, "max_peak_mb": MAX_PEAK_MB},
    }
    for path in recording.write("pipeline", report, record=args.record):
        print(f"results: {path.relative_to(ROOT)}")
    print(f"\n{args.rows:,} rows, {size_mb:,.0f} MB of CSV (best of {args.repeats})")
    print(f"{'contender':<26}{'seconds':>9}{'rows/s':>12}{'peak MB':>9}")
    print(
        f"{'pyarrow read_csv (peer)':<26}{best_plain['seconds']:>9.2f}{report['plain_parse_rows_per_s']:>12,}{report['plain_parse_peak_mb']:>9,}"
    )
    print(
        f"{'ingest + treat':<26}{best_ours['seconds']:>9.2f}{report['ingest_treat_rows_per_s']:>12,}{report['ingest_treat_peak_mb']:>9,}"
    )
    print(
        f"ratio {ratio:.2f}x (target <= {MAX_RATIO}x), peak {peak:,.0f} MB (target < {MAX_PEAK_MB} MB)"
    )
    ok = ratio <= MAX_RATIO and peak < MAX_PEAK_MB
    print("targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
