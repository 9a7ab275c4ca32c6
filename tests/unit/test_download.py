"""Raw files from http(s) URLs: streamed to disk, resumed, retried, and refused in one sentence.

A local HTTP server (tests/listings_server.py) serves a real listings file and fails the ways
real servers do; every request it saw is checked, so a resumed download is told from a restarted
one and a refused URL asked once from one retried.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from listings_server import ListingsServer, serve_listings
from occupancy.download import DownloadLimits, download
from occupancy.errors import DataError, LakeError

NAME = "newark.csv.gz"
QUICK = DownloadLimits(timeout_seconds=2.0, attempts=3, backoff_seconds=0.0)


@pytest.fixture(scope="module")
def listings_gz(real_data_dir: Path) -> bytes:
    return (real_data_dir / "newark_2025-09-30_listings.csv.gz").read_bytes()


@pytest.fixture
def server(listings_gz: bytes) -> Iterator[ListingsServer]:
    with serve_listings({NAME: listings_gz}) as running:
        yield running


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _nothing_left(tmp_path: Path) -> bool:
    return list(tmp_path.iterdir()) == []


def test_a_file_arrives_whole_with_its_digest(server, listings_gz, tmp_path) -> None:
    got = download(server.link("ok", NAME), tmp_path / "raw", QUICK)
    assert got.path.read_bytes() == listings_gz
    assert (got.digest, got.bytes, got.attempts) == (_digest(listings_gz), len(listings_gz), 1)
    assert server.asked("ok", NAME) == [None]


def test_a_dropped_connection_resumes_where_it_stopped(server, listings_gz, tmp_path) -> None:
    waits: list[float] = []
    limits = DownloadLimits(timeout_seconds=2.0, attempts=3, backoff_seconds=0.5)
    got = download(server.link("drop", NAME), tmp_path / "raw", limits, sleep=waits.append)
    assert got.path.read_bytes() == listings_gz and got.digest == _digest(listings_gz)
    (first, resumed) = server.asked("drop", NAME)
    assert first is None and resumed == f"bytes={len(listings_gz) // 2}-"
    assert waits == [0.5] and got.attempts == 2


def test_a_server_that_cannot_resume_is_read_again_from_the_start(
    server, listings_gz, tmp_path
) -> None:
    got = download(server.link("drop-norange", NAME), tmp_path / "raw", QUICK)
    assert got.path.read_bytes() == listings_gz and got.digest == _digest(listings_gz)
    assert got.bytes == len(listings_gz) and len(server.asked("drop-norange", NAME)) == 2


def test_a_busy_server_is_retried_with_back_off(server, listings_gz, tmp_path) -> None:
    waits: list[float] = []
    limits = DownloadLimits(timeout_seconds=2.0, attempts=4, backoff_seconds=1.0)
    got = download(server.link("flaky", NAME), tmp_path / "raw", limits, sleep=waits.append)
    assert got.path.read_bytes() == listings_gz
    assert waits == [1.0, 2.0] and len(server.asked("flaky", NAME)) == 3


def test_a_server_down_for_every_try_fails_transiently_naming_the_url(server, tmp_path) -> None:
    url = server.link("down", NAME)
    with pytest.raises(
        LakeError, match=r"could not be downloaded in 3 tries \(last: HTTP 503"
    ) as e:
        download(url, tmp_path / "raw", QUICK)
    assert url in str(e.value) and e.value.exit_code == 1  # the orchestrator may retry later
    assert len(server.asked("down", NAME)) == 3 and _nothing_left(tmp_path)


def test_a_stalled_body_times_out_and_is_retried(server, listings_gz, tmp_path) -> None:
    limits = DownloadLimits(timeout_seconds=0.5, attempts=2, backoff_seconds=0.0)
    with pytest.raises(LakeError, match="could not be downloaded in 2 tries"):
        download(server.link("stall", NAME), tmp_path / "raw", limits)
    assert len(server.asked("stall", NAME)) == 2 and _nothing_left(tmp_path)


@pytest.mark.parametrize(
    ("behaviour", "said"),
    [
        ("missing", "answered HTTP 404 Not Found: not a listings file"),
        ("html", "answered an HTML page (Content-Type text/html)"),
        ("html-body", "answered an HTML page, not a listings CSV"),
        ("cut", "is a truncated gzip file: it ends before its end-of-stream marker"),
    ],
)
def test_a_wrong_answer_fails_at_once_in_one_sentence(
    server, tmp_path, behaviour: str, said: str
) -> None:
    url = server.link(behaviour, NAME)
    with pytest.raises(DataError) as excinfo:
        download(url, tmp_path / "raw", QUICK)
    message = str(excinfo.value)
    assert message.startswith(url) and said in message and "\n" not in message
    assert excinfo.value.exit_code == 2  # deterministic: never retried
    assert len(server.asked(behaviour, NAME)) == 1 and _nothing_left(tmp_path)


def test_the_size_limit_is_kept_with_and_without_a_content_length(
    server, listings_gz, tmp_path
) -> None:
    small = DownloadLimits(max_bytes=len(listings_gz) - 1, timeout_seconds=2.0, attempts=3)
    for behaviour in ("ok", "chunked"):
        with pytest.raises(DataError, match="is over the download limit") as excinfo:
            download(server.link(behaviour, NAME), tmp_path / "raw", small)
        assert "OCCUPANCY_DOWNLOAD_MAX_BYTES" in str(excinfo.value)
        assert len(server.asked(behaviour, NAME)) == 1 and _nothing_left(tmp_path)
    # Exactly at the limit is allowed; a body without a length is counted as it streams.
    exact = DownloadLimits(max_bytes=len(listings_gz), timeout_seconds=2.0)
    assert download(server.link("chunked", NAME), tmp_path / "raw", exact).bytes == len(listings_gz)


def test_plain_csv_and_concatenated_gzip_members_are_whole_files(tmp_path) -> None:
    plain = b"id,price\n1,$10.00\n"
    members = gzip.compress(b"id,price\n") + gzip.compress(b"1,$10.00\n")
    with serve_listings({"plain.csv": plain, "members.csv.gz": members}) as running:
        assert download(running.link("ok", "plain.csv"), tmp_path / "a", QUICK).bytes == len(plain)
        got = download(running.link("ok", "members.csv.gz"), tmp_path / "b", QUICK)
    assert gzip.decompress(got.path.read_bytes()) == plain
