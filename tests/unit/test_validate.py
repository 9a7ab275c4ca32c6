from __future__ import annotations

import pandas as pd

from occupancy.data.validate import validate_rows


def _frame(**columns: list[object]) -> pd.DataFrame:
    return pd.DataFrame(columns, dtype="object")


def test_valid_rows_have_no_problem() -> None:
    frame = _frame(
        id=["1", "2"],
        price=["$10.00", ""],
        accommodates=["2", "4"],
        host_response_rate=["95%", "N/A"],
    )
    assert validate_rows(frame, frame.columns, seen_ids=set()).isna().all()


def test_wrong_type_names_column_expectation_and_value() -> None:
    frame = _frame(id=["1", "2"], accommodates=["2", "two"])
    problems = validate_rows(frame, frame.columns)
    assert pd.isna(problems[0])
    assert problems[1] == "column 'accommodates': expected a whole number, got 'two'"


def test_nan_negative_and_absurd_values_are_rejected() -> None:
    frame = _frame(
        id=["1", "2", "3", "4"],
        price=["NaN", "-$5.00", "$99,999,999.00", "$50.00"],
        latitude=["40", "40", "40", "inf"],
    )
    problems = validate_rows(frame, frame.columns)
    assert "expected a price" in problems[0]
    assert "between 0 and 1e+06" in problems[1]
    assert "got '$99,999,999.00'" in problems[2]
    assert problems[3] == "column 'latitude': expected a number, got 'inf'"


def test_duplicate_ids_are_caught_within_and_across_batches() -> None:
    seen: set[int] = set()
    first = validate_rows(_frame(id=["1", "2", "1"]), ["id"], seen_ids=seen)
    second = validate_rows(_frame(id=["2", "3"]), ["id"], seen_ids=seen)
    assert first.notna().tolist() == [False, False, True]
    assert second.notna().tolist() == [True, False]
    assert second[0] == "column 'id': duplicate listing id '2'"


def test_missing_id_and_target_are_required_but_features_may_be_empty() -> None:
    frame = _frame(id=["", "5"], estimated_occupancy_l365d=["10", ""], price=["", ""])
    problems = validate_rows(frame, frame.columns)
    assert problems[0] == "column 'id': value is required but empty"
    assert problems[1] == "column 'estimated_occupancy_l365d': value is required but empty"


def test_impossible_dates_are_rejected() -> None:
    problems = validate_rows(_frame(id=["1"], host_since=["2024-02-30"]), ["id", "host_since"])
    assert problems[0] == "column 'host_since': expected a real calendar date, got '2024-02-30'"


def test_unused_columns_are_never_judged() -> None:
    frame = _frame(id=["1"], review_scores_rating=["not a number"], brand_new_column=["x"])
    assert validate_rows(frame, ["id"]).isna().all()
