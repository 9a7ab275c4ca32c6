"""What the row contract costs `occupancy predict`: scoring 20,000 real listings with and without it.

The file is made of the real Newark and Jersey City rows (tests/data), repeated with fresh ids up
to `--rows`, so text lengths and batch sizes are those of Inside Airbnb data. The model is a
HistGradientBoosting pipeline (the family that usually wins) fitted here on the same rows. The
peer is the same scoring pass with validation replaced by an all-valid verdict, which is what
`predict` did before it held rows to the contract (every row scored). Both run in this process,
interleaved, on the same file; the report gives the median of `--repeats` runs of each.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import recording

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("newark_2025-09-30_listings.csv.gz", "jersey-city_2025-09-25_listings.csv.gz")


def _real_listings() -> pd.DataFrame:
    return pd.concat(
        [
            pd.read_csv(ROOT / "tests" / "data" / name, dtype=str, keep_default_na=False)
            for name in SOURCES
        ],
        ignore_index=True,
    )


def _listings(real: pd.DataFrame, rows: int, folder: Path) -> Path:
    frame = real.iloc[np.arange(rows) % len(real)].reset_index(drop=True)
    frame["id"] = [str(i) for i in range(1, rows + 1)]  # unique, or repeats would be refused
    path = folder / f"listings-{rows}.csv"
    # \r\n rows: pandas then quotes the lone \r found in some real free-text cells.
    frame.to_csv(path, index=False, lineterminator="\r\n")
    return path


def _model(real: pd.DataFrame) -> Any:
    """Fitted on the real rows once each (the repeats would add nothing but fitting time)."""
    from occupancy.data.clean import MODEL_INPUT_COLUMNS, treat_frame
    from occupancy.data.schema import TARGET_COLUMN
    from occupancy.training.models import FAMILIES

    frame = treat_frame(real)
    frame = frame[frame[TARGET_COLUMN].notna()]
    family = FAMILIES["hgb"]
    model = family.build(family.grid[-1], seed=0)
    model.fit(frame[list(MODEL_INPUT_COLUMNS)], frame[TARGET_COLUMN].astype(str))
    return model


def _score(model: Any, source: Path, out: Path, *, validate: bool) -> float:
    from occupancy import predict
    from occupancy.data.validate import Verdict

    def all_valid(batch: Any, *_args: Any, **_kwargs: Any) -> Verdict:
        return Verdict(np.zeros(batch.num_rows, dtype=bool), [], [])

    checked = predict.validate_rows
    predict.validate_rows = checked if validate else all_valid  # type: ignore[assignment]
    try:
        start = time.perf_counter()
        tally = predict._write_predictions(
            model, str(source), out, parquet=False, endpoint_url=None
        )
        seconds = time.perf_counter() - start
    finally:
        predict.validate_rows = checked  # type: ignore[assignment]
    if tally.scored != tally.rows:
        sys.exit(f"benchmark file has {tally.refused} refused rows: expected none")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5, help="runs per contender; median kept")
    recording.add_record_option(parser)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="occupancy-bench-predict-") as tmp:
        folder = Path(tmp)
        real = _real_listings()
        source = _listings(real, args.rows, folder)
        model = _model(real)
        _score(model, source, folder / "warm.csv", validate=True)  # imports, caches
        plain, checked = [], []
        for _ in range(args.repeats):  # interleaved so both see the same machine conditions
            plain.append(_score(model, source, folder / "plain.csv", validate=False))
            checked.append(_score(model, source, folder / "checked.csv", validate=True))
    before, after = statistics.median(plain), statistics.median(checked)
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "rows": args.rows,
        "repeats": args.repeats,
        "score_without_contract_seconds": round(before, 3),
        "score_with_contract_seconds": round(after, 3),
        "overhead_seconds": round(after - before, 3),
        "overhead_percent": round(100 * (after - before) / before, 1),
        "overhead_ms_per_1000_rows": round(1000 * (after - before) / args.rows * 1000, 1),
    }
    for path in recording.write("predict", report, record=args.record):
        print(f"results: {path.relative_to(ROOT)}")
    print(f"\n{args.rows:,} real listings, median of {args.repeats} interleaved runs")
    print(f"{'contender':<34}{'seconds':>9}")
    print(f"{'scoring, every row (peer)':<34}{before:>9.3f}")
    print(f"{'validate + score (predict today)':<34}{after:>9.3f}")
    print(
        f"overhead {after - before:+.3f} s ({report['overhead_percent']:+.1f} %, "
        f"{report['overhead_ms_per_1000_rows']} ms per 1,000 rows)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
