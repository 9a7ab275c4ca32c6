"""The rows batch scoring writes: one per raw listing, scored or refused with its reason.

`occupancy predict` writes them to a file and the prediction page shows them for an upload; both
hold every row to the ingest data contract first (`occupancy.data.validate`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from occupancy.data.clean import clean_listings
from occupancy.data.schema import CLASSES, ID_COLUMN
from occupancy.data.validate import Verdict
from occupancy.probabilities import in_class_order

SCORED, REFUSED = "ok", "refused"
PROBABILITY_COLUMNS = tuple(f"p_{c}" for c in CLASSES)
# Fixed up front: a batch whose rows are all refused has no level to infer a type from.
OUTPUT_SCHEMA = pa.schema(
    [
        pa.field(ID_COLUMN, pa.string()),
        pa.field("occupancy_level", pa.string()),
        *(pa.field(name, pa.float64()) for name in PROBABILITY_COLUMNS),
        pa.field("status", pa.string()),
        pa.field("reason", pa.string()),
    ]
)
OUTPUT_COLUMNS = tuple(OUTPUT_SCHEMA.names)
# A listing must have an id to be told apart in the output; the target is not needed to score.
REQUIRED_VALUES = (ID_COLUMN,)


def score_batch(model: Any, raw: pa.Table, verdict: Verdict) -> pa.Table:
    """One output row per raw listing, in order: valid ones scored, refused ones with the reason."""
    refused = verdict.bad
    probabilities = np.full((raw.num_rows, len(CLASSES)), np.nan)
    if not refused.all():
        valid = clean_listings(raw.filter(pa.array(~refused)))
        probabilities[~refused] = in_class_order(model.predict_proba(valid), model.classes_)
    levels = np.asarray(CLASSES, dtype=object)[probabilities.argmax(axis=1)]
    reasons = np.full(raw.num_rows, None, dtype=object)
    reasons[refused] = verdict.reasons
    columns: list[Any] = [
        raw.column(ID_COLUMN),
        pa.array(levels, type=pa.string(), mask=refused),
        *(pa.array(probabilities[:, i], mask=refused) for i in range(len(CLASSES))),
        pa.array(np.where(refused, REFUSED, SCORED), type=pa.string()),
        pa.array(reasons, type=pa.string()),
    ]
    return pa.Table.from_arrays(columns, schema=OUTPUT_SCHEMA)
