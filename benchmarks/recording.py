"""Where benchmark results go: every run writes `.occupancy/results/` (ignored by git);
`--record` also updates the committed figures in `benchmarks/results/`, as a deliberate change."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LATEST = ROOT / ".occupancy" / "results"
COMMITTED = ROOT / "benchmarks" / "results"


def add_record_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--record",
        action="store_true",
        help="also update the committed benchmarks/results/ (default: .occupancy/results/ only)",
    )


def write(name: str, results: dict[str, Any], *, record: bool) -> list[Path]:
    """Write `<name>.json` to the run folder, and to the committed folder when recording."""
    text = json.dumps(results, indent=2) + "\n"
    paths = [LATEST / f"{name}.json"] + ([COMMITTED / f"{name}.json"] if record else [])
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return paths
