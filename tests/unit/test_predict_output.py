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
    assert [r["id"] for r in rows] == ["'" + FORMULA, "'-42", frame.loc[2, "id"]]
    assert [r["occupancy_level"] for r in rows] == ["high"] * 3
    assert [float(r["p_zero"]) for r in rows] == [-0.25] * 3
    assert all(not r[f"p_{c}"].startswith("'") for r in rows for c in CLASSES)


def test_predict_parquet_keeps_ids_exactly_as_given(scored_input, tmp_path) -> None:
    settings, source, frame = scored_input
    out = tmp_path / "scored.parquet"
    predict.run_predict(settings, source, out)
    scored = pd.read_parquet(out)
    assert scored["id"].tolist() == frame["id"].tolist()
    assert scored["p_zero"].tolist() == [-0.25] * 3
