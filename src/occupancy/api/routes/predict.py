"""POST /predict: occupancy level and class probabilities for each listing, in request order."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter

from occupancy.api.dependencies import HolderDep, MetricsDep, served_model
from occupancy.api.errors import NOT_READY_OR_INVALID, TOO_LARGE
from occupancy.api.schemas import ModelRef, Prediction, PredictRequest, PredictResponse
from occupancy.api.scoring import score_listings
from occupancy.data.schema import CLASSES, ID_COLUMN

router = APIRouter(tags=["predict"])


@router.post(
    "/predict",
    response_model=PredictResponse,
    responses={**NOT_READY_OR_INVALID, **TOO_LARGE},
)
async def predict(body: PredictRequest, holder: HolderDep, metrics: MetricsDep) -> PredictResponse:
    """Occupancy level and class probabilities for each listing, in request order."""
    # Scored on the event loop, not a worker thread: the work is CPU-bound, and dozens of
    # threads contending for the GIL were measured to cut throughput at 16 connections.
    served = served_model(holder)
    listings = [listing.model_dump(exclude_none=True) for listing in body.listings]  # type: ignore[attr-defined]
    proba = score_listings(served, listings)
    levels = np.asarray(CLASSES, dtype=object)[proba.argmax(axis=1)]
    for level in levels:
        metrics.predictions.labels(level).inc()
    predictions = [
        Prediction(
            id=None if listing.get(ID_COLUMN) is None else str(listing[ID_COLUMN]),
            occupancy_level=str(level),
            probabilities=dict(zip(CLASSES, map(float, row), strict=True)),
        )
        for listing, level, row in zip(listings, levels, proba, strict=True)
    ]
    return PredictResponse(
        model=ModelRef(name=served.name, version=served.version), predictions=predictions
    )
