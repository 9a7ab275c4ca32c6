"""Many raw files in one run, on a file:// lake with the real city files: names, per-source
ingest and treat, the skip of a failed source, combine and its failure policy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from occupancy.config import Settings
from occupancy.errors import ConfigError, DataError, PipelineError, SkippedError
from occupancy.lake import Lake
from occupancy.sources import resolve_sources, source_name
from occupancy.steps.combine import run_combine
from occupancy.steps.ingest import run_ingest
from occupancy.steps.sources import run_sources
from occupancy.steps.treat import run_treat

# The two real files with the target; Antwerp's older schema lacks it (tests/data/README.md).
CITIES = ("newark_2025-09-30", "jersey-city_2025-09-25")
ANTWERP = "antwerp_2024-06-29"


@pytest.mark.parametrize(
    ("uri", "name"),
    [
        (
            "https://data.insideairbnb.com/united-states/nj/newark/2025-09-30/data/listings.csv.gz",
            "newark_2025-09-30",
        ),
        (
            "s3://occupancy-lake/raw/jersey-city_2025-09-25_listings.csv.gz",
            "jersey-city_2025-09-25",
        ),
        ("/data/listings_big.csv", "listings_big"),
        ("file:///data/My%20City%20Export.CSV", "my-city-export"),
        ("https://example.test/x/listings.csv.gz", "listings"),
    ],
)
def test_a_source_is_named_after_its_city_and_scrape_date(uri: str, name: str) -> None:
    assert source_name(uri) == name


def test_a_folder_expands_to_its_listings_files_and_names_never_clash(tmp_path: Path) -> None:
    folder = tmp_path / "raw"
    (folder / "q3").mkdir(parents=True)
    for file in ("b_2025-01-01_listings.csv.gz", "q3/a_2025-01-01_listings.csv", "notes.txt"):
        (folder / file).write_bytes(b"id\n")
    (folder / ".c_2025-01-01_listings.csv.tmp").write_bytes(b"")  # a writer's temporary file
    found = resolve_sources([f"{folder.as_uri()}/"])
    assert [s.name for s in found] == ["b_2025-01-01", "a_2025-01-01"]
    assert found[1].uri == f"{folder.as_uri()}/q3/a_2025-01-01_listings.csv"
    with pytest.raises(ConfigError, match="both named 'a_2025-01-01'"):
        resolve_sources(
            [f"{folder.as_uri()}/", str(tmp_path / "elsewhere/a_2025-01-01_listings.csv")]
        )
    with pytest.raises(ConfigError, match="is given twice"):
        resolve_sources([found[0].uri, found[0].uri])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"no \.csv or \.csv\.gz file under .*empty/"):
        resolve_sources([f"{(tmp_path / 'empty').as_uri()}/"])


def test_the_sources_step_defaults_to_the_configured_raw_file(isolated_settings) -> None:
    found = run_sources(isolated_settings, "s-1", [])
    assert found["sources"] == [{"name": "listings_big", "uri": isolated_settings.raw_uri}]
    assert found["names"] == ["listings_big"]


@pytest.fixture
def city_files(real_data_dir: Path, tmp_path: Path) -> dict[str, str]:
    out = {}
    for city in (*CITIES, ANTWERP):
        target = tmp_path / "raw" / f"{city}_listings.csv.gz"
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(real_data_dir / f"{city}_listings.csv.gz", target)
        out[city] = str(target)
    return out


def _treat_sources(settings: Settings, run_id: str, files: dict[str, str]) -> None:
    for name, uri in files.items():
        run_ingest(settings, run_id, uri, source=name)
        run_treat(settings, run_id, source=name)


def test_two_cities_combine_into_one_table_with_a_source_column(
    isolated_settings, city_files
) -> None:
    _treat_sources(isolated_settings, "m-1", {c: city_files[c] for c in CITIES})
    lake = Lake(isolated_settings.lake_uri)
    # Per source only: nothing announces a run's data before it is combined.
    assert not lake.exists("processed/latest.json")
    combined = run_combine(isolated_settings, "m-1", list(CITIES))
    table = pq.read_table(combined["data"].removeprefix("file://")).to_pandas()
    counts = table["source"].value_counts().to_dict()
    assert counts == combined["rows_by_source"]
    assert set(counts) == set(CITIES) and all(n > 1000 for n in counts.values())
    assert lake.read_json("processed/latest.json")["run_id"] == "m-1"
    # Grouped by host across cities: no host is in two splits.
    assert table.groupby("host_id")["split"].nunique().max() == 1
    # The same sources again: the published table is reused; another set is refused.
    assert run_combine(isolated_settings, "m-1", list(CITIES))["reused"] is True
    with pytest.raises(ConfigError, match="start a new run id"):
        run_combine(isolated_settings, "m-1", list(CITIES[:1]))


def test_a_bad_file_fails_its_own_source_and_the_policy_decides_the_run(
    isolated_settings, city_files, tmp_path
) -> None:
    """Antwerp (real, older schema: no target) and an HTML page among two good cities."""
    bad = tmp_path / "raw" / "broken_2025-01-01_listings.csv"
    bad.write_text("<html><body>Not Found</body></html>\n")
    files = {**city_files, "broken_2025-01-01": str(bad)}
    refused = {}
    for name, uri in files.items():
        try:
            run_ingest(isolated_settings, "p-1", uri, source=name)
        except DataError as error:
            refused[name] = str(error)
    assert set(refused) == {ANTWERP, "broken_2025-01-01"}
    assert "lacks required column estimated_occupancy_l365d" in refused[ANTWERP]
    assert str(bad) in refused["broken_2025-01-01"]
    # A failed source's treat is skipped, saying why; the others treat as usual.
    with pytest.raises(
        SkippedError, match=rf"source {ANTWERP} of run p-1 is not treated: its ingest failed: "
    ):
        run_treat(isolated_settings, "p-1", source=ANTWERP)
    for name in CITIES:
        run_treat(isolated_settings, "p-1", source=name)

    with pytest.raises(PipelineError, match=r"2 of 4 sources failed") as failed:
        run_combine(isolated_settings, "p-1", list(files))
    assert refused[ANTWERP] in str(failed.value)  # each failed source with its own sentence
    assert failed.value.exit_code == 2  # the files are bad: no retry can fix them
    assert not Lake(isolated_settings.lake_uri).exists("runs/p-1/processed/_manifest.json")

    go_on = isolated_settings.model_copy(update={"source_failures": "continue"})
    combined = run_combine(go_on, "p-1", list(files))
    assert set(combined["rows_by_source"]) == set(CITIES)
    assert combined["failed_sources"][ANTWERP] == {
        "step": "ingest",
        "error": refused[ANTWERP],
        "exit_code": 2,
    }


def test_a_run_whose_every_source_failed_publishes_nothing_whatever_the_policy(
    isolated_settings, tmp_path
) -> None:
    empty = tmp_path / "empty_2025-01-01_listings.csv"
    empty.write_bytes(b"")
    with pytest.raises(DataError):
        run_ingest(isolated_settings, "e-1", str(empty), source="empty_2025-01-01")
    go_on = isolated_settings.model_copy(update={"source_failures": "continue"})
    with pytest.raises(PipelineError, match="every source failed"):
        run_combine(go_on, "e-1", ["empty_2025-01-01"])


def test_prepare_treats_the_sources_in_parallel_processes_then_combines(
    isolated_settings, city_files
) -> None:
    """`occupancy prepare`'s engine: the same steps in a process pool, the same policy."""
    from occupancy.treatment import run_treatment

    files = [city_files[c] for c in (*CITIES, ANTWERP)]
    with pytest.raises(PipelineError, match=rf"1 of 3 sources failed.*{ANTWERP}: "):
        run_treatment(isolated_settings, "pool-1", files, workers=2)
    go_on = isolated_settings.model_copy(update={"source_failures": "continue"})
    summary = run_treatment(go_on, "pool-2", files, workers=2)
    assert summary["parallel"] == 2
    assert set(summary["rows_by_source"]) == set(CITIES)
    assert summary["per_source"][ANTWERP]["exit_code"] == 2
    assert Lake(go_on.lake_uri).read_json("processed/latest.json")["run_id"] == "pool-2"


def test_a_source_named_like_the_combined_table_still_combines(
    isolated_settings, real_data_dir, tmp_path
) -> None:
    """A file called listings.csv is the source `listings`, the name of combine's own output."""
    raw = tmp_path / "listings.csv.gz"
    shutil.copyfile(real_data_dir / f"{CITIES[0]}_listings.csv.gz", raw)
    (found,) = run_sources(isolated_settings, "same-1", [str(raw)])["sources"]
    assert found["name"] == "listings"
    _treat_sources(isolated_settings, "same-1", {"listings": str(raw)})
    combined = run_combine(isolated_settings, "same-1", ["listings"])
    assert combined["rows_by_source"] == {"listings": 1872}
    assert Path(combined["data"].removeprefix("file://")).is_file()
