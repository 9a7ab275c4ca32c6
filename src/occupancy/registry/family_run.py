"""One model family's MLflow run: what the train step records, through MLflow's fluent API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from occupancy.registry.artifacts import log_pipeline_model
from occupancy.registry.tags import MODEL_ID_TAG


class FamilyRun:
    """The active child run of a family; created by `Registry.family_run`."""

    def __init__(self, mlflow_run_id: str) -> None:
        self.id = mlflow_run_id

    def log_params(self, params: dict[str, Any]) -> None:
        """Parameters of the run (MLflow stores each value as text)."""
        import mlflow

        mlflow.log_params(params)

    def log_metrics(self, metrics: dict[str, float]) -> None:
        """Metrics of the chosen model."""
        import mlflow

        mlflow.log_metrics(metrics)

    def log_dataset(self, sample: pd.DataFrame, *, source: str, name: str, digest: str) -> None:
        """Dataset lineage: where the training table lives, its digest and a sample's schema."""
        import mlflow
        from mlflow.data.pandas_dataset import from_pandas

        dataset = from_pandas(sample, source=source, name=name, digest=digest)
        mlflow.log_input(dataset, context="training")
        mlflow.set_tag("data_digest", digest)

    def log_artifacts(self, directory: Path) -> None:
        """Every file of a directory (plots, reports, the model card)."""
        import mlflow

        mlflow.log_artifacts(str(directory))

    def log_model(self, model: Any, X_valid: pd.DataFrame) -> str:
        """Log the fitted pipeline and tag the run with its id, which promotion registers."""
        import mlflow

        model_id = log_pipeline_model(model, X_valid)
        mlflow.set_tag(MODEL_ID_TAG, model_id)
        return model_id
