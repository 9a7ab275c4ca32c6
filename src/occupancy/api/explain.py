"""Why the model answered what it did for one listing, and how the answer moves with the price.

**Why** is measured, not read from the model, so it works for every model family alike: each
field the host filled in is replaced by a typical value (the training median the model's own
imputer learned for a number; the most common value of the validation rows logged with the model
for a category; the amenities at least half of those rows have) and the change in the winning
level's probability is that field's effect. A field that fills several model columns (the
amenities fill the vocabulary's columns and the count) is replaced as a whole, so the effect is
the host's field, not an encoder column's. Effects are not additive (fields interact); each says
what that one value did given all the others.

**What if** scores the same listing at prices from -50 % to +50 %. Both come from one batched
call of the model: 1 + fields + price points rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from occupancy.api.holder import ServedModel
from occupancy.data.clean import AMENITIES_COLUMN, CATEGORICAL_FEATURES, NUMERIC_FEATURES
from occupancy.data.parsing import AMENITY_SEPARATOR
from occupancy.data.rows import CleanedRows, rows_frame
from occupancy.data.schema import CLASSES

# Page field → the model input columns it fills (cleaned names). Only these are explained: the
# columns the page does not ask for are missing for every page listing, imputed the same way.
FIELD_COLUMNS: dict[str, tuple[str, ...]] = {
    "neighbourhood_cleansed": ("neighbourhood_cleansed",),
    "latitude": ("latitude",),
    "longitude": ("longitude",),
    "property_type": ("property_type",),
    "room_type": ("room_type",),
    "accommodates": ("accommodates",),
    "bedrooms": ("bedrooms",),
    "beds": ("beds",),
    "bathrooms": ("bathrooms",),
    "bathrooms_text": ("bathrooms_shared",),
    "price": ("price",),
    "minimum_nights": ("minimum_nights",),
    "maximum_nights": ("maximum_nights",),
    "instant_bookable": ("instant_bookable",),
    "host_is_superhost": ("host_is_superhost",),
    "host_listings_count": ("host_listings_count",),
    "host_response_time": ("host_response_time",),
    "host_since": ("host_age_days",),
    AMENITIES_COLUMN: (AMENITIES_COLUMN, "amenities_count"),
    "name": ("name_length",),
    "description": ("description_length",),
}
PRICE_FACTORS: tuple[float, ...] = tuple(np.round(np.linspace(0.5, 1.5, 11), 2))
SHOWN_EFFECTS = 6
_NUMERIC_INDEX = {name: i for i, name in enumerate(NUMERIC_FEATURES)}
_CATEGORICAL_INDEX = {name: i for i, name in enumerate(CATEGORICAL_FEATURES)}


@dataclass(frozen=True)
class Effect:
    """One field's effect on the winning level's probability (positive: it raised it)."""

    field: str
    change: float


@dataclass(frozen=True)
class PricePoint:
    """The listing's probabilities at one price."""

    factor: float
    price: float
    probabilities: dict[str, float]


@dataclass(frozen=True)
class Explanation:
    """The largest effects, strongest first, and the price curve (its base price marked)."""

    level: str
    effects: list[Effect]
    base_price: float
    price_given: bool  # False: the host left the price blank and the curve is around the median
    curve: list[PricePoint]


def typical_values(medians: Mapping[str, float], example: pd.DataFrame | None) -> dict[str, Any]:
    """The value each explained model column is replaced by (a column without one is skipped)."""
    typical: dict[str, Any] = dict(medians)
    if example is None:
        return typical
    for column in CATEGORICAL_FEATURES:
        if column in example:
            counts = example[column].dropna().astype(str).value_counts()
            if not counts.empty:
                typical[column] = counts.index[0]
    if AMENITIES_COLUMN in example:
        joined = example[AMENITIES_COLUMN].fillna("").astype(str)
        names = joined.str.split(AMENITY_SEPARATOR).explode()
        names = names[names != ""]
        # Spelled as the rows spell them; common to at least half the rows: a typical listing's.
        counts = names.value_counts()
        common = sorted(counts.index[counts >= len(joined) / 2])
        typical[AMENITIES_COLUMN] = AMENITY_SEPARATOR.join(common)
        typical["amenities_count"] = float(len(common))  # the count of that same listing
    return typical


def explain(
    served: ServedModel, cleaned: CleanedRows, given: Sequence[str], typical: Mapping[str, Any]
) -> Explanation:
    """Effects of the `given` page fields and the price curve for one cleaned listing."""
    if len(cleaned.amenities) != 1:
        raise ValueError(f"explain takes one cleaned listing, got {len(cleaned.amenities)}")
    fields = [
        name
        for name in given
        if name in FIELD_COLUMNS and all(c in typical for c in FIELD_COLUMNS[name])
    ]
    base_price = float(cleaned.numeric[0, _NUMERIC_INDEX["price"]])
    price_given = bool(np.isfinite(base_price))
    if not price_given:
        base_price = float(typical.get("price", np.nan))
    prices = [round(base_price * f, 2) for f in PRICE_FACTORS] if np.isfinite(base_price) else []
    variants = [{c: typical[c] for c in FIELD_COLUMNS[name]} for name in fields]
    variants += [{"price": price} for price in prices]
    rows = _with_variants(cleaned, variants)
    # The compiled fast path when the model has one (checked equal to the pipeline at load):
    # for these few dozen rows a DataFrame through the pipeline cost about 20 ms more.
    if served.fast is not None:
        probabilities = served.predict_rows(rows)
    else:
        probabilities = served.predict_proba(rows_frame(rows))

    winner = int(probabilities[0].argmax())
    changes = probabilities[0, winner] - probabilities[1 : 1 + len(fields), winner]
    effects = sorted(
        (Effect(name, float(change)) for name, change in zip(fields, changes, strict=True)),
        key=lambda effect: -abs(effect.change),
    )
    curve = [
        PricePoint(factor, price, dict(zip(CLASSES, map(float, row), strict=True)))
        for factor, price, row in zip(
            PRICE_FACTORS, prices, probabilities[1 + len(fields) :], strict=False
        )
    ]
    return Explanation(CLASSES[winner], effects[:SHOWN_EFFECTS], base_price, price_given, curve)


def _with_variants(cleaned: CleanedRows, variants: Sequence[Mapping[str, Any]]) -> CleanedRows:
    """The listing itself, then one copy of it per variant with that variant's values set."""
    count = 1 + len(variants)
    numeric = np.repeat(cleaned.numeric[:1], count, axis=0)
    categorical = [[column[0]] * count for column in cleaned.categorical]
    amenities = [cleaned.amenities[0]] * count
    for row, variant in enumerate(variants, start=1):
        for column, value in variant.items():
            if column in _NUMERIC_INDEX:
                numeric[row, _NUMERIC_INDEX[column]] = value
            elif column in _CATEGORICAL_INDEX:
                categorical[_CATEGORICAL_INDEX[column]][row] = value
            else:
                amenities[row] = value
    return CleanedRows(numeric, categorical, amenities)
