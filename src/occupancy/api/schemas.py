"""Request and response bodies. A listing accepts every Inside Airbnb column, nothing else.

Each field takes the JSON type or the raw Inside Airbnb string for the same value ("$1,234.00" or
1234, "t" or true, a JSON-list string or a list), so a CSV row can be posted as it is. NaN and
Infinity are refused here; the value formats are checked by the same contract as ingest.
"""

from __future__ import annotations

import difflib
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from occupancy.data.schema import CLASSES, RAW_COLUMN_NAMES

MAX_LISTINGS = 1000

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
FieldValue = Annotated[
    str | bool | int | FiniteFloat | list[str] | None,
    Field(description="JSON value or the raw Inside Airbnb string"),
]

# One optional field per Inside Airbnb column; unknown fields are refused (and named).
Listing: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "Listing",
    __config__=ConfigDict(extra="forbid"),
    **{name: (FieldValue, None) for name in RAW_COLUMN_NAMES},
)


def closest_column(name: str) -> str | None:
    """The Inside Airbnb column a misspelled field most likely meant."""
    found = difflib.get_close_matches(name, RAW_COLUMN_NAMES, n=1, cutoff=0.6)
    return found[0] if found else None


class PredictRequest(BaseModel):
    """A batch of raw listings to score."""

    model_config = ConfigDict(extra="forbid")
    listings: list[Listing] = Field(min_length=1, max_length=MAX_LISTINGS)  # type: ignore[valid-type]


class Prediction(BaseModel):
    """The occupancy level of one listing and the probability of each level."""

    id: str | None
    occupancy_level: str = Field(description=f"one of {', '.join(CLASSES)}")
    probabilities: dict[str, float]


class ModelRef(BaseModel):
    """Which registered model version answered."""

    name: str
    version: str


class PredictResponse(BaseModel):
    """Predictions in request order and the model version that made them."""

    model: ModelRef
    predictions: list[Prediction]


class ModelInfo(BaseModel):
    """The served model and the state of the background reloader."""

    name: str
    alias: str
    version: str | None
    run_id: str | None
    trained_at: str | None
    loaded_at: str | None
    metrics: dict[str, Any]
    fast_path: bool
    last_check_at: str | None
    last_error: str | None


class ErrorDetail(BaseModel):
    """One problem with a request: where it is and what was expected."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorResponse(BaseModel):
    """Body of every 4xx/5xx answer."""

    detail: list[ErrorDetail] | str
