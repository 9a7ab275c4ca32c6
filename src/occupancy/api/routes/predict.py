"""POST /predict: occupancy level and class probabilities for each listing, in request order."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, Request, Response

from occupancy.api.dependencies import HolderDep, MetricsDep, ScoringPoolDep, served_model
from occupancy.api.errors import NOT_READY_OR_INVALID, TOO_LARGE
from occupancy.api.holder import ModelHolder
from occupancy.api.metrics import ApiMetrics
from occupancy.api.predict_body import PREDICT_BODY_OPENAPI, parse_listings
from occupancy.api.prediction_log import Logged
from occupancy.api.schemas import ModelRef, Prediction, PredictResponse
from occupancy.api.scoring import score_listings_with_input
from occupancy.data.schema import CLASSES, ID_COLUMN

router = APIRouter(tags=["predict"])


@router.post(
    "/predict",
    response_model=PredictResponse,
    responses={**NOT_READY_OR_INVALID, **TOO_LARGE},
    openapi_extra=PREDICT_BODY_OPENAPI,
)
async def predict(
    request: Request, holder: HolderDep, metrics: MetricsDep, pool: ScoringPoolDep
) -> Response:
    """Occupancy level and class probabilities for each listing, in request order."""
    # The loop only receives the body; decoding, validation, scoring and the JSON answer run in
    # a scoring thread (`scoring_pool`), so the probes never wait behind a batch.
    body = await request.body()
    content_type = request.headers.get("content-type")
    logged = Logged(request.app.state.prediction_log, request.state.request_id)
    return await pool.run(lambda: _answer(body, content_type, holder, metrics, logged))


def _answer(
    body: bytes,
    content_type: str | None,
    holder: ModelHolder,
    metrics: ApiMetrics,
    logged: Logged,
) -> Response:
    listings = parse_listings(
        body, content_type
    )  # a malformed body is a 422 with or without a model
    # Read once: a swap while this request is scored does not change the model that answers it.
    served = served_model(holder)
    proba, cleaned = score_listings_with_input(served, listings)
    logged.scored(served, listings, cleaned, proba)
    levels = np.asarray(CLASSES, dtype=object)[proba.argmax(axis=1)]
    for level in levels:
        metrics.predictions.labels(level).inc()
    answer = PredictResponse(
        model=ModelRef(name=served.name, version=served.version),
        predictions=[
            Prediction(
                id=None if listing.get(ID_COLUMN) is None else str(listing[ID_COLUMN]),
                occupancy_level=str(level),
                probabilities=dict(zip(CLASSES, map(float, row), strict=True)),
            )
            for listing, level, row in zip(listings, levels, proba, strict=True)
        ],
    )
    # Serialized here in one pydantic call, not by FastAPI on the loop.
    return Response(answer.model_dump_json(), media_type="application/json")
