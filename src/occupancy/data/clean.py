"""Turn raw listings into the cleaned, model-ready columns; derive the target and the split.

`clean_listings` is stateless (nothing is learned from data), so the treat step and the API apply
exactly the same function. Everything that is fitted (imputation, vocabularies, encodings, scaling)
lives inside the model pipeline instead (see `occupancy.features`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from occupancy.data import parsing
from occupancy.data.schema import (
    CLASS_LOWER_BOUNDS,
    CLASSES,
    HOST_ID_COLUMN,
    ID_COLUMN,
    SPLIT_COLUMN,
    TARGET_COLUMN,
    TARGET_SOURCE_COLUMN,
)

NUMBER_COLUMNS: tuple[str, ...] = (
    "latitude",
    "longitude",
    "accommodates",
    "bedrooms",
    "beds",
    "minimum_nights",
    "maximum_nights",
    "minimum_nights_avg_ntm",
    "maximum_nights_avg_ntm",
    "host_listings_count",
    "host_total_listings_count",
    "calculated_host_listings_count",
    "calculated_host_listings_count_entire_homes",
    "calculated_host_listings_count_private_rooms",
    "calculated_host_listings_count_shared_rooms",
)
RATE_COLUMNS: tuple[str, ...] = ("host_response_rate", "host_acceptance_rate")
BOOL_COLUMNS: tuple[str, ...] = (
    "host_is_superhost",
    "host_has_profile_pic",
    "host_identity_verified",
    "instant_bookable",
)
CATEGORY_COLUMNS: tuple[str, ...] = (
    "room_type",
    "property_type",
    "neighbourhood_cleansed",
    "host_response_time",
)
TEXT_LENGTH_COLUMNS: tuple[str, ...] = (
    "name",
    "description",
    "neighborhood_overview",
    "host_about",
)
AMENITIES_COLUMN = "amenities"

# The cleaned columns, i.e. the model's input: numeric first, then categories, then amenities.
NUMERIC_FEATURES: tuple[str, ...] = (
    *NUMBER_COLUMNS,
    *RATE_COLUMNS,
    *BOOL_COLUMNS,
    "price",
    "bathrooms",
    "bathrooms_shared",
    "host_age_days",
    "has_license",
    "amenities_count",
    "host_verifications_count",
    *(f"{c}_length" for c in TEXT_LENGTH_COLUMNS),
)
CATEGORICAL_FEATURES: tuple[str, ...] = CATEGORY_COLUMNS
MODEL_INPUT_COLUMNS: tuple[str, ...] = (*NUMERIC_FEATURES, *CATEGORICAL_FEATURES, AMENITIES_COLUMN)


def _column(raw: pd.DataFrame, name: str) -> pd.Series:
    """A raw column, or an all-missing one when the input does not have it."""
    if name in raw.columns:
        return raw[name]
    return pd.Series(np.nan, index=raw.index, dtype="object")


def clean_listings(raw: pd.DataFrame) -> pd.DataFrame:
    """Cleaned model input (MODEL_INPUT_COLUMNS) from raw listings, row for row."""
    col = lambda name: _column(raw, name)  # noqa: E731 - short local alias keeps the table readable
    out: dict[str, pd.Series] = {}
    for name in NUMBER_COLUMNS:
        out[name] = parsing.parse_number(col(name))
    for name in RATE_COLUMNS:
        out[name] = parsing.parse_rate(col(name))
    for name in BOOL_COLUMNS:
        out[name] = parsing.parse_bool(col(name))
    out["price"] = parsing.parse_price(col("price"))

    baths = parsing.parse_bathrooms_text(col("bathrooms_text"))
    out["bathrooms"] = parsing.parse_number(col("bathrooms")).fillna(baths["count"])
    out["bathrooms_shared"] = baths["shared"]

    scraped = parsing.parse_date(col("last_scraped"))
    # Listings scored without a scrape date are aged against today, like a fresh scrape.
    reference = scraped.fillna(pd.Timestamp.now().normalize())
    out["host_age_days"] = (reference - parsing.parse_date(col("host_since"))).dt.days.astype(
        "float64"
    )
    out["has_license"] = parsing.text_length(col("license")).gt(0).astype("float64")

    amenities = parsing.parse_amenities(col(AMENITIES_COLUMN))
    out["amenities_count"] = parsing.count_items(amenities)
    verifications = parsing.parse_amenities(
        parsing.as_text(col("host_verifications")).str.replace("'", '"', regex=False)
    )
    out["host_verifications_count"] = parsing.count_items(verifications)
    for name in TEXT_LENGTH_COLUMNS:
        out[f"{name}_length"] = parsing.text_length(col(name))

    for name in CATEGORY_COLUMNS:
        out[name] = parsing.as_text(col(name)).astype("object")
    out[AMENITIES_COLUMN] = amenities.astype("object")

    cleaned = pd.DataFrame(out, index=raw.index)
    # Counts, prices and ages cannot be negative (coordinates can): a negative one is missing.
    non_negative = [c for c in NUMERIC_FEATURES if c not in ("latitude", "longitude")]
    cleaned[non_negative] = cleaned[non_negative].where(~(cleaned[non_negative] < 0))
    return cleaned[list(MODEL_INPUT_COLUMNS)]


def occupancy_level(nights: pd.Series) -> pd.Series:
    """Bin nights booked in the last 365 days into zero / low / mid / high."""
    values = parsing.parse_number(nights)
    bins = [*CLASS_LOWER_BOUNDS[1:]]
    codes = np.searchsorted(np.asarray(bins, dtype="float64"), values.to_numpy(), side="right")
    labels = pd.Series(np.asarray(CLASSES, dtype=object)[codes], index=nights.index)
    return labels.where(values.notna())


# Split boundaries over a 0..99 bucket: 70 % train, 15 % valid, 15 % test.
_SPLIT_EDGES = (70, 85)
_SPLIT_NAMES = np.asarray(["train", "valid", "test"], dtype=object)


def _splitmix64(values: np.ndarray) -> np.ndarray:
    """A fixed 64-bit mix (SplitMix64): stable across runs, machines and library versions."""
    with np.errstate(over="ignore"):
        z = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return np.asarray(z ^ (z >> np.uint64(31)), dtype=np.uint64)


def _id_keys(values: pd.Series) -> np.ndarray:
    """Identifiers as exact uint64 (18-digit ids do not fit a float); invalid ones are 0."""
    text = parsing.as_text(values).fillna("")
    valid = text.str.fullmatch(r"\d{1,19}")
    keys: np.ndarray = text.where(valid, "0").astype("uint64").to_numpy()
    return keys


def assign_split(raw: pd.DataFrame) -> pd.Series:
    """train / valid / test from a hash of host_id (fallback id): no host spans two splits."""
    host = _id_keys(_column(raw, HOST_ID_COLUMN))
    key = np.where(host > 0, host, _id_keys(_column(raw, ID_COLUMN)))
    buckets = _splitmix64(key) % np.uint64(100)
    codes = np.searchsorted(np.asarray(_SPLIT_EDGES), buckets.astype(np.int64), side="right")
    return pd.Series(_SPLIT_NAMES[codes], index=raw.index, name=SPLIT_COLUMN)


def treat_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """The processed table: id, host_id, cleaned features, target and split."""
    cleaned = clean_listings(raw)
    cleaned.insert(0, ID_COLUMN, _column(raw, ID_COLUMN).astype("str"))
    cleaned.insert(1, HOST_ID_COLUMN, _column(raw, HOST_ID_COLUMN).astype("str"))
    cleaned[TARGET_COLUMN] = occupancy_level(_column(raw, TARGET_SOURCE_COLUMN)).astype("object")
    cleaned[SPLIT_COLUMN] = assign_split(raw).astype("object")
    return cleaned
