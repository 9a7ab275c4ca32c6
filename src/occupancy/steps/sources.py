"""Step sources: the raw files one run treats, each with its name (what the DAG maps over).

Folders are listed here, in a step pod with the lake's identity, because Airflow's own
processes hold no lake credentials. Nothing is written: each source's ingest records its URI
and digest, and the combine step the list of sources it joined.
"""

from __future__ import annotations

from typing import Any

from occupancy.config import Settings
from occupancy.run_layout import check_run_id
from occupancy.sources import resolve_sources


def run_sources(settings: Settings, run_id: str, raw_uris: list[str]) -> dict[str, Any]:
    """The sources of run `run_id`: `raw_uris` with folders expanded, else OCCUPANCY_RAW_URI."""
    sources = resolve_sources(
        [uri for uri in raw_uris if uri] or [settings.raw_uri],
        endpoint_url=settings.s3_endpoint_url,
    )
    return {
        "step": "sources",
        "run_id": check_run_id(run_id),
        "sources": [{"name": s.name, "uri": s.uri} for s in sources],
        "names": [s.name for s in sources],
    }
