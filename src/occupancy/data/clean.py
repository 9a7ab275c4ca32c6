"""Turn raw listings into the cleaned, model-ready columns; derive the target and the split.

`clean_listings` is stateless (nothing is learned from data), so the treat step and the API apply
exactly the same function. Everything that is fitted (imputation, vocabularies, encodings, scaling)
lives inside the model pipeline instead (see `occupancy.features`).
"""

from __future__ import annotations

import functools
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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


RawListings: TypeAlias = pa.Table | pd.DataFrame


def _raw_table(raw: RawListings) -> pa.Table:
    """Raw listings as an Arrow table of raw-format strings (DataFrames may hold JSON types)."""
    return raw if isinstance(raw, pa.Table) else parsing.to_raw_strings(raw)


def _column(raw: pa.Table, name: str) -> pa.Array | pa.ChunkedArray:
    """A raw column as one string array, or an all-null one when the input does not have it."""
    if name in raw.column_names:
        return raw.column(name)
    return pa.nulls(raw.num_rows, pa.string())


def _floats(values: pa.Array) -> np.ndarray:
    return np.array(values.to_numpy(zero_copy_only=False), dtype="float64")  # a writable copy


def clean_listings(raw: RawListings) -> pd.DataFrame:
    """Cleaned model input (MODEL_INPUT_COLUMNS) from raw listings, row for row."""
    table = _raw_table(raw)
    col = functools.partial(_column, table)
    out: dict[str, Any] = {}
    for name in NUMBER_COLUMNS:
        out[name] = parsing.parse_number(col(name))
    for name in RATE_COLUMNS:
        out[name] = parsing.parse_rate(col(name))
    for name in BOOL_COLUMNS:
        out[name] = parsing.parse_bool(col(name))
    out["price"] = parsing.parse_price(col("price"))

    bath_count, bath_shared = parsing.parse_bathrooms_text(col("bathrooms_text"))
    out["bathrooms"] = pc.coalesce(parsing.parse_number(col("bathrooms")), bath_count)
    out["bathrooms_shared"] = bath_shared

    # Listings scored without a scrape date are aged against today, like a fresh scrape.
    today = pa.scalar(pd.Timestamp.now().normalize().to_pydatetime(), pa.timestamp("s"))
    scraped = pc.coalesce(parsing.parse_date(col("last_scraped")), today)
    host_since = parsing.parse_date(col("host_since"))
    age = pc.divide(pc.cast(pc.subtract(scraped, host_since), pa.int64()), 86_400)
    out["host_age_days"] = pc.cast(age, pa.float64())
    out["has_license"] = pc.cast(pc.greater(parsing.text_length(col("license")), 0), pa.float64())

    amenities = parsing.parse_amenities(col(AMENITIES_COLUMN))
    out["amenities_count"] = parsing.count_items(amenities)
    verifications = parsing.parse_amenities(
        pc.replace_substring(col("host_verifications"), "'", '"')
    )
    out["host_verifications_count"] = parsing.count_items(verifications)
    for name in TEXT_LENGTH_COLUMNS:
        out[f"{name}_length"] = parsing.text_length(col(name))

    frame = {}
    for name in NUMERIC_FEATURES:
        values = _floats(out[name])
        # Counts, prices and ages cannot be negative (coordinates can): a negative one is missing.
        if name not in ("latitude", "longitude"):
            values[values < 0] = np.nan
        frame[name] = values
    for name in CATEGORICAL_FEATURES:
        frame[name] = np.asarray(col(name).to_pandas(), dtype=object)
    frame[AMENITIES_COLUMN] = np.asarray(amenities.to_pandas(), dtype=object)
    return pd.DataFrame(frame, columns=list(MODEL_INPUT_COLUMNS))


def occupancy_level(nights: Any) -> np.ndarray:
    """Bin nights booked in the last 365 days into zero / low / mid / high (None if missing)."""
    values = _floats(parsing.parse_number(nights))
    bins = np.asarray(CLASS_LOWER_BOUNDS[1:], dtype="float64")
    labels = np.asarray(CLASSES, dtype=object)[np.searchsorted(bins, values, side="right")]
    labels[np.isnan(values)] = None
    return labels


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


def assign_split(raw: RawListings) -> np.ndarray:
    """train / valid / test from a hash of host_id (fallback id): no host spans two splits."""
    table = _raw_table(raw)
    host = parsing.id_keys(_column(table, HOST_ID_COLUMN))
    key = np.where(host > 0, host, parsing.id_keys(_column(table, ID_COLUMN)))
    buckets = _splitmix64(key) % np.uint64(100)
    codes = np.searchsorted(np.asarray(_SPLIT_EDGES), buckets.astype(np.int64), side="right")
    names: np.ndarray = _SPLIT_NAMES[codes]
    return names


def treat_frame(raw: RawListings) -> pd.DataFrame:
    """The processed table: id, host_id, cleaned features, target and split."""
    table = _raw_table(raw)
    cleaned = clean_listings(table)
    cleaned.insert(0, ID_COLUMN, np.asarray(_column(table, ID_COLUMN).to_pandas(), dtype=object))
    cleaned.insert(
        1, HOST_ID_COLUMN, np.asarray(_column(table, HOST_ID_COLUMN).to_pandas(), dtype=object)
    )
    cleaned[TARGET_COLUMN] = occupancy_level(_column(table, TARGET_SOURCE_COLUMN))
    cleaned[SPLIT_COLUMN] = assign_split(table)
    return cleaned
