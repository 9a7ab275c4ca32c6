"""ingest and treat on a file:// lake: contract errors, quarantine, atomic publish, idempotency."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from occupancy.errors import (
    ConfigError,
    DataError,
    NotFoundError,
    OccupancyError,
    QualityError,
    SchemaError,
)
from occupancy.lake import Lake
from occupancy.steps.check import run_check
from occupancy.steps.ingest import run_ingest
from occupancy.steps.treat import run_treat


def _write(frame: pd.DataFrame, path: Path) -> str:
    frame.to_csv(path, index=False)
    return str(path)


def _local(uri: str) -> Path:
    """The local path of a file:// URI a manifest names (its files sit in a writer folder)."""
    return Path(uri.removeprefix("file://"))


def _published(settings, run_id: str) -> list[str]:
    return [
        k for k in Lake(settings.lake_uri).list(f"runs/{run_id}") if k.endswith("_manifest.json")
    ]


def test_ingest_and_treat_publish_manifest_and_latest_pointer(
    isolated_settings, newark, tmp_path
) -> None:
    raw = _write(newark, tmp_path / "listings.csv")
    ingest = run_ingest(isolated_settings, "r1", raw)
    assert ingest["rows_valid"] == len(newark) and ingest["rows_quarantined"] == 0
    treat = run_treat(isolated_settings, "r1")
    assert treat["rows"] == len(newark)
    lake = Lake(isolated_settings.lake_uri)
    assert lake.read_json("processed/latest.json")["run_id"] == "r1"
    table = pq.read_table(_local(treat["data"]))
    assert not any(
        name.startswith(("review_scores", "availability")) for name in table.column_names
    )
    report = json.loads(_local(treat["report"]).read_text())
    assert "estimated_occupancy_l365d" in report["excluded_leakage_columns"]
    checked = run_check(isolated_settings, "r1")
    assert (checked["rows"], checked["digest"]) == (treat["rows"], treat["digest"])


def test_check_names_the_missing_run_and_what_to_run(isolated_settings, newark, tmp_path) -> None:
    with pytest.raises(
        NotFoundError, match="run r9 has no processed data at file://.*data_treatment_dag"
    ):
        run_check(isolated_settings, "r9")
    run_ingest(isolated_settings, "r2", _write(newark.head(600), tmp_path / "listings.csv"))
    _local(run_treat(isolated_settings, "r2")["data"]).unlink()
    with pytest.raises(NotFoundError, match="rerun the treat step"):
        run_check(isolated_settings, "r2")


def test_rerunning_steps_with_the_same_run_id_changes_nothing(
    isolated_settings, newark, tmp_path
) -> None:
    raw = _write(newark.head(600), tmp_path / "listings.csv")
    first = (run_ingest(isolated_settings, "r1", raw), run_treat(isolated_settings, "r1"))
    lake = Lake(isolated_settings.lake_uri)
    before = {k: lake.read_bytes(k) for k in lake.list("runs/r1")}
    again = (run_ingest(isolated_settings, "r1", raw), run_treat(isolated_settings, "r1"))
    assert {k: lake.read_bytes(k) for k in lake.list("runs/r1")} == before
    assert [a["digest"] for a in again] == [f["digest"] for f in first]
    assert all(a["reused"] for a in again)


def test_gzip_input_is_detected_by_content(isolated_settings, newark, tmp_path) -> None:
    path = tmp_path / "listings.data"
    path.write_bytes(gzip.compress(newark.head(300).to_csv(index=False).encode()))
    assert run_ingest(isolated_settings, "r1", str(path))["rows_valid"] == 300


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV text file"),
        (b"\x1f\x8bnot really gzip", "not a readable gzip file"),
        (b"name,city\nx,y\n", "not an Inside Airbnb listings CSV: its header has no 'id' column"),
    ],
)
def test_ingest_rejects_files_that_are_not_listings(
    isolated_settings, tmp_path, content, message
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(SchemaError, match=message):
        run_ingest(isolated_settings, "r1", str(path))
    assert _published(isolated_settings, "r1") == []


def test_ingest_rejects_header_only_file(isolated_settings, newark, tmp_path) -> None:
    raw = _write(newark.head(0), tmp_path / "header.csv")
    with pytest.raises(DataError, match="has a header but no data rows"):
        run_ingest(isolated_settings, "r1", raw)
    assert _published(isolated_settings, "r1") == []


def test_ingest_lists_every_missing_required_column(isolated_settings, newark, tmp_path) -> None:
    raw = _write(newark.drop(columns=["price", "room_type"]), tmp_path / "listings.csv")
    with pytest.raises(SchemaError, match=r"lacks required columns room_type, price"):
        run_ingest(isolated_settings, "r1", raw)


def test_training_on_antwerp_fails_naming_the_target_column(
    isolated_settings, real_data_dir
) -> None:
    with pytest.raises(SchemaError) as caught:
        run_ingest(
            isolated_settings, "r1", str(real_data_dir / "antwerp_2024-06-29_listings.csv.gz")
        )
    assert str(caught.value).count("\n") == 0
    assert "lacks required column estimated_occupancy_l365d" in str(caught.value)


def test_bad_rows_are_quarantined_with_reasons_under_the_threshold(
    isolated_settings, newark, tmp_path
) -> None:
    frame = newark.head(500).copy()
    frame.loc[3, "accommodates"] = "four"
    frame.loc[7, "price"] = "-$10.00"
    frame.loc[9, "id"] = frame.loc[8, "id"]
    summary = run_ingest(isolated_settings, "r1", _write(frame, tmp_path / "listings.csv"))
    assert summary["rows_quarantined"] == 3
    quarantine = pd.read_csv(_local(summary["quarantine"]))
    assert quarantine["row"].tolist() == [4, 8, 10]
    assert (
        quarantine["reason"].tolist()[0]
        == "column 'accommodates': expected a whole number, got 'four'"
    )
    assert "duplicate listing id" in quarantine["reason"].tolist()[2]


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("accommodates", "lots", "expected a whole number, got 'lots'"),
        ("price", "NaN", "expected a price like $1,234.00, got 'NaN'"),
        ("latitude", "123.4", "expected a value between -90 and 90"),
        ("estimated_occupancy_l365d", "-3", "expected a value between 0 and 366"),
        ("minimum_nights", "99999999", "expected a value between 0 and 100000"),
    ],
)
def test_too_many_bad_rows_fail_with_the_first_reason_and_publish_nothing(
    isolated_settings, newark, tmp_path, column, value, expected
) -> None:
    frame = newark.head(200).copy()
    frame.loc[:, column] = value
    with pytest.raises(QualityError, match="rows \\(100.0%\\)") as caught:
        run_ingest(isolated_settings, "r1", _write(frame, tmp_path / "listings.csv"))
    assert f"first: row 1, column '{column}': {expected}" in str(caught.value)
    assert "OCCUPANCY_MAX_BAD_ROW_FRACTION" in str(caught.value)
    assert _published(isolated_settings, "r1") == []


def test_duplicate_ids_beyond_the_threshold_fail(isolated_settings, newark, tmp_path) -> None:
    frame = pd.concat([newark.head(100), newark.head(100)])
    with pytest.raises(QualityError, match="duplicate listing id"):
        run_ingest(isolated_settings, "r1", _write(frame, tmp_path / "listings.csv"))


def test_treat_needs_ingest_first(isolated_settings) -> None:
    with pytest.raises(NotFoundError, match="run `occupancy step ingest --run-id r9` first"):
        run_treat(isolated_settings, "r9")


def test_treat_refuses_data_too_small_to_split(isolated_settings, newark, tmp_path) -> None:
    run_ingest(isolated_settings, "r1", _write(newark.head(3), tmp_path / "tiny.csv"))
    with pytest.raises(DataError, match="split"):
        run_treat(isolated_settings, "r1")
    assert not Lake(isolated_settings.lake_uri).exists("processed/latest.json")


def test_invalid_run_id_is_refused(isolated_settings, tmp_path) -> None:
    from occupancy.errors import ConfigError

    with pytest.raises(ConfigError, match="invalid run id '../x'"):
        run_ingest(isolated_settings, "../x", str(tmp_path / "x.csv"))


def test_missing_input_file_names_the_uri(isolated_settings, tmp_path) -> None:
    with pytest.raises(NotFoundError, match=f"no file at .*{tmp_path.name}/absent.csv"):
        run_ingest(isolated_settings, "r1", str(tmp_path / "absent.csv"))


def test_manifest_is_json_with_the_counts(isolated_settings, newark, tmp_path) -> None:
    run_ingest(isolated_settings, "r1", _write(newark.head(50), tmp_path / "l.csv"))
    manifest = json.loads(
        (Path(Lake(isolated_settings.lake_uri).path) / "runs/r1/ingest/_manifest.json").read_text()
    )
    assert manifest["rows_read"] == 50 and manifest["columns"] == 79


def test_quarantine_neutralises_a_formula_id_and_keeps_row_numbers_numbers(
    isolated_settings, newark, tmp_path
) -> None:
    formula = '=HYPERLINK("http://x","y")'
    frame = newark.head(500).copy()
    frame.loc[3, "id"] = formula
    summary = run_ingest(isolated_settings, "r1", _write(frame, tmp_path / "listings.csv"))
    assert summary["rows_quarantined"] == 1
    text = _local(summary["quarantine"]).read_text()
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["id"] == "'" + formula
    assert row["row"] == "4" and text.splitlines()[1].startswith("4,")
    assert row["reason"].startswith("column 'id':") and formula[:10] in row["reason"]


def test_ingest_rerun_with_another_raw_is_refused_naming_both(
    isolated_settings, newark, tmp_path
) -> None:
    first = _write(newark.head(700), tmp_path / "first.csv")
    published = run_ingest(isolated_settings, "same", first)
    assert run_ingest(isolated_settings, "same", first)["reused"]
    second = _write(newark.head(800), tmp_path / "second.csv")
    with pytest.raises(ConfigError) as refused:
        run_ingest(isolated_settings, "same", second)
    message = str(refused.value)
    assert "run same" in message and first in message and second in message
    assert "new run id" in message and refused.value.exit_code == 2
    # Same path, other bytes: the digest tells them apart too.
    _write(newark.head(750), tmp_path / "first.csv")
    with pytest.raises(ConfigError, match=published["source_digest"]):
        run_ingest(isolated_settings, "same", first)


def test_a_writer_that_loses_the_publish_race_fails_and_leaves_no_object(
    isolated_settings, newark, tmp_path, monkeypatch
) -> None:
    from occupancy.run_layout import StepOutputs

    raw = _write(newark.head(700), tmp_path / "raw.csv")
    publish = StepOutputs.publish

    def another_writer_first(self: StepOutputs, summary: dict) -> str:
        # The other writer publishes between this one's data upload and its manifest.
        monkeypatch.setattr(StepOutputs, "publish", publish)
        run_ingest(isolated_settings, "race", _write(newark.head(650), tmp_path / "other.csv"))
        return publish(self, summary)

    monkeypatch.setattr(StepOutputs, "publish", another_writer_first)
    with pytest.raises(OccupancyError, match="run race.*published by another writer"):
        run_ingest(isolated_settings, "race", raw)
    lake = Lake(isolated_settings.lake_uri)
    manifest = lake.read_json("runs/race/ingest/_manifest.json")
    assert manifest["rows_valid"] == 650
    assert all(manifest["writer"] in k for k in lake.list("runs/race/ingest") if "/w-" in k)


@pytest.mark.parametrize("how", ["flipped", "truncated"])
def test_a_damaged_parquet_in_the_local_lake_is_refused_naming_it(
    isolated_settings, newark, tmp_path, how
) -> None:
    from occupancy.run_layout import open_run
    from occupancy.training.dataset import load_processed

    run_ingest(isolated_settings, "d1", _write(newark.head(900), tmp_path / "raw.csv"))
    run_treat(isolated_settings, "d1")
    lake = Lake(isolated_settings.lake_uri)
    processed = lake.read_json("runs/d1/processed/_manifest.json")["data"]
    path = Path(lake.path) / processed.removeprefix(f"{lake.root}/")
    data = path.read_bytes()
    path.write_bytes(
        data[: len(data) // 2] + b"\x00" * 64 + data[len(data) // 2 + 64 :]
        if how == "flipped"
        else data[: len(data) // 3]
    )
    with pytest.raises(DataError) as refused:
        load_processed(open_run(isolated_settings, "d1"), max_train_rows=10_000, seed=0)
    assert processed in str(refused.value) and "new run id" in str(refused.value)
    assert refused.value.exit_code == 2
