"""`occupancy data seed`: buckets, then the user's file, a synthetic one, or what is already there."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from occupancy.config import Settings
from occupancy.lake import Lake
from occupancy.seed import run_seed


def _settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", lake_uri=(tmp_path / "lake").as_uri())


def test_seed_uploads_the_users_file_and_then_keeps_it(tmp_path) -> None:
    settings = _settings(tmp_path)
    mine = tmp_path / "listings_big.csv"
    mine.write_text("id,host_id\n1,2\n")
    first = run_seed(settings, source=mine, rows=100, seed=1, buckets=[])
    assert first["raw"] == f"uploaded {mine}"
    assert first["created"] == [settings.lake_uri]
    mine.write_text("id,host_id\n9,9\n")
    again = run_seed(settings, source=mine, rows=100, seed=1, buckets=[])
    assert (again["raw"], again["created"]) == ("kept", [])
    assert Lake(settings.lake_uri).read_bytes("raw/listings_big.csv") == b"id,host_id\n1,2\n"


def test_seed_generates_synthetic_listings_when_no_file_is_given(tmp_path) -> None:
    settings = _settings(tmp_path)
    summary = run_seed(settings, source=tmp_path / "absent.csv", rows=150, seed=3, buckets=[])
    assert summary["raw"] == "generated 150 synthetic listings"
    uploaded = Path(Lake(settings.lake_uri).path) / "raw/listings_big.csv"
    frame = pd.read_csv(uploaded, dtype=str)  # text fields hold quoted newlines
    assert len(frame) == 150
    assert list(frame.columns[:2]) == ["id", "listing_url"]
