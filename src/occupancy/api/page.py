"""The prediction page's content: its fields, the listing a submitted form becomes, the answer.

The form's fields are named after the Inside Airbnb columns they fill, so a submitted form is a
listing as `POST /predict` takes it, and a refused value's column is the field to show it by.
Rendering is Jinja2 (templates/page.html) with autoescaping: nothing a user typed reaches the
page unescaped.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import jinja2

from occupancy.api.form import NEIGHBOURHOOD, FormChoices
from occupancy.api.holder import ServedModel
from occupancy.data.schema import CLASS_LOWER_BOUNDS, CLASSES

AMENITIES = "amenities"
# The page loads its own stylesheet and script and posts to itself; nothing else.
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@dataclass(frozen=True)
class PageField:
    """One input of the form: the Inside Airbnb column it fills and how it is asked."""

    name: str
    label: str
    kind: str  # "select", "number" or "checkbox"
    hint: str = ""
    decimal: bool = False  # the phone keyboard offers a decimal point
    optional: bool = False  # a select that may be left as "not given" (the model imputes it)


FIELDS: tuple[PageField, ...] = (
    PageField(NEIGHBOURHOOD, "Neighbourhood", "select"),
    PageField("latitude", "Latitude", "number", "Prefilled from the neighbourhood", decimal=True),
    PageField("longitude", "Longitude", "number", "Prefilled from the neighbourhood", decimal=True),
    PageField("property_type", "Property type", "select"),
    PageField("room_type", "Room type", "select"),
    PageField("accommodates", "Guests it sleeps", "number"),
    PageField("bedrooms", "Bedrooms", "number"),
    PageField("beds", "Beds", "number"),
    PageField("bathrooms", "Bathrooms", "number", decimal=True),
    PageField("price", "Price per night", "number", "In the listing's currency, e.g. 120", True),
    PageField("minimum_nights", "Minimum nights", "number"),
    PageField("maximum_nights", "Maximum nights", "number"),
    PageField("instant_bookable", "Guests can book instantly", "checkbox"),
    PageField("host_is_superhost", "The host is a Superhost", "checkbox"),
    PageField("host_listings_count", "Listings the host has", "number"),
    PageField("host_response_time", "The host usually answers", "select", optional=True),
)
_BY_NAME = {field.name: field for field in FIELDS}
LEVEL_COLOURS = dict(zip(CLASSES, ("grey", "orange", "blue", "green"), strict=True))


def default_values(choices: FormChoices) -> dict[str, str]:
    """The form as first shown: training medians (position from the first neighbourhood)."""
    values: dict[str, str] = {}
    neighbourhoods = choices.categories.get(NEIGHBOURHOOD, [])
    for field in FIELDS:
        median = choices.medians.get(field.name)
        if field.kind == "checkbox":
            values[field.name] = "t" if median is not None and median >= 0.5 else ""
        elif field.kind == "number" and median is not None:
            values[field.name] = _shown_number(median, field)
    if neighbourhoods:
        values[NEIGHBOURHOOD] = neighbourhoods[0]
        latitude, longitude = choices.location(neighbourhoods[0])
        for name, position in (("latitude", latitude), ("longitude", longitude)):
            if position is not None:
                values[name] = _shown_number(position, _BY_NAME[name])
    return values


def _shown_number(value: float, field: PageField) -> str:
    if field.name in ("latitude", "longitude"):
        return coordinate(value)
    return f"{value:g}"


def coordinate(value: float | None) -> str:
    """A latitude or longitude to five decimals (about a metre), trailing zeros dropped."""
    return "" if value is None else f"{value:.5f}".rstrip("0").rstrip(".")


def parse_form(body: bytes) -> tuple[dict[str, str], list[str]]:
    """An urlencoded form body as the fields' values and the ticked amenity tokens."""
    values: dict[str, str] = {}
    amenities: list[str] = []
    for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        if name == AMENITIES:
            amenities.append(value)
        elif name in _BY_NAME:
            values[name] = value.strip()
    return values, amenities


def listing_from_form(values: Mapping[str, str], amenities: Sequence[str]) -> dict[str, Any]:
    """The listing `POST /predict` would take for these fields: blanks left out (imputed), an
    unticked box is "f" (the host said no), amenities as a list."""
    listing: dict[str, Any] = {}
    for field in FIELDS:
        value = values.get(field.name, "")
        if field.kind == "checkbox":
            listing[field.name] = "t" if value else "f"
        elif value:
            listing[field.name] = value
    listing[AMENITIES] = list(amenities)
    return listing


def level_sentence(level: str) -> str:
    """What a level means in nights a year, from the product's bins (CLASS_LOWER_BOUNDS)."""
    index = CLASSES.index(level)
    low = CLASS_LOWER_BOUNDS[index]
    if index + 1 == len(CLASSES):
        return f"Likely booked more than {low - 1} nights a year."
    high = CLASS_LOWER_BOUNDS[index + 1] - 1
    if high == 0:
        return "Likely not booked at all in a year."
    return f"Likely booked {low} to {high} nights a year."


@dataclass(frozen=True)
class Answer:
    """A prediction as the page shows it."""

    level: str
    probabilities: dict[str, float]

    @property
    def sentence(self) -> str:
        return level_sentence(self.level)

    @property
    def colour(self) -> str:
        return LEVEL_COLOURS[self.level]

    def bars(self) -> list[tuple[str, str, int, str]]:
        """(level, the exact probability, bar width in whole percent, the percentage shown)."""
        return [
            (level, repr(p), max(0, min(100, round(p * 100))), f"{p * 100:.1f} %")
            for level, p in self.probabilities.items()
        ]


@functools.cache
def _templates() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("occupancy.api", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["coordinate"] = coordinate
    return environment


def render_form(
    served: ServedModel,
    choices: FormChoices,
    values: Mapping[str, str],
    amenities: Sequence[str],
    *,
    errors: Mapping[str, str] | None = None,
    answer: Answer | None = None,
) -> str:
    """The page with the form (values as given), its errors by field, and the answer if any."""
    test_f1 = served.metrics.get("test_f1_macro")
    return (
        _templates()
        .get_template("page.html")
        .render(
            fields=FIELDS,
            choices=choices,
            values=values,
            ticked=set(amenities),
            errors=errors or {},
            labels={field.name: field.label for field in FIELDS},
            answer=answer,
            model={
                "name": served.name,
                "version": served.version,
                "test_f1_macro": f"{test_f1:.3f}"
                if isinstance(test_f1, float) and math.isfinite(test_f1)
                else None,
                "trained_at": served.trained_at,
            },
        )
    )


def render_no_model(model_uri: str, last_error: str | None) -> str:
    """The page shown while no champion is serving: why, and how to make one."""
    return (
        _templates()
        .get_template("no_model.html")
        .render(model_uri=model_uri, last_error=last_error)
    )
