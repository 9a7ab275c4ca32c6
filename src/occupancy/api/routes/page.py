"""GET / and POST /: the prediction page for people; POST /batch: an uploaded CSV; its files.

The forms post to the page itself, so they work without JavaScript. A submitted form is checked
and scored exactly as `POST /predict` checks and scores a listing (the same request schema, the
same `score_listings`); a refused value is shown in words next to its field. The answer's why
and what-if (`occupancy.api.explain`) and an upload's scoring run in the scoring threads, like
every prediction, so the probes never wait for them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.formparsers import MultiPartException

from occupancy.api.batch import BatchResult, score_upload
from occupancy.api.dependencies import HolderDep, MetricsDep, SettingsDep
from occupancy.api.explain import Explanation, explain, typical_values
from occupancy.api.form import FormChoices, form_choices
from occupancy.api.holder import ModelHolder, ServedModel
from occupancy.api.page import (
    PAGE_CSP,
    Answer,
    FormValueError,
    default_values,
    given_fields,
    listing_from_form,
    parse_form,
    render_batch,
    render_form,
    render_no_model,
)
from occupancy.api.prediction_log import Logged
from occupancy.api.schemas import Listing
from occupancy.api.scoring import score_listings_with_input
from occupancy.config import Settings
from occupancy.data.rows import clean_rows, raw_listing
from occupancy.data.schema import CLASSES
from occupancy.errors import DataError, ModelInputError, SchemaError

UPLOAD_FIELD = "file"

router = APIRouter(include_in_schema=False)
STATIC_TYPES = {"page.css": "text/css; charset=utf-8", "page.js": "text/javascript; charset=utf-8"}


def _html(content: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(content, status_code=status, headers={"Content-Security-Policy": PAGE_CSP})


@dataclass(frozen=True)
class _PageModel:
    """What the page reads from one served version: its form and the typical values of `explain`."""

    served: ServedModel
    choices: FormChoices
    typical: dict[str, Any]


def _page_model(request: Request, served: ServedModel) -> _PageModel:
    """The served version's page model, read from its model once (the page is rendered often)."""
    cached: _PageModel | None = getattr(request.app.state, "page_model", None)
    if cached is None or cached.served is not served:
        choices = form_choices(served.model, served.example)
        cached = _PageModel(served, choices, typical_values(choices.medians, served.example))
        request.app.state.page_model = cached
    return cached


def _no_model(holder: ModelHolder, settings: Settings) -> HTMLResponse:
    uri = f"models:/{settings.model_name}@{settings.model_alias}"
    return _html(render_no_model(uri, holder.last_error), status=503)


@router.get("/", response_class=HTMLResponse)
async def page(request: Request, holder: HolderDep, settings: SettingsDep) -> HTMLResponse:
    """The form, its choices and defaults taken from the model serving now."""
    served = holder.current  # read once: one request, one version
    if served is None:
        return _no_model(holder, settings)
    choices = _page_model(request, served).choices
    return _html(render_form(served, choices, default_values(choices), []))


@router.post("/", response_class=HTMLResponse)
async def answer(
    request: Request, holder: HolderDep, settings: SettingsDep, metrics: MetricsDep
) -> HTMLResponse:
    """The submitted form's prediction, or the form again with each refused value explained."""
    served = holder.current
    if served is None:
        return _no_model(holder, settings)
    page_model = _page_model(request, served)
    choices = page_model.choices
    values, amenities = parse_form(await request.body())
    try:
        # The schema and scoring of POST /predict, for a batch of this one listing.
        listing = Listing.model_validate(listing_from_form(values, amenities)).model_dump(
            exclude_none=True
        )
        logged = Logged(request.app.state.prediction_log, request.state.request_id)
        proba, explanation = await request.app.state.scoring_pool.run(
            lambda: _answer(page_model, listing, given_fields(values), logged)
        )
    except FormValueError as exc:
        errors = {exc.field: str(exc)}
        return _html(render_form(served, choices, values, amenities, errors=errors), 422)
    except ValidationError as exc:
        errors = {str(e["loc"][0]) if e["loc"] else "": e["msg"] for e in exc.errors()}
        return _html(render_form(served, choices, values, amenities, errors=errors), 422)
    except ModelInputError as exc:
        errors = {str(d["loc"][-1]): str(d["msg"]) for d in exc.details}  # type: ignore[index]
        return _html(render_form(served, choices, values, amenities, errors=errors), 422)
    level = CLASSES[int(proba.argmax())]
    metrics.predictions.labels(level).inc()
    result = Answer(level, dict(zip(CLASSES, map(float, proba), strict=True)), explanation)
    return _html(render_form(served, choices, values, amenities, answer=result))


def _answer(
    page_model: _PageModel, listing: dict[str, Any], given: list[str], logged: Logged
) -> tuple[np.ndarray, Explanation]:
    """The listing's probabilities as POST /predict gives them (and logs), why, the price curve."""
    served = page_model.served
    # Refuses invalid values before any explaining; the why's variants are not predictions.
    proba, cleaned = score_listings_with_input(served, [listing])
    logged.scored(served, [listing], cleaned, proba)
    one = clean_rows([raw_listing(listing)])  # equal to clean_listings, for one row faster
    return proba[0], explain(served, one, given, page_model.typical)


@router.post("/batch", response_class=HTMLResponse)
async def batch(request: Request, holder: HolderDep, settings: SettingsDep) -> HTMLResponse:
    """An uploaded listings CSV scored row by row: a table, the refused rows' reasons, a download."""
    served = holder.current
    if served is None:
        return _no_model(holder, settings)
    choices = _page_model(request, served).choices
    defaults = default_values(choices)
    try:
        form = await request.form(max_files=1, max_fields=4)
    except (MultiPartException, ValueError, KeyError) as exc:  # not multipart, or malformed
        error = f"the upload could not be read as a form with a file ({exc})"
        return _html(render_form(served, choices, defaults, [], batch_error=error), 400)
    try:
        upload = form.get(UPLOAD_FIELD)
        if upload is None or isinstance(upload, str) or not upload.filename:
            error = "choose a listings CSV file to upload"
            return _html(render_form(served, choices, defaults, [], batch_error=error), 422)
        data = await upload.read()
        filename = upload.filename
    finally:
        await form.close()  # an upload over 1 MB was spooled to a temporary file: removed
    try:
        result: BatchResult = await request.app.state.scoring_pool.run(
            lambda: score_upload(served.model, filename, data)
        )
    except (SchemaError, DataError) as exc:
        return _html(render_form(served, choices, defaults, [], batch_error=str(exc)), 422)
    return _html(render_batch(served, result))


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
