"""The Inside Airbnb "detailed listings" contract: every column, its raw format, and its role.

This module is the single place that says which columns exist, how each one is written in the raw
CSV, which ones the model may see, and which ones leak the target. Ingest validation, cleaning,
the synthetic generator and the API all read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """How a raw column is written in the Inside Airbnb CSV."""

    ID = "id"  # positive integer identifier
    INT = "int"  # whole number
    FLOAT = "float"  # decimal number
    PRICE = "price"  # "$1,234.00"
    RATE = "rate"  # "95%" or "N/A"
    BOOL = "bool"  # "t" / "f"
    DATE = "date"  # ISO "YYYY-MM-DD"
    CATEGORY = "category"  # a short label from a small set
    TEXT = "text"  # free text, may hold newlines and commas
    JSON_LIST = "json_list"  # '["Wifi", "Kitchen"]'


@dataclass(frozen=True)
class Column:
    """One raw column: its name, raw format and, for numbers, the range a real listing can have."""

    name: str
    kind: Kind
    low: float | None = None
    high: float | None = None


def _c(name: str, kind: Kind, low: float | None = None, high: float | None = None) -> Column:
    return Column(name, kind, low, high)


K = Kind
# The 79 columns of the 2025 schema, in file order. Ranges are generous physical limits: a value
# outside them is a data error (a typo, a unit mix-up), not an unusual listing.
RAW_COLUMNS: tuple[Column, ...] = (
    _c("id", K.ID),
    _c("listing_url", K.TEXT),
    _c("scrape_id", K.INT),
    _c("last_scraped", K.DATE),
    _c("source", K.CATEGORY),
    _c("name", K.TEXT),
    _c("description", K.TEXT),
    _c("neighborhood_overview", K.TEXT),
    _c("picture_url", K.TEXT),
    _c("host_id", K.ID),
    _c("host_url", K.TEXT),
    _c("host_name", K.TEXT),
    _c("host_since", K.DATE),
    _c("host_location", K.TEXT),
    _c("host_about", K.TEXT),
    _c("host_response_time", K.CATEGORY),
    _c("host_response_rate", K.RATE, 0, 100),
    _c("host_acceptance_rate", K.RATE, 0, 100),
    _c("host_is_superhost", K.BOOL),
    _c("host_thumbnail_url", K.TEXT),
    _c("host_picture_url", K.TEXT),
    _c("host_neighbourhood", K.TEXT),
    _c("host_listings_count", K.INT, 0, 100_000),
    _c("host_total_listings_count", K.INT, 0, 100_000),
    _c("host_verifications", K.TEXT),
    _c("host_has_profile_pic", K.BOOL),
    _c("host_identity_verified", K.BOOL),
    _c("neighbourhood", K.TEXT),
    _c("neighbourhood_cleansed", K.CATEGORY),
    _c("neighbourhood_group_cleansed", K.CATEGORY),
    _c("latitude", K.FLOAT, -90, 90),
    _c("longitude", K.FLOAT, -180, 180),
    _c("property_type", K.CATEGORY),
    _c("room_type", K.CATEGORY),
    _c("accommodates", K.INT, 0, 100),
    _c("bathrooms", K.FLOAT, 0, 100),
    _c("bathrooms_text", K.CATEGORY),
    _c("bedrooms", K.FLOAT, 0, 100),
    _c("beds", K.FLOAT, 0, 200),
    _c("amenities", K.JSON_LIST),
    _c("price", K.PRICE, 0, 1_000_000),
    _c("minimum_nights", K.INT, 0, 100_000),
    _c("maximum_nights", K.INT, 0, 100_000_000),
    _c("minimum_minimum_nights", K.FLOAT, 0, 100_000),
    _c("maximum_minimum_nights", K.FLOAT, 0, 100_000),
    _c("minimum_maximum_nights", K.FLOAT, 0, 100_000_000),
    _c("maximum_maximum_nights", K.FLOAT, 0, 100_000_000),
    _c("minimum_nights_avg_ntm", K.FLOAT, 0, 100_000),
    _c("maximum_nights_avg_ntm", K.FLOAT, 0, 100_000_000),
    _c("calendar_updated", K.TEXT),
    _c("has_availability", K.BOOL),
    _c("availability_30", K.INT, 0, 30),
    _c("availability_60", K.INT, 0, 60),
    _c("availability_90", K.INT, 0, 90),
    _c("availability_365", K.INT, 0, 366),
    _c("calendar_last_scraped", K.DATE),
    _c("number_of_reviews", K.INT, 0, 1_000_000),
    _c("number_of_reviews_ltm", K.INT, 0, 1_000_000),
    _c("number_of_reviews_l30d", K.INT, 0, 1_000_000),
    _c("availability_eoy", K.INT, 0, 366),
    _c("number_of_reviews_ly", K.INT, 0, 1_000_000),
    _c("estimated_occupancy_l365d", K.INT, 0, 366),
    _c("estimated_revenue_l365d", K.FLOAT, 0, 1e9),
    _c("first_review", K.DATE),
    _c("last_review", K.DATE),
    _c("review_scores_rating", K.FLOAT, 0, 5),
    _c("review_scores_accuracy", K.FLOAT, 0, 5),
    _c("review_scores_cleanliness", K.FLOAT, 0, 5),
    _c("review_scores_checkin", K.FLOAT, 0, 5),
    _c("review_scores_communication", K.FLOAT, 0, 5),
    _c("review_scores_location", K.FLOAT, 0, 5),
    _c("review_scores_value", K.FLOAT, 0, 5),
    _c("license", K.TEXT),
    _c("instant_bookable", K.BOOL),
    _c("calculated_host_listings_count", K.INT, 0, 100_000),
    _c("calculated_host_listings_count_entire_homes", K.INT, 0, 100_000),
    _c("calculated_host_listings_count_private_rooms", K.INT, 0, 100_000),
    _c("calculated_host_listings_count_shared_rooms", K.INT, 0, 100_000),
    _c("reviews_per_month", K.FLOAT, 0, 10_000),
)

COLUMNS_BY_NAME: dict[str, Column] = {c.name: c for c in RAW_COLUMNS}
RAW_COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in RAW_COLUMNS)

ID_COLUMN = "id"
HOST_ID_COLUMN = "host_id"
TARGET_SOURCE_COLUMN = "estimated_occupancy_l365d"
TARGET_COLUMN = "occupancy_level"
SPLIT_COLUMN = "split"
# The processed table's source of each row, `<city>_<scrape date>` (occupancy.sources); not the
# raw file's own `source` column ("city scrape"), which is no feature and is not kept.
SOURCE_COLUMN = "source"

# Occupancy bins over estimated_occupancy_l365d (nights booked in the last 365 days).
CLASSES: tuple[str, ...] = ("zero", "low", "mid", "high")
CLASS_LOWER_BOUNDS: tuple[int, ...] = (0, 1, 31, 121)

# Columns that leak the target. Inside Airbnb derives the occupancy estimate from reviews and the
# calendar, so anything about reviews, availability or past bookings describes the answer, not the
# listing. A cold-start model must never see these. Matched by prefix or exact name.
LEAKAGE_PREFIXES: tuple[str, ...] = (
    "availability_",
    "calendar_",
    "number_of_reviews",
    "review_scores_",
    "estimated_",
)
LEAKAGE_NAMES: frozenset[str] = frozenset(
    {"has_availability", "reviews_per_month", "first_review", "last_review"}
)


def is_leakage_column(name: str) -> bool:
    """True when the column describes what happened to a listing rather than what it is."""
    return name in LEAKAGE_NAMES or name.startswith(LEAKAGE_PREFIXES)


# Raw columns the cleaning step reads to build model features (none of them leaks the target).
FEATURE_SOURCE_COLUMNS: tuple[str, ...] = (
    "last_scraped",
    "name",
    "description",
    "neighborhood_overview",
    "host_since",
    "host_about",
    "host_response_time",
    "host_response_rate",
    "host_acceptance_rate",
    "host_is_superhost",
    "host_listings_count",
    "host_total_listings_count",
    "host_verifications",
    "host_has_profile_pic",
    "host_identity_verified",
    "neighbourhood_cleansed",
    "latitude",
    "longitude",
    "property_type",
    "room_type",
    "accommodates",
    "bathrooms",
    "bathrooms_text",
    "bedrooms",
    "beds",
    "amenities",
    "price",
    "minimum_nights",
    "maximum_nights",
    "minimum_nights_avg_ntm",
    "maximum_nights_avg_ntm",
    "license",
    "instant_bookable",
    "calculated_host_listings_count",
    "calculated_host_listings_count_entire_homes",
    "calculated_host_listings_count_private_rooms",
    "calculated_host_listings_count_shared_rooms",
)

# Columns a file must have to be scored, and additionally to be trained on.
REQUIRED_FOR_SCORING: tuple[str, ...] = (ID_COLUMN, HOST_ID_COLUMN, *FEATURE_SOURCE_COLUMNS)
REQUIRED_FOR_TRAINING: tuple[str, ...] = (*REQUIRED_FOR_SCORING, TARGET_SOURCE_COLUMN)


def _check_contract() -> None:
    leaking = [c for c in FEATURE_SOURCE_COLUMNS if is_leakage_column(c)]
    unknown = [c for c in REQUIRED_FOR_TRAINING if c not in COLUMNS_BY_NAME]
    if leaking or unknown:  # pragma: no cover - guards edits to the lists above
        raise AssertionError(f"schema contract broken: leaking={leaking} unknown={unknown}")
