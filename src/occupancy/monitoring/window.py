"""A window of the prediction log: what one model version was asked over the last days.

The API writes `<prediction log>/predictions/date=YYYY-MM-DD/*.parquet`
(`occupancy.api.prediction_log`); a window is every file of the dates from `since` to `until`,
the rows of one model version.
"""

from __future__ import annotations

import io
from datetime import date, timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from occupancy.config import Settings
from occupancy.lake import Lake

PREFIX = "predictions"


def prediction_log_lake(settings: Settings) -> Lake:
    """Where the API logs its predictions: `OCCUPANCY_PREDICTION_LOG_URI`, by default the lake."""
    return Lake(settings.prediction_log_uri, endpoint_url=settings.s3_endpoint_url)


def window_dates(until: date, days: int) -> list[date]:
    """The `days` dates ending with `until`, oldest first."""
    return [until - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def read_window(lake: Lake, dates: list[date], model_version: str) -> pd.DataFrame:
    """The logged rows of `model_version` on `dates` (an empty frame when there are none)."""
    tables = []
    for day in dates:
        for key in lake.list(f"{PREFIX}/date={day.isoformat()}"):
            if key.endswith(".parquet"):
                tables.append(pq.read_table(io.BytesIO(lake.read_bytes(key))))
    if not tables:
        return pd.DataFrame()
    frame = pa.concat_tables(tables, promote_options="default").to_pandas()
    return frame[frame["model_version"] == str(model_version)].reset_index(drop=True)
