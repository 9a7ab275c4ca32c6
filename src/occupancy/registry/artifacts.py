"""Logged models: a fitted scikit-learn pipeline written with skops (no pickle) and read back.

The model is logged with its signature and an input example of validation rows; the API checks
every new version (and its fast path) against that example before serving it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import pandas as pd

# Pinned from this environment: MLflow's own inference re-imports the model in a subprocess.
_MODEL_REQUIREMENTS = ("mlflow", "scikit-learn", "skops", "pandas", "numpy", "scipy")
EXAMPLE_ROWS = 50


@dataclass(frozen=True)
class LoadedModel:
    """A model read from the registry, with the input example it was logged with (if any)."""

    model: Any
    example: pd.DataFrame | None


def log_pipeline_model(model: Any, X_valid: pd.DataFrame) -> str:
    """Log a fitted pipeline in the active run; returns the logged model's id (`models:/<id>`)."""
    import mlflow
    import skops.io as sio
    from mlflow.models import infer_signature

    example = X_valid.head(EXAMPLE_ROWS)
    requirements = [f"{name}=={version(name)}" for name in _MODEL_REQUIREMENTS]
    trusted = sio.get_untrusted_types(data=sio.dumps(model))
    info = mlflow.sklearn.log_model(
        model,
        name="model",
        signature=infer_signature(example, model.predict(example)),
        input_example=example,
        serialization_format="skops",
        skops_trusted_types=trusted,
        pip_requirements=requirements,
    )
    return str(info.model_id)


def load_model(model_uri: str) -> Any:
    """A logged scikit-learn model by URI (models:/name@alias, models:/name/3, models:/m-…)."""
    import mlflow

    return mlflow.sklearn.load_model(model_uri)


def load_with_example(model_uri: str, tracking_uri: str) -> LoadedModel:
    """Download a logged model once and read both the model and its input example from it."""
    import mlflow
    from mlflow.models import Model

    with tempfile.TemporaryDirectory(prefix="occupancy-model-") as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=model_uri,
            dst_path=tmp,
            tracking_uri=tracking_uri,
            registry_uri=tracking_uri,
        )
        model = mlflow.sklearn.load_model(local)
        example = Model.load(local).load_input_example(local)
    return LoadedModel(model, example if isinstance(example, pd.DataFrame) else None)
