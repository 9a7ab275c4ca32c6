"""`occupancy data seed`: prepare an empty object store for a first pipeline run.

Creates the lake's bucket (and any other bucket named, such as MLflow's artifact bucket), then
puts raw listings at OCCUPANCY_RAW_URI unless an object is already there: the user's own file
when one is given and present, otherwise a synthetic file. Idempotent, so compose can run it at
every start.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from occupancy.config import Settings
from occupancy.lake import Lake, local_workdir

log = logging.getLogger(__name__)


def run_seed(
    settings: Settings, *, source: Path | None, rows: int, seed: int, buckets: list[str]
) -> dict[str, Any]:
    """Buckets exist and raw data is in place; returns what was created or kept."""
    from occupancy.data.synth import write_synthetic_file

    created = [
        root
        for root in (settings.lake_uri, *(f"s3://{name}" for name in buckets))
        if Lake(root, endpoint_url=settings.s3_endpoint_url).ensure_bucket()
    ]
    parent, _, key = settings.raw_uri.rpartition("/")
    lake = Lake(parent, endpoint_url=settings.s3_endpoint_url)
    if lake.exists(key):
        raw = "kept"
    elif source is not None and source.is_file():
        lake.upload(source, key)
        raw = f"uploaded {source}"
    else:
        with local_workdir() as work:
            lake.upload(write_synthetic_file(work / "listings_big.csv", rows, seed), key)
        raw = f"generated {rows:,} synthetic listings"
    log.info("seed: %s -> %s", raw, settings.raw_uri)
    return {"step": "seed", "created": created, "raw_uri": settings.raw_uri, "raw": raw}
