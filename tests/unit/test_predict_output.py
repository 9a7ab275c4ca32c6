"""`occupancy predict` output files: text cells neutralised in CSV, numbers and Parquet as they are."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from occupancy import predict
from occupancy.data.schema import CLASSES

FORMULA = '=HYPERLINK("http://x","y")'


class _FixedModel:
    """Stands in for the champion: the same probabilities for every listing, one of them negative
    (so the test sees a negative number written as a number)."""

    classes_ = np.asarray(CLASSES, dtype=object)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.tile([-0.25, 0.25, 0.25, 0.75], (len(frame), 1))


@pytest.fixture
def scored_input(isolated_settings, real_data_dir: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setattr(predict, "load_champion", lambda settings: (_FixedModel(), "fake v1"))
    frame = pd.read_csv(
        real_data_dir / "newark_2025-09-30_listings.csv.gz", dtype=str, keep_default_na=False
    ).head(3)
    frame.loc[0, "id"] = FORMULA
    frame.loc[1, "id"] = "-42"
    path = tmp_path / "listings.csv"
    frame.to_csv(path, index=False)
    return isolated_settings, str(path), frame


def test_predict_csv_neutralises_a_formula_id_and_keeps_probabilities_numbers(
    scored_input, tmp_path
) -> None:
    settings, source, frame = scored_input
    out = tmp_path / "scored.csv"
    assert predict.run_predict(settings, source, out)["rows"] == 3
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    # Such ids break the contract, so those rows are refused, but their cells are still written.
    assert [r["id"] for r in rows] == ["'" + FORMULA, "'-42", frame.loc[2, "id"]]
    assert [r["status"] for r in rows] == ["refused", "refused", "ok"]
    assert rows[0]["reason"] == f"column 'id': expected a positive whole number, got '{FORMULA}'"
    assert rows[2]["occupancy_level"] == "high"
    assert float(rows[2]["p_zero"]) == -0.25
    assert all(not r[f"p_{c}"].startswith("'") for r in rows for c in CLASSES)


def test_predict_parquet_keeps_ids_exactly_as_given(scored_input, tmp_path) -> None:
    settings, source, frame = scored_input
    out = tmp_path / "scored.parquet"
    predict.run_predict(settings, source, out)
    scored = pd.read_parquet(out)
    assert scored["id"].tolist() == frame["id"].tolist()
    assert scored["p_zero"].tolist()[2] == -0.25


# ---- the row contract: invalid rows are refused with a reason, never scored silently ----


class _LatitudeModel:
    """Stands in for the champion: p_zero is the listing's latitude minus 40, so a test can tell
    which listing each output row was scored from; records how many rows it was asked to score."""

    classes_ = np.asarray(CLASSES, dtype=object)

    def __init__(self) -> None:
        self.rows_scored = 0

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        self.rows_scored += len(frame)
        p_zero = frame["latitude"].to_numpy(dtype="float64") - 40
        return np.column_stack([p_zero, 1 - p_zero, np.zeros(len(frame)), np.zeros(len(frame))])


PRICE_REASON = "column 'price': expected a price like $1,234.00, got 'cheap'"
LATITUDE_REASON = "column 'latitude': expected a value between -90 and 90, got '999'"


@pytest.fixture
def latitude_model(isolated_settings, monkeypatch) -> _LatitudeModel:
    model = _LatitudeModel()
    monkeypatch.setattr(predict, "load_champion", lambda settings: (model, "fake v1"))
    return model


def _listings(newark: pd.DataFrame, tmp_path: Path, rows: int = 6) -> tuple[pd.DataFrame, Path]:
    """The first real Newark listings with rows 1, 3 and 4 broken (price, latitude, a repeated id)."""
    frame = newark.head(rows).copy()
    frame.loc[1, "price"] = "cheap"
    frame.loc[3, "latitude"] = "999"
    frame.loc[4, "id"] = frame.loc[0, "id"]
    path = tmp_path / "listings.csv"
    frame.to_csv(path, index=False)
    return frame, path


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_predict_refuses_invalid_rows_with_a_reason_and_scores_the_rest(
    latitude_model, isolated_settings, newark, tmp_path, suffix
) -> None:
    frame, source = _listings(newark, tmp_path)
    out = tmp_path / f"scored{suffix}"
    summary = predict.run_predict(isolated_settings, str(source), out)
    scored = pd.read_csv(out, dtype={"id": str}) if suffix == ".csv" else pd.read_parquet(out)
    assert list(scored.columns) == [
        "id",
        "occupancy_level",
        "p_zero",
        "p_low",
        "p_mid",
        "p_high",
        "status",
        "reason",
    ]
    assert scored["id"].tolist() == frame["id"].tolist()  # every input row, in input order
    assert scored["status"].tolist() == ["ok", "refused", "ok", "refused", "refused", "ok"]
    refused = scored["status"] == "refused"
    assert scored.loc[refused, "reason"].tolist() == [
        PRICE_REASON,
        LATITUDE_REASON,
        f"column 'id': duplicate listing id '{frame.loc[0, 'id']}'",
    ]
    assert scored.loc[~refused, "reason"].isna().all()
    assert (
        scored.loc[refused, ["occupancy_level", "p_zero", "p_low", "p_mid", "p_high"]]
        .isna()
        .all(axis=None)
    )
    expected = frame.loc[~refused.to_numpy(), "latitude"].astype(float) - 40
    np.testing.assert_allclose(scored.loc[~refused, "p_zero"], expected.to_numpy())
    assert latitude_model.rows_scored == 3  # refused rows never reach the model
    assert summary["rows"] == 6
    assert summary["rows_scored"] == 3
    assert summary["rows_refused"] == 3
    assert summary["refused_by_column"] == {"price": 1, "latitude": 1, "id": 1}


def test_predict_logs_one_summary_line_with_counts_and_the_first_reasons(
    latitude_model, isolated_settings, newark, tmp_path, caplog
) -> None:
    _, source = _listings(newark, tmp_path)
    with caplog.at_level("INFO", logger="occupancy.predict"):
        predict.run_predict(isolated_settings, str(source), tmp_path / "scored.csv")
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].startswith("predict: 3 rows scored, 3 refused (first: row 2, " + PRICE_REASON)
    assert "row 4, " + LATITUDE_REASON in lines[0]


def test_predict_validates_every_batch_and_numbers_rows_across_batches(
    latitude_model, isolated_settings, newark, tmp_path, monkeypatch, caplog
) -> None:
    from occupancy.data import csvio

    monkeypatch.setattr(csvio, "BLOCK_BYTES", 1 << 16)  # batches of a few dozen rows
    batches: list[np.ndarray] = []
    score_batch = predict.score_batch

    def spy(model, raw, verdict):
        batches.append(verdict.bad)
        return score_batch(model, raw, verdict)

    monkeypatch.setattr(predict, "score_batch", spy)
    frame = newark.copy()
    frame.loc[:199, "price"] = "cheap"
    frame.loc[len(frame) - 1, "latitude"] = "999"
    source = tmp_path / "listings.csv"
    frame.to_csv(source, index=False)
    out = tmp_path / "scored.parquet"
    summary = predict.run_predict(isolated_settings, str(source), out)
    assert len(batches) > 10 and batches[0].all()  # the first batch had nothing to score
    scored = pd.read_parquet(out)
    assert len(scored) == len(frame)
    assert summary["rows_refused"] == 201
    assert scored["status"].iloc[:200].eq("refused").all()
    assert scored["status"].iloc[200:-1].eq("ok").all()
    assert scored["status"].iloc[-1] == "refused"
    assert scored["reason"].iloc[-1] == LATITUDE_REASON
    np.testing.assert_allclose(
        scored["p_zero"].iloc[200:-1], frame["latitude"].iloc[200:-1].astype(float) - 40
    )

    later = newark.copy()
    later.loc[100, "price"] = "cheap"
    later.loc[len(later) - 1, "latitude"] = "999"
    later.to_csv(source, index=False)
    with caplog.at_level("INFO", logger="occupancy.predict"):
        predict.run_predict(isolated_settings, str(source), out)
    assert f"(first: row 101, {PRICE_REASON}; row {len(later)}, {LATITUDE_REASON})" in caplog.text


def test_predict_refuses_a_file_whose_every_row_is_invalid_and_writes_nothing(
    latitude_model, isolated_settings, newark, tmp_path
) -> None:
    from occupancy.errors import DataError

    frame = newark.head(3).copy()
    frame["price"] = "cheap"
    source = tmp_path / "listings.csv"
    frame.to_csv(source, index=False)
    out = tmp_path / "scored.csv"
    out.write_text("previous predictions\n")
    with pytest.raises(DataError, match=r"none of the 3 rows .* can be scored") as failure:
        predict.run_predict(isolated_settings, str(source), out)
    assert failure.value.exit_code == 2
    assert f"first: row 1, {PRICE_REASON}" in str(failure.value)
    assert out.read_text() == "previous predictions\n"  # the old output is left as it was
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file


def test_predict_refuses_a_file_without_the_scoring_columns(
    latitude_model, isolated_settings, tmp_path
) -> None:
    from occupancy.errors import SchemaError

    source = tmp_path / "summary.csv"
    source.write_text("id,name,price\n1,Flat,$10.00\n")
    with pytest.raises(
        SchemaError, match=r"lacks required columns host_id, last_scraped, .*latitude"
    ):
        predict.run_predict(isolated_settings, str(source), tmp_path / "scored.csv")
    assert not (tmp_path / "scored.csv").exists()


def test_predict_of_a_header_only_file_writes_an_empty_output_with_status_columns(
    latitude_model, isolated_settings, newark, tmp_path
) -> None:
    source = tmp_path / "listings.csv"
    newark.head(0).to_csv(source, index=False)
    out = tmp_path / "scored.parquet"
    summary = predict.run_predict(isolated_settings, str(source), out)
    assert summary["rows"] == summary["rows_scored"] == summary["rows_refused"] == 0
    assert list(pd.read_parquet(out).columns)[-2:] == ["status", "reason"]


def test_predict_cli_prints_one_line_and_exits_2_for_unusable_input(
    latitude_model, isolated_settings, newark, real_data_dir, tmp_path
) -> None:
    from typer.testing import CliRunner

    from occupancy.cli import app

    refused = newark.head(2).copy()
    refused["latitude"] = "999"
    refused.to_csv(tmp_path / "refused.csv", index=False)
    (tmp_path / "listings.json").write_text('[{"id": 1, "price": "$10.00"}]')
    (tmp_path / "empty.csv").write_text("")
    whole = (real_data_dir / "newark_2025-09-30_listings.csv.gz").read_bytes()
    (tmp_path / "cut.csv.gz").write_bytes(whole[: len(whole) // 2])  # an interrupted download
    for name, expected in (
        ("refused.csv", "none of the 2 rows"),
        ("listings.json", "its header has no 'id' column"),
        ("empty.csv", "is empty"),
        ("cut.csv.gz", "is a truncated or corrupt gzip file"),
    ):
        result = CliRunner().invoke(
            app, ["predict", "--input", str(tmp_path / name), "--output", str(tmp_path / "o.csv")]
        )
        assert result.exit_code == 2, (name, result.output)
        lines = result.stderr.strip().splitlines()
        assert lines[-1].startswith("error: ") and expected in lines[-1], (name, lines)
        assert "Traceback" not in result.stderr
        assert not (tmp_path / "o.csv").exists()
