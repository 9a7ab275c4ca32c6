"""Raw data from where it lives (issue 17 item 1): ingest from http(s) URLs into the real S3 lake.

The real Newark file is served by a local HTTP server (tests/listings_server.py) that drops the
connection half-way, answers HTML, or cuts the gzip; the snapshot in SeaweedFS must be the one
an ingest of the same file from disk makes, and every wrong answer one sentence naming the URL.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import S3Server

from listings_server import ListingsServer, serve_listings
from occupancy.config import Settings
from occupancy.errors import DataError
from occupancy.lake import Lake
from occupancy.monitoring.performance import read_truth
from occupancy.steps.ingest import run_ingest
from occupancy.steps.treat import run_treat

pytestmark = pytest.mark.integration
NAME = "newark_2025-09-30_listings.csv.gz"


@pytest.fixture
def s3_settings(s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in ("OCCUPANCY_LAKE_URI", "OCCUPANCY_RAW_URI", "OCCUPANCY_HOME"):
        monkeypatch.delenv(name, raising=False)
    return Settings(
        home=tmp_path / ".occupancy",
        lake_uri=f"s3://occupancy-lake/urls-{uuid.uuid4().hex[:8]}",
        download_attempts=3,
    )


@pytest.fixture
def server(real_data_dir: Path) -> Iterator[ListingsServer]:
    with serve_listings({NAME: (real_data_dir / NAME).read_bytes()}) as running:
        yield running


def test_a_url_dropped_half_way_ingests_as_the_file_does_into_the_s3_lake(
    s3_settings: Settings, server: ListingsServer, real_data_dir: Path
) -> None:
    url = server.link("drop", NAME)
    from_url = run_ingest(s3_settings, "from-url", url)
    from_disk = run_ingest(s3_settings, "from-disk", str(real_data_dir / NAME))
    raw = (real_data_dir / NAME).read_bytes()
    assert from_url["source"] == url
    assert from_url["source_digest"] == hashlib.sha256(raw).hexdigest()[:16]
    assert from_url["source_bytes"] == len(raw) == from_disk["source_bytes"]
    assert from_url["digest"] == from_disk["digest"]  # the same snapshot, byte for byte
    assert from_url["rows_read"] == from_disk["rows_read"] > 1000
    assert len(server.asked("drop", NAME)) == 2  # resumed once, not read from the start
    assert run_treat(s3_settings, "from-url")["rows"] == from_url["rows_valid"]
    lake = Lake(s3_settings.lake_uri, endpoint_url=s3_settings.s3_endpoint_url)
    assert lake.read_json("processed/latest.json")["run_id"] == "from-url"
    # A rerun of the run id downloads the URL again and finds the same bytes: reused.
    assert run_ingest(s3_settings, "from-url", url)["digest"] == from_url["digest"]
    assert len(server.asked("drop", NAME)) == 3


@pytest.mark.parametrize(
    ("behaviour", "said"),
    [
        ("html", "answered an HTML page"),
        ("missing", "answered HTTP 404"),
        ("cut", "is a truncated gzip file"),
    ],
)
def test_a_url_with_the_wrong_answer_publishes_nothing_and_says_so(
    s3_settings: Settings, server: ListingsServer, behaviour: str, said: str
) -> None:
    url = server.link(behaviour, NAME)
    with pytest.raises(DataError, match=said) as excinfo:
        run_ingest(s3_settings, "wrong", url)
    assert str(excinfo.value).startswith(url)
    lake = Lake(s3_settings.lake_uri, endpoint_url=s3_settings.s3_endpoint_url)
    assert lake.list("runs/wrong") == []


def test_live_performance_reads_its_newer_scrape_from_a_url(
    server: ListingsServer, real_data_dir: Path
) -> None:
    from_url = read_truth(server.link("chunked", NAME))
    from_disk = read_truth(str(real_data_dir / NAME))
    assert from_url.equals(from_disk) and len(from_url) > 1000
