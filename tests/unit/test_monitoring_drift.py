"""Reference profiles and drift on the repository's real Inside Airbnb files.

The same file against itself shows no drift; prices x1.5 move price and nothing else; another
city moves location; the statistics agree with SciPy's on the raw values.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from occupancy.data.clean import MODEL_INPUT_COLUMNS, NUMERIC_FEATURES, treat_frame
from occupancy.monitoring.drift import (
    categorical_drift,
    input_drift,
    numeric_drift,
    prediction_drift,
    psi,
)
from occupancy.monitoring.profile import VERSION, check_profile, reference_profile

NEWARK = "newark_2025-09-30_listings.csv.gz"
JERSEY_CITY = "jersey-city_2025-09-25_listings.csv.gz"
STABLE = 0.1  # the usual PSI reading: under 0.1 no real shift
LARGE = 0.25  # over 0.25 a large one


def _table(real_data_dir: Path, name: str) -> pd.DataFrame:
    return treat_frame(pd.read_csv(real_data_dir / name, dtype=str))


@pytest.fixture(scope="module")
def newark(real_data_dir: Path) -> pd.DataFrame:
    return _table(real_data_dir, NEWARK)


@pytest.fixture(scope="module")
def profile(newark: pd.DataFrame) -> dict:
    """The whole Newark file profiled as a training split. (Not its own train split: the split is
    grouped by host, so host facts such as host_age_days really differ between Newark's splits,
    PSI 0.38, and the file against itself would not be the same data.)"""
    X = newark[list(MODEL_INPUT_COLUMNS)]
    return reference_profile(X, newark["occupancy_level"], newark["occupancy_level"])


def _drift(profile: dict, window: pd.DataFrame) -> dict[str, float]:
    return {d.feature: d.psi for d in input_drift(profile, window[list(MODEL_INPUT_COLUMNS)])}


def test_the_profile_is_json_with_shares_that_add_up(profile: dict) -> None:
    again = json.loads(json.dumps(profile))
    check_profile(again, "the profile")
    assert again["version"] == VERSION
    for name in NUMERIC_FEATURES:
        numeric = again["numeric"][name]
        if numeric["rows"]:
            assert sum(numeric["shares"]) == pytest.approx(1.0)
            assert len(numeric["shares"]) == len(numeric["edges"]) + 1
    for categorical in again["categorical"].values():
        assert sum(categorical["shares"].values()) == pytest.approx(1.0)
    assert sum(again["classes"].values()) == pytest.approx(1.0)
    assert 0 < again["amenities"]["wifi"] <= 1
    with pytest.raises(ValueError, match="the file x is not a reference profile of version 1"):
        check_profile({"version": 99}, "the file x")


def test_the_same_file_against_itself_shows_no_drift(newark: pd.DataFrame, profile: dict) -> None:
    drift = _drift(profile, newark)
    assert max(drift.values()) < 0.001, sorted(drift.items(), key=lambda kv: -kv[1])[:3]
    # Every other listing of it: sampling noise only, under the stable line.
    half = _drift(profile, newark.iloc[::2])
    assert max(half.values()) < STABLE, sorted(half.items(), key=lambda kv: -kv[1])[:3]


def test_prices_raised_by_half_drift_on_price_and_nothing_else(
    newark: pd.DataFrame, profile: dict
) -> None:
    shifted = newark.assign(price=lambda f: f["price"] * 1.5)
    drift = _drift(profile, shifted)
    ranked = sorted(drift, key=lambda name: -drift[name])
    assert ranked[0] == "price" and drift["price"] > LARGE
    assert all(drift[name] < STABLE for name in ranked[1:]), ranked[:3]


def test_another_city_drifts_on_where_the_listings_are(real_data_dir: Path, profile: dict) -> None:
    jersey_city = _table(real_data_dir, JERSEY_CITY)
    drift = _drift(profile, jersey_city)
    for name in ("neighbourhood_cleansed", "latitude", "longitude"):
        assert drift[name] > LARGE, (name, drift[name])


def test_ks_sees_no_shift_of_the_file_against_itself_on_counts_and_flags_too(
    newark: pd.DataFrame, profile: dict
) -> None:
    # Counts and flags repeat values, so the sketch's CDF steps: the statistic must compare the
    # window with the reference both at and just below each value (else a flag "drifts" by 0.5).
    half = newark.iloc[::2]
    for name, reference in profile["numeric"].items():
        if reference["rows"]:
            drift = numeric_drift(name, reference, half[name])
            exact = stats.ks_2samp(newark[name].dropna(), half[name].dropna()).statistic
            assert drift.statistic is not None and drift.statistic < exact + 0.02, name


def test_ks_matches_scipy_on_the_raw_values(newark: pd.DataFrame, profile: dict) -> None:
    window = newark.iloc[::3].assign(price=lambda f: f["price"] * 1.2)
    ours = numeric_drift("price", profile["numeric"]["price"], window["price"])
    exact = stats.ks_2samp(newark["price"].dropna(), window["price"].dropna())
    # The reference is a 101-point quantile sketch, not every value: within a percentile.
    assert ours.statistic == pytest.approx(exact.statistic, abs=0.015)
    assert (ours.p_value < 0.01) == (exact.pvalue < 0.01)


def test_chi_square_flags_a_changed_category_mix(newark: pd.DataFrame, profile: dict) -> None:
    test = newark.iloc[::3]
    same = categorical_drift("room_type", profile["categorical"]["room_type"], test["room_type"])
    assert same.p_value is not None and same.p_value > 0.001
    private = test[test["room_type"] == "Private room"]
    only = categorical_drift("room_type", profile["categorical"]["room_type"], private["room_type"])
    assert only.p_value is not None and only.p_value < 1e-6 and only.psi > LARGE


def test_a_feature_missing_everywhere_and_an_empty_window(newark: pd.DataFrame) -> None:
    nothing = pd.Series([np.nan] * 50)
    reference = reference_profile(
        newark[list(MODEL_INPUT_COLUMNS)].assign(price=np.nan),
        newark["occupancy_level"],
        newark["occupancy_level"],
    )["numeric"]["price"]
    assert numeric_drift("price", reference, nothing).psi == pytest.approx(0.0, abs=1e-9)
    assert numeric_drift("price", reference, pd.Series([100.0] * 50)).psi > LARGE
    empty = numeric_drift("price", reference, pd.Series([], dtype="float64"))
    assert np.isnan(empty.psi) and empty.window_rows == 0


def test_psi_is_zero_for_equal_mixes_and_grows_with_the_shift() -> None:
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert 0 < psi([0.5, 0.5], [0.6, 0.4]) < psi([0.5, 0.5], [0.9, 0.1])
    assert np.isfinite(psi([1.0, 0.0], [0.0, 1.0]))  # empty bins are floored, not infinite


def test_the_predicted_levels_mix_shift(profile: dict) -> None:
    same = ["zero", "low", "mid", "high"]
    reference = {"zero": 0.25, "low": 0.25, "mid": 0.25, "high": 0.25}
    assert prediction_drift(reference, same * 10).psi == pytest.approx(0.0, abs=1e-12)
    assert prediction_drift(reference, ["zero"] * 40).psi > LARGE
