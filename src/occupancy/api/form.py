"""What the prediction page offers, read from the served model itself, never from a list of ours.

The fitted pipeline (`occupancy.features.build_preprocessor`) carries the choices: the one-hot
encoder's categories (neighbourhoods, property and room types), the amenity vocabulary of the
CountVectorizer and the numeric imputer's training medians (the form's defaults). What the fitted
pipeline does not keep (how often each amenity occurs, an amenity's usual spelling, where each
neighbourhood lies) comes from the validation rows logged with the model as its input example.
A new champion therefore brings its own form.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from occupancy.data.clean import AMENITIES_COLUMN, CATEGORICAL_FEATURES, NUMERIC_FEATURES
from occupancy.data.parsing import AMENITY_SEPARATOR

NEIGHBOURHOOD = "neighbourhood_cleansed"
# What the categorical imputer fills in for a missing value: a value of the encoder, not a choice.
_IMPUTED = "missing"


@dataclass(frozen=True)
class Amenity:
    """One amenity of the model's vocabulary: the token it matches and how people spell it."""

    token: str
    label: str


@dataclass(frozen=True)
class FormChoices:
    """The page's choices and defaults for one served model version."""

    categories: dict[str, list[str]]  # CATEGORICAL_FEATURES column → known values, sorted
    amenities: list[Amenity]  # most frequent in the logged example first
    medians: dict[str, float]  # NUMERIC_FEATURES column → training median
    # neighbourhood → (latitude, longitude) medians of the logged example's rows there
    locations: dict[str, tuple[float, float]] = field(default_factory=dict)

    def location(self, neighbourhood: str | None) -> tuple[float | None, float | None]:
        """The neighbourhood's median position, else the training medians."""
        if neighbourhood in self.locations:
            return self.locations[neighbourhood]
        return self.medians.get("latitude"), self.medians.get("longitude")


def form_choices(model: Any, example: pd.DataFrame | None) -> FormChoices:
    """The choices of a pipeline shaped like `build_preprocessor`'s; a part it lacks is empty."""
    blocks = _fitted_blocks(model)
    return FormChoices(
        categories=_categories(blocks.get("categorical")),
        amenities=_amenities(blocks.get("amenities"), example),
        medians=_medians(blocks.get("numeric")),
        locations=_locations(example),
    )


def _fitted_blocks(model: Any) -> dict[str, Any]:
    """The fitted ColumnTransformer's transformers by name ({} for any other model shape)."""
    try:
        preprocess = model.named_steps["preprocess"]
        return {name: transformer for name, transformer, _ in preprocess.transformers_}
    except (AttributeError, KeyError, TypeError):
        return {}


def _categories(block: Any) -> dict[str, list[str]]:
    try:
        encoder = block.named_steps["encode"]
        categories = encoder.categories_
    except (AttributeError, KeyError, TypeError):
        return {}
    # categories_ lists every value seen in training, the rare ones folded into "infrequent" too:
    # the model knows them all, so the form offers them all.
    return {
        column: sorted(str(value) for value in values if str(value) != _IMPUTED)
        for column, values in zip(CATEGORICAL_FEATURES, categories, strict=True)
    }


def _medians(block: Any) -> dict[str, float]:
    try:
        statistics = block.named_steps["impute"].statistics_
    except (AttributeError, KeyError, TypeError):
        return {}
    return {
        column: float(value)
        for column, value in zip(NUMERIC_FEATURES, statistics, strict=True)
        if math.isfinite(float(value))
    }


def _amenities(vectorizer: Any, example: pd.DataFrame | None) -> list[Amenity]:
    """The vocabulary, most frequent in the example first (then alphabetical), as people spell it."""
    tokens = sorted(str(token) for token in getattr(vectorizer, "vocabulary_", {}))
    counts: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = {}
    if example is not None and AMENITIES_COLUMN in example:
        for joined in example[AMENITIES_COLUMN].dropna():
            for name in str(joined).split(AMENITY_SEPARATOR):
                if name:
                    counts[name.lower()] += 1
                    spellings.setdefault(name.lower(), Counter())[name] += 1
    tokens.sort(key=lambda token: -counts[token])  # stable: ties stay alphabetical
    return [
        Amenity(
            token=token,
            label=spellings[token].most_common(1)[0][0]
            if token in spellings
            else token[:1].upper() + token[1:],
        )
        for token in tokens
    ]


def _locations(example: pd.DataFrame | None) -> dict[str, tuple[float, float]]:
    if example is None or not {NEIGHBOURHOOD, "latitude", "longitude"} <= set(example.columns):
        return {}
    positions = example[[NEIGHBOURHOOD, "latitude", "longitude"]].dropna()
    medians = positions.groupby(NEIGHBOURHOOD)[["latitude", "longitude"]].median()
    return {
        str(name): (float(row.latitude), float(row.longitude)) for name, row in medians.iterrows()
    }
