"""The API built by `create_app` around a fake holder: no MLflow, no network, no server.

The served model is real: a logistic-regression pipeline fitted on the Newark listings that
ship with the tests, wrapped in a `ServedModel` with its compiled fast path, so both scoring
paths run exactly as they do in production.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from api_fakes import FakeHolder
from fastapi.testclient import TestClient
from pydantic import SecretStr
from threadpoolctl import threadpool_limits

from occupancy.api.app import create_app
from occupancy.api.holder import ServedModel, with_fast_path
from occupancy.config import Settings
from occupancy.data.clean import MODEL_INPUT_COLUMNS, treat_frame
from occupancy.training.models import FAMILIES

TOKEN = "t0ken"
NEWARK = "newark_2025-09-30_listings.csv.gz"


@pytest.fixture(scope="session")
def newark_raw(real_data_dir: Path) -> pd.DataFrame:
    """Newark's listings as raw CSV strings, empty fields as ''."""
    return pd.read_csv(real_data_dir / NEWARK, dtype=str, keep_default_na=False)


@pytest.fixture(scope="session")
def served(real_data_dir: Path) -> ServedModel:
    """A real pipeline fitted on Newark, checked against its fast path like a loaded model."""
    table = treat_frame(pd.read_csv(real_data_dir / NEWARK, dtype=str))
    X = table[list(MODEL_INPUT_COLUMNS)]
    model = FAMILIES["logreg"].build({"C": 0.1}, 42).fit(X, table["occupancy_level"])
    plain = ServedModel(
        name="airbnb-occupancy-classifier",
        version="7",
        run_id="run-7",
        trained_at="2025-09-30T00:00:00+00:00",
        metrics={"val_f1_macro": 0.5},
        model=model,
    )
    fast = with_fast_path(plain, X.head(50))
    assert fast.fast is not None
    return fast


@pytest.fixture
def listings(newark_raw: pd.DataFrame) -> Callable[[int], list[dict[str, str]]]:
    """The first n Newark listings as posted from a CSV (empty fields left out)."""

    def first(n: int) -> list[dict[str, str]]:
        rows = newark_raw.head(n).to_dict(orient="records")
        return [{k: v for k, v in row.items() if v != ""} for row in rows]

    return first


@pytest.fixture
def settings(isolated_settings: Settings) -> Settings:
    """Local settings with an admin token."""
    return isolated_settings.model_copy(update={"api_token": SecretStr(TOKEN)})


@pytest.fixture
def api() -> Callable[..., AbstractContextManager[TestClient]]:
    """`with api(settings, holder) as client:` a started app around `holder`.

    The app's start-up limits native thread pools for the whole process (right for a server);
    the limits are put back afterwards so later tests keep their threads.
    """

    @contextmanager
    def started(settings: Settings, holder: Any) -> Iterator[TestClient]:
        arrow_threads = pa.cpu_count()
        with threadpool_limits(limits=None), TestClient(create_app(settings, holder=holder)) as c:
            yield c
        pa.set_cpu_count(arrow_threads)

    return started


@pytest.fixture
def client(api, settings: Settings, served: ServedModel) -> Iterator[TestClient]:
    """A started app serving the Newark model, with an admin token configured."""
    with api(settings, FakeHolder(served)) as test_client:
        yield test_client


@pytest.fixture
def no_model_client(api, settings: Settings) -> Iterator[TestClient]:
    """A started app whose holder has no model yet (no champion in the registry)."""
    with api(settings, FakeHolder(None)) as test_client:
        yield test_client
