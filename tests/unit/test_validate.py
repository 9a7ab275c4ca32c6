from __future__ import annotations

import pyarrow as pa

from occupancy.data.validate import validate_rows


def _batch(**columns: list[str | None]) -> pa.Table:
    return pa.table({name: pa.array(values, type=pa.string()) for name, values in columns.items()})


def _reasons(batch: pa.Table, columns=None, seen_ids=None) -> dict[int, str]:
    verdict = validate_rows(batch, columns or batch.column_names, seen_ids=seen_ids)
    return dict(zip(verdict.bad.nonzero()[0].tolist(), verdict.reasons, strict=True))


def test_valid_rows_have_no_problem() -> None:
    batch = _batch(
        id=["1", "2"],
        price=["$10.00", None],
        accommodates=["2", "4"],
        host_response_rate=["95%", "N/A"],
    )
    assert _reasons(batch, seen_ids=set()) == {}


def test_wrong_type_names_column_expectation_and_value() -> None:
    assert _reasons(_batch(id=["1", "2"], accommodates=["2", "two"])) == {
        1: "column 'accommodates': expected a whole number, got 'two'"
    }


def test_nan_negative_and_absurd_values_are_rejected() -> None:
    batch = _batch(
        id=["1", "2", "3", "4"],
        price=["NaN", "-$5.00", "$99,999,999.00", "$50.00"],
        latitude=["40", "40", "40", "inf"],
    )
    reasons = _reasons(batch)
    assert "expected a price" in reasons[0]
    assert "between 0 and 1e+06" in reasons[1]
    assert "got '$99,999,999.00'" in reasons[2]
    assert reasons[3] == "column 'latitude': expected a number, got 'inf'"


def test_duplicate_ids_are_caught_within_and_across_batches() -> None:
    seen: set[int] = set()
    first = _reasons(_batch(id=["1", "2", "1"]), seen_ids=seen)
    second = _reasons(_batch(id=["2", "3"]), seen_ids=seen)
    assert list(first) == [2]
    assert second == {0: "column 'id': duplicate listing id '2'"}


def test_missing_id_and_target_are_required_but_features_may_be_empty() -> None:
    batch = _batch(id=[None, "5"], estimated_occupancy_l365d=["10", None], price=[None, None])
    assert _reasons(batch) == {
        0: "column 'id': value is required but empty",
        1: "column 'estimated_occupancy_l365d': value is required but empty",
    }


def test_impossible_dates_are_rejected() -> None:
    assert _reasons(_batch(id=["1"], host_since=["2024-02-30"])) == {
        0: "column 'host_since': expected a real calendar date, got '2024-02-30'"
    }


def test_unused_columns_are_never_judged() -> None:
    batch = _batch(id=["1"], review_scores_rating=["not a number"], brand_new_column=["x"])
    assert _reasons(batch, ["id"]) == {}
