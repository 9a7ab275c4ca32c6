"""GET / and POST /: the prediction page for people, and the two files it loads.

The form posts to the page itself, so it works without JavaScript. A submitted form is checked
and scored exactly as `POST /predict` checks and scores a listing (the same request schema, the
same `score_listings`); a refused value is shown in words next to its field.
"""

from __future__ import annotations

import functools
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from occupancy.api.dependencies import HolderDep, MetricsDep, SettingsDep
from occupancy.api.form import FormChoices, form_choices
from occupancy.api.holder import ModelHolder, ServedModel
from occupancy.api.page import (
    PAGE_CSP,
    Answer,
    default_values,
    listing_from_form,
    parse_form,
    render_form,
    render_no_model,
)
from occupancy.api.schemas import Listing
from occupancy.api.scoring import score_listings
from occupancy.config import Settings
from occupancy.data.schema import CLASSES
from occupancy.errors import ModelInputError

router = APIRouter(include_in_schema=False)
STATIC_TYPES = {"page.css": "text/css; charset=utf-8", "page.js": "text/javascript; charset=utf-8"}


def _html(content: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(content, status_code=status, headers={"Content-Security-Policy": PAGE_CSP})


def _choices(request: Request, served: ServedModel) -> FormChoices:
    """The served version's choices, read from its model once (the page is rendered often)."""
    cached: tuple[ServedModel, FormChoices] | None = getattr(request.app.state, "page_form", None)
    if cached is None or cached[0] is not served:
        cached = (served, form_choices(served.model, served.example))
        request.app.state.page_form = cached
    return cached[1]


def _no_model(holder: ModelHolder, settings: Settings) -> HTMLResponse:
    uri = f"models:/{settings.model_name}@{settings.model_alias}"
    return _html(render_no_model(uri, holder.last_error), status=503)


@router.get("/", response_class=HTMLResponse)
async def page(request: Request, holder: HolderDep, settings: SettingsDep) -> HTMLResponse:
    """The form, its choices and defaults taken from the model serving now."""
    served = holder.current  # read once: one request, one version
    if served is None:
        return _no_model(holder, settings)
    choices = _choices(request, served)
    return _html(render_form(served, choices, default_values(choices), []))


@router.post("/", response_class=HTMLResponse)
async def answer(
    request: Request, holder: HolderDep, settings: SettingsDep, metrics: MetricsDep
) -> HTMLResponse:
    """The submitted form's prediction, or the form again with each refused value explained."""
    served = holder.current
    if served is None:
        return _no_model(holder, settings)
    choices = _choices(request, served)
    values, amenities = parse_form(await request.body())
    try:
        # The schema and scoring of POST /predict, for a batch of this one listing.
        listing = Listing.model_validate(listing_from_form(values, amenities))
        proba = score_listings(served, [listing.model_dump(exclude_none=True)])[0]
    except ValidationError as exc:
        errors = {str(e["loc"][0]) if e["loc"] else "": e["msg"] for e in exc.errors()}
        return _html(render_form(served, choices, values, amenities, errors=errors), 422)
    except ModelInputError as exc:
        errors = {str(d["loc"][-1]): str(d["msg"]) for d in exc.details}  # type: ignore[index]
        return _html(render_form(served, choices, values, amenities, errors=errors), 422)
    level = CLASSES[int(proba.argmax())]
    metrics.predictions.labels(level).inc()
    result = Answer(level, dict(zip(CLASSES, map(float, proba), strict=True)))
    return _html(render_form(served, choices, values, amenities, answer=result))


@functools.cache
def _static(name: str) -> bytes:
    return resources.files("occupancy.api").joinpath("static", name).read_bytes()


@router.get("/static/{name}")
async def static(name: str) -> Response:
    """The page's stylesheet and script, shipped inside the package."""
    if name not in STATIC_TYPES:
        return Response("not found", status_code=404, media_type="text/plain")
    return Response(
        _static(name),
        media_type=STATIC_TYPES[name],
        headers={"Cache-Control": "public, max-age=300"},
    )
