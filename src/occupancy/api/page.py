"""The prediction page's content: its fields, the listing a submitted form becomes, the answer.

The form's fields are named after the Inside Airbnb columns they fill, so a submitted form is a
listing as `POST /predict` takes it, and a refused value's column is the field to show it by.
Rendering is Jinja2 (templates/page.html) with autoescaping: nothing a user typed reaches the
page unescaped.
"""

from __future__ import annotations

import base64
import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qsl

import jinja2

from occupancy.api.batch import BatchResult
from occupancy.api.explain import Explanation
from occupancy.api.form import NEIGHBOURHOOD, FormChoices
from occupancy.api.holder import ServedModel
from occupancy.api.price_chart import PriceChart, price_chart
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
    kind: str  # "select", "number", "years", "checkbox", "text" or "textarea"
    hint: str = ""
    decimal: bool = False  # the phone keyboard offers a decimal point
    optional: bool = False  # a select that may be left as "not given" (the model imputes it)
    ticked: str = "t"  # a checkbox's value in the listing when ticked, and when not
    unticked: str = "f"


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
    # Inside Airbnb says it in bathrooms_text ("1 shared bath"); only the word matters here.
    PageField(
        "bathrooms_text",
        "The bathroom is shared",
        "checkbox",
        ticked="shared bath",
        unticked="private bath",
    ),
    PageField("price", "Price per night", "number", "In the listing's currency, e.g. 120", True),
    PageField("minimum_nights", "Minimum nights", "number"),
    PageField("maximum_nights", "Maximum nights", "number"),
    PageField("instant_bookable", "Guests can book instantly", "checkbox"),
    PageField("host_is_superhost", "The host is a Superhost", "checkbox"),
    PageField("host_listings_count", "Listings the host has", "number"),
    PageField("host_response_time", "The host usually answers", "select", optional=True),
    # The model reads the host's age from host_since: years become that date, counted from today.
    PageField("host_since", "Years hosting", "years", "Since the host joined", decimal=True),
    PageField("name", "Listing title", "text", "Optional"),
    PageField("description", "Description", "textarea", "Optional"),
)
_BY_NAME = {field.name: field for field in FIELDS}
DAYS_PER_YEAR = 365.25
MAX_YEARS_HOSTING = 100
# How a field reads in the "why" list, where the form's question would not.
WHY_LABELS = {
    AMENITIES: "Amenities",
    "bathrooms_text": "Shared bathroom",
    "instant_bookable": "Instant booking",
    "host_is_superhost": "Superhost",
    "host_response_time": "Host's response time",
}
LEVEL_COLOURS = dict(zip(CLASSES, ("grey", "orange", "blue", "green"), strict=True))


def default_values(choices: FormChoices) -> dict[str, str]:
    """The form as first shown: training medians (position from the first neighbourhood)."""
    values: dict[str, str] = {}
    neighbourhoods = choices.categories.get(NEIGHBOURHOOD, [])
    for field in FIELDS:
        median = choices.medians.get(field.name)
        if field.name == "bathrooms_text":
            median = choices.medians.get("bathrooms_shared")
        elif field.name == "host_since":
            age = choices.medians.get("host_age_days")
            median = None if age is None else age / DAYS_PER_YEAR
        if field.kind == "checkbox":
            values[field.name] = "t" if median is not None and median >= 0.5 else ""
        elif field.kind in ("number", "years") and median is not None:
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
    if field.kind == "years":
        return f"{value:.1f}".removesuffix(".0")
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
            # Free text as typed (ingest never trims; its length is a feature); the rest trimmed.
            values[name] = value if _BY_NAME[name].kind in ("text", "textarea") else value.strip()
    return values, amenities


class FormValueError(ValueError):
    """A value the page itself converts (years hosting) that is not what the field asks."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def listing_from_form(
    values: Mapping[str, str], amenities: Sequence[str], *, today: date | None = None
) -> dict[str, Any]:
    """The listing `POST /predict` would take for these fields: blanks left out (imputed), an
    unticked box is the host's no, years hosting as the date the host joined, amenities as a list.
    """
    listing: dict[str, Any] = {}
    for field in FIELDS:
        value = values.get(field.name, "")
        if field.kind == "checkbox":
            listing[field.name] = field.ticked if value else field.unticked
        elif field.kind == "years" and value:
            listing[field.name] = _joined(value, field, today or date.today())
        elif value:
            listing[field.name] = value
    listing[AMENITIES] = list(amenities)
    return listing


def given_fields(values: Mapping[str, str]) -> list[str]:
    """The fields the host answered: every box (unticked is an answer), filled-in values, amenities."""
    return [f.name for f in FIELDS if f.kind == "checkbox" or values.get(f.name)] + [AMENITIES]


def _joined(value: str, field: PageField, today: date) -> str:
    """Years hosting as the ISO date the host joined (Inside Airbnb's host_since)."""
    try:
        years = float(value)
    except ValueError:
        years = math.nan
    if not math.isfinite(years) or not 0 <= years <= MAX_YEARS_HOSTING:
        raise FormValueError(
            field.name, f"expected a number of years from 0 to {MAX_YEARS_HOSTING}, got {value!r}"
        )
    return (today - timedelta(days=round(years * DAYS_PER_YEAR))).isoformat()


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
class EffectBar:
    """One field's effect as a signed bar: label, change in points, width class, direction."""

    field: str
    label: str
    points: float
    width: int
    raised: bool

    @property
    def shown(self) -> str:
        return f"{self.points:+.1f} points"


@dataclass(frozen=True)
class Answer:
    """A prediction as the page shows it, with why and the price what-if when computed."""

    level: str
    probabilities: dict[str, float]
    explanation: Explanation | None = None

    def effects(self) -> list[EffectBar]:
        """The largest effects as bars, the widest 100 % (the others in proportion)."""
        if self.explanation is None:
            return []
        effects = self.explanation.effects
        largest = max((abs(e.change) for e in effects), default=0.0) or 1.0
        return [
            EffectBar(
                e.field,
                WHY_LABELS.get(
                    e.field, _BY_NAME[e.field].label if e.field in _BY_NAME else e.field
                ),
                e.change * 100,
                round(abs(e.change) / largest * 100),
                e.change >= 0,
            )
            for e in effects
        ]

    def chart(self) -> PriceChart | None:
        if self.explanation is None:
            return None
        return price_chart(self.explanation.curve, self.explanation.base_price)

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
    batch_error: str | None = None,
) -> str:
    """The page with the form (values as given), its errors by field, and the answer if any."""
    return (
        _templates()
        .get_template("page.html")
        .render(
            batch_error=batch_error,
            fields=FIELDS,
            choices=choices,
            values=values,
            ticked=set(amenities),
            errors=errors or {},
            labels={field.name: field.label for field in FIELDS},
            answer=answer,
            model=_model_facts(served),
        )
    )


def render_batch(served: ServedModel, result: BatchResult) -> str:
    """An upload's results: the summary, a row per listing, the download."""
    return (
        _templates()
        .get_template("batch.html")
        .render(
            result=result,
            download=f"data:text/csv;base64,{base64.b64encode(result.csv).decode()}",
            download_name=_download_name(result.filename),
            classes=CLASSES,
            model=_model_facts(served),
        )
    )


def _download_name(uploaded: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", uploaded.rsplit("/", 1)[-1]).removesuffix(".gz")
    return f"{stem.removesuffix('.csv') or 'listings'}-predictions.csv"


def _model_facts(served: ServedModel) -> dict[str, Any]:
    test_f1 = served.metrics.get("test_f1_macro")
    return {
        "name": served.name,
        "version": served.version,
        "test_f1_macro": f"{test_f1:.3f}"
        if isinstance(test_f1, float) and math.isfinite(test_f1)
        else None,
        "trained_at": served.trained_at,
    }


def render_no_model(model_uri: str, last_error: str | None) -> str:
    """The page shown while no champion is serving: why, and how to make one."""
    return (
        _templates()
        .get_template("no_model.html")
        .render(model_uri=model_uri, last_error=last_error)
    )
