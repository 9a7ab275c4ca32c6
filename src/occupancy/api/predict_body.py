"""The POST /predict body, decoded and validated in a scoring thread instead of by FastAPI.

FastAPI would decode the JSON and validate a whole batch on the event loop, in one pydantic call
that holds the GIL throughout (about 100 ms for 1,000 listings). Here the same models check the
envelope and then one listing at a time, in a scoring thread, so the GIL changes hands between
listings and the loop answers probes meanwhile. Errors keep FastAPI's shape and wording
(RequestValidationError, `loc` from "body"), so the error table in `errors` is unchanged; the
OpenAPI document still describes `PredictRequest` (`document_predict_body`).
"""

from __future__ import annotations

import email.message
import json
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from occupancy.api.schemas import MAX_LISTINGS, Listing, PredictRequest

# What the route's `openapi_extra` says its body is (the schemas are added by document_predict_body).
PREDICT_BODY_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}}
        },
        "required": True,
    }
}


class _Envelope(BaseModel):
    """PredictRequest with its listings left unchecked: they are validated one by one."""

    model_config = ConfigDict(extra="forbid")
    listings: list[Any] = Field(min_length=1, max_length=MAX_LISTINGS)


def parse_listings(body: bytes, content_type: str | None) -> list[dict[str, Any]]:
    """The listings of a request body, without unset fields; RequestValidationError otherwise."""
    if not body:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    try:
        envelope = _Envelope.model_validate(_decoded(body, content_type))
    except ValidationError as error:
        raise RequestValidationError(_in_body(error, ())) from None
    listings: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for row, item in enumerate(envelope.listings):
        try:
            listings.append(Listing.model_validate(item).model_dump(exclude_none=True))
        except ValidationError as error:
            errors += _in_body(error, ("listings", row))
    if errors:
        raise RequestValidationError(errors)
    return listings


def _in_body(error: ValidationError, where: tuple[str | int, ...]) -> list[dict[str, Any]]:
    """pydantic's errors located as FastAPI locates them: from "body"."""
    return [{**e, "loc": ("body", *where, *e["loc"])} for e in error.errors()]


def _decoded(body: bytes, content_type: str | None) -> Any:
    """JSON for a JSON content type, else the bytes (which the envelope refuses), as FastAPI."""
    if content_type:
        message = email.message.Message()
        message["content-type"] = content_type
        subtype = message.get_content_subtype()
        if message.get_content_maintype() != "application" or not (
            subtype == "json" or subtype.endswith("+json")
        ):
            return body
    else:
        return body  # FastAPI's strict content type: no header, no JSON
    try:
        return json.loads(body)
    except json.JSONDecodeError as error:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", error.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": error.msg},
                }
            ]
        ) from error
    except UnicodeDecodeError as error:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error", "input": {}}]
        ) from error


def document_predict_body(app: FastAPI) -> None:
    """Add PredictRequest and Listing to the app's OpenAPI components, as FastAPI would."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            request = PredictRequest.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(request.pop("$defs", {}))
            components[PredictRequest.__name__] = request
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
