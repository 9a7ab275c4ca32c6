"""The fitted half of feature engineering: one scikit-learn preprocessor inside every model.

Imputation, the top-K amenity vocabulary, category encoding and scaling are learned from the
training split only and travel inside the logged model, so the model takes a cleaned listing
(`occupancy.data.clean.MODEL_INPUT_COLUMNS`) and nothing is fitted outside it.
"""

from __future__ import annotations

from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from occupancy.data.clean import AMENITIES_COLUMN, CATEGORICAL_FEATURES, NUMERIC_FEATURES
from occupancy.data.parsing import AMENITY_SEPARATOR

# Rare categories (fewer listings than this) share one "infrequent" column instead of their own.
MIN_CATEGORY_FREQUENCY = 10
MAX_CATEGORIES = 40


def build_preprocessor(*, scale: bool, top_amenities: int = 60) -> ColumnTransformer:
    """Impute, encode and (for linear and neural models) scale the cleaned listing columns."""
    numeric_steps: list[tuple[str, object]] = [
        ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True))
    ]
    if scale:
        numeric_steps.append(("scale", StandardScaler()))
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
            (
                "encode",
                OneHotEncoder(
                    handle_unknown="infrequent_if_exist",
                    min_frequency=MIN_CATEGORY_FREQUENCY,
                    max_categories=MAX_CATEGORIES,
                    sparse_output=False,
                ),
            ),
        ]
    )
    # Amenities arrive as one '|'-joined string; a regex tokenizer keeps the model skops-safe,
    # and lower-casing here folds spelling variants ("WiFi", "Wifi") into one vocabulary entry.
    amenities = CountVectorizer(
        token_pattern=rf"[^{AMENITY_SEPARATOR}]+",
        lowercase=True,
        binary=True,
        max_features=top_amenities,
        dtype="float64",
    )
    return ColumnTransformer(
        [
            ("numeric", Pipeline(numeric_steps), list(NUMERIC_FEATURES)),
            ("categorical", categorical, list(CATEGORICAL_FEATURES)),
            ("amenities", amenities, AMENITIES_COLUMN),
        ],
        sparse_threshold=0.0,
        verbose_feature_names_out=True,
    )
