"""Live performance, the retraining thresholds and the report page, on small exact inputs."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import f1_score

from occupancy.config import Settings
from occupancy.errors import SchemaError
from occupancy.monitoring.performance import live_performance, read_truth
from occupancy.monitoring.report import render_report
from occupancy.monitoring.thresholds import decide

LEVELS = ["zero", "low", "mid", "high"]


def _predictions(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"id": i, "logged_at": pd.Timestamp(t, tz="UTC"), "occupancy_level": level}
            for i, t, level in rows
        ]
    )


def test_the_newest_prediction_of_each_listing_counts_once() -> None:
    predictions = _predictions(
        [
            ("1", "2026-01-02", "high"),  # newer: counts
            ("1", "2026-01-01", "zero"),
            ("2", "2026-01-01", "low"),
            ("3", "2026-01-01", "mid"),  # not in the scrape
        ]
    )
    truth = pd.DataFrame({"id": ["1", "2", "4"], "occupancy_level": ["high", "mid", "zero"]})
    result = live_performance(predictions, truth)
    assert (result.matched, result.predicted_listings, result.truth_listings) == (2, 3, 3)
    expected = f1_score(
        ["high", "mid"], ["high", "low"], labels=LEVELS, average="macro", zero_division=0
    )
    assert result.macro_f1 == pytest.approx(expected)
    assert result.f1_per_class["high"] == 1.0 and result.f1_per_class["mid"] == 0.0
    assert result.confusion[2][1] == 1 and result.confusion[3][3] == 1  # mid as low, high as high
    assert sum(map(sum, result.confusion)) == 2


def test_nothing_matched_is_no_score_not_a_zero() -> None:
    result = live_performance(
        _predictions([("1", "2026-01-01", "low")]),
        pd.DataFrame({"id": ["9"], "occupancy_level": ["low"]}),
    )
    assert result.matched == 0 and math.isnan(result.macro_f1)


def test_the_truth_is_the_scrapes_nights_binned_like_the_target(tmp_path: Path) -> None:
    scrape = tmp_path / "next.csv.gz"
    rows = "id,estimated_occupancy_l365d\n1,0\n2,1\n3,30\n4,31\n5,121\n6,\n"
    scrape.write_bytes(gzip.compress(rows.encode()))
    truth = read_truth(str(scrape))
    assert dict(zip(truth["id"], truth["occupancy_level"], strict=True)) == {
        "1": "zero",
        "2": "low",
        "3": "low",
        "4": "mid",
        "5": "high",
    }  # 6 has no known level: not truth


def test_a_scrape_without_the_nights_column_is_refused_by_name(tmp_path: Path) -> None:
    scrape = tmp_path / "calendar.csv"
    scrape.write_text("id,price\n1,$10\n")
    with pytest.raises(SchemaError, match="estimated_occupancy_l365d"):
        read_truth(str(scrape))


def _drift(rows: int, price_psi: float, levels_psi: float = 0.01) -> dict:
    return {
        "model": {"name": "m", "version": "3", "test_f1_macro": "0.5"},
        "window": {"from": "2026-01-01", "to": "2026-01-07", "rows": rows},
        "reference_predictions": dict.fromkeys(LEVELS, 0.25),
        "daily_levels": [{"date": "2026-01-07", **dict.fromkeys(LEVELS, rows // 4)}],
        "predictions": {"psi": levels_psi},
        "features": [
            {"feature": "price", "kind": "numeric", "psi": price_psi, "statistic": 0.3,
             "p_value": 0.0, "window_rows": rows},
            {"feature": "beds", "kind": "numeric", "psi": 0.01, "statistic": 0.01,
             "p_value": 0.9, "window_rows": rows},
        ],
    }  # fmt: skip


def _live(matched: int, macro_f1: float) -> dict:
    return {"measured": True, "matched": matched, "macro_f1": macro_f1}


SETTINGS = Settings(lake_uri="file:///unused", mlflow_tracking_uri="sqlite:///unused.db")


def test_a_stable_window_asks_for_nothing() -> None:
    decision = decide(SETTINGS, _drift(1000, 0.05), _live(500, 0.48), 0.5)
    assert not decision.retrain and decision.reasons == [] and decision.not_judged == []


def test_each_crossed_threshold_is_a_reason_naming_its_number_and_setting() -> None:
    decision = decide(SETTINGS, _drift(1000, 0.7, levels_psi=0.3), _live(500, 0.31), 0.5)
    assert decision.retrain
    drift, levels, live = decision.reasons
    assert "price 0.70" in drift and "OCCUPANCY_MONITORING_MAX_FEATURE_PSI" in drift
    assert "beds" not in drift
    assert "0.30" in levels and "OCCUPANCY_MONITORING_MAX_PREDICTION_PSI" in levels
    assert "0.310 over 500" in live and "0.500" in live


def test_too_few_rows_or_matches_are_not_judged_and_ask_for_nothing() -> None:
    decision = decide(SETTINGS, _drift(50, 0.9), _live(20, 0.1), 0.5)
    assert not decision.retrain
    assert [line.split(":")[0] for line in decision.not_judged] == ["drift", "live performance"]
    assert "OCCUPANCY_MONITORING_MIN_ROWS (200)" in decision.not_judged[0]


def test_the_thresholds_are_settings(monkeypatch) -> None:
    monkeypatch.setenv("OCCUPANCY_MONITORING_MAX_FEATURE_PSI", "1.0")
    settings = Settings(lake_uri="file:///unused", mlflow_tracking_uri="sqlite:///unused.db")
    assert not decide(settings, _drift(1000, 0.7), None, 0.5).retrain


def test_the_report_escapes_what_it_did_not_write() -> None:
    performance = {
        "measured": True,
        "truth": "s3://lake/raw/<script>alert(1)</script>.csv",
        "matched": 2,
        "predicted_listings": 2,
        "truth_listings": 2,
        "macro_f1": 0.5,
        "f1_per_class": dict.fromkeys(LEVELS, 0.5),
        "confusion": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
    }
    decision = decide(SETTINGS, _drift(1000, 0.7), performance, 0.5)
    html = render_report(
        run_id="r1",
        drift=_drift(1000, 0.7),
        performance=performance,
        decision=decision,
        feature_psi_limit=0.25,
        generated_at="now",
    )
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.count('class="bar over"') == 1  # price over the line, beds under it
    assert 'id="confusion-plot"' in html and "Retraining requested" in html
