from __future__ import annotations

import pandas as pd
import pyarrow as pa

from occupancy.data import schema
from occupancy.data.clean import (
    MODEL_INPUT_COLUMNS,
    assign_split,
    clean_listings,
    occupancy_level,
    treat_frame,
)


def test_schema_contract_has_no_leaking_feature_and_79_columns() -> None:
    schema._check_contract()
    assert len(schema.RAW_COLUMNS) == 79
    assert not any(schema.is_leakage_column(c) for c in MODEL_INPUT_COLUMNS)


def test_leakage_policy_names_review_availability_and_estimates() -> None:
    for name in (
        "availability_30",
        "has_availability",
        "calendar_updated",
        "number_of_reviews_ltm",
        "review_scores_rating",
        "reviews_per_month",
        "first_review",
        "last_review",
        "estimated_revenue_l365d",
        "estimated_occupancy_l365d",
    ):
        assert schema.is_leakage_column(name), name
    assert not schema.is_leakage_column("price")


def test_occupancy_level_bins_match_the_design() -> None:
    nights = pa.array(["0", "1", "30", "31", "120", "121", "255", None])
    assert occupancy_level(nights).tolist() == [
        "zero",
        "low",
        "low",
        "mid",
        "mid",
        "high",
        "high",
        None,
    ]


def test_split_is_deterministic_grouped_by_host_and_near_70_15_15() -> None:
    hosts = pd.Series([str(h) for h in range(20_000) for _ in range(2)])
    raw = pd.DataFrame({"host_id": hosts, "id": [str(i) for i in range(len(hosts))]})
    split = pd.Series(assign_split(raw))
    assert split.equals(pd.Series(assign_split(raw)))
    assert split.groupby(hosts).nunique().max() == 1
    shares = split.value_counts(normalize=True)
    assert abs(shares["train"] - 0.70) < 0.02
    assert abs(shares["valid"] - 0.15) < 0.02
    assert abs(shares["test"] - 0.15) < 0.02


def test_split_falls_back_to_listing_id_without_host_and_keeps_18_digit_ids_exact() -> None:
    raw = pd.DataFrame(
        {"host_id": [None, None], "id": ["1234567890123456789", "1234567890123456788"]}
    )
    split = assign_split(raw)
    assert all(s in ("train", "valid", "test") for s in split)
    assert split.tolist() == assign_split(raw.iloc[::-1])[::-1].tolist()


def test_clean_listings_handles_raw_and_json_forms_identically() -> None:
    raw_strings = pd.DataFrame(
        [
            {
                "price": "$1,234.00",
                "host_response_rate": "95%",
                "instant_bookable": "t",
                "amenities": '["Wifi", "Kitchen"]',
                "bathrooms_text": "1.5 shared baths",
                "host_since": "2020-01-01",
                "last_scraped": "2021-01-01",
                "room_type": "Entire home/apt",
                "accommodates": "4",
            }
        ]
    )
    json_types = pd.DataFrame(
        [
            {
                "price": 1234.0,
                "host_response_rate": 95,
                "instant_bookable": True,
                "amenities": ["Wifi", "Kitchen"],
                "bathrooms_text": "1.5 shared baths",
                "host_since": "2020-01-01",
                "last_scraped": "2021-01-01",
                "room_type": "Entire home/apt",
                "accommodates": 4,
            }
        ]
    )
    a, b = clean_listings(raw_strings), clean_listings(json_types)
    pd.testing.assert_frame_equal(a, b)
    row = a.iloc[0]
    assert row["price"] == 1234.0
    assert row["host_response_rate"] == 95.0
    assert row["instant_bookable"] == 1.0
    assert row["amenities"] == "Wifi|Kitchen"
    assert row["amenities_count"] == 2.0
    assert row["bathrooms"] == 1.5 and row["bathrooms_shared"] == 1.0
    assert row["host_age_days"] == 366.0
    assert list(a.columns) == list(MODEL_INPUT_COLUMNS)


def test_clean_listings_turns_negative_counts_into_missing_but_keeps_coordinates() -> None:
    out = clean_listings(
        pd.DataFrame([{"accommodates": "-2", "longitude": "-74.1", "latitude": "40.7"}])
    )
    assert pd.isna(out.loc[0, "accommodates"])
    assert out.loc[0, "longitude"] == -74.1


def test_treat_frame_on_real_newark_file(real_data_dir) -> None:
    raw = pd.read_csv(
        real_data_dir / "newark_2025-09-30_listings.csv.gz", dtype=str, low_memory=False
    )
    treated = treat_frame(raw)
    assert len(treated) == len(raw)
    assert treated["occupancy_level"].value_counts().to_dict() == {
        "mid": 522,
        "high": 511,
        "low": 422,
        "zero": 417,
    }
    assert treated.groupby("host_id")["split"].nunique().max() == 1
    assert treated["price"].notna().mean() > 0.85
    assert treated["amenities_count"].median() > 10
