"""Logged models: a fitted scikit-learn pipeline written with skops (no pickle) and read back.

The model is logged with its signature and an input example of validation rows; the API checks
every new version (and its fast path) against that example before serving it.

Loading never unpickles. Whoever can write a model version or an object in the artifact store
could otherwise run code wherever the champion is loaded, so the artifact is read with skops and
`TRUSTED_TYPES`, a list kept here in the product, never the list the artifact carries: a version
serialized any other way, or needing any other type, is refused with the reason.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd

from occupancy.errors import UntrustedModelError

# Pinned from this environment: MLflow's own inference re-imports the model in a subprocess.
_MODEL_REQUIREMENTS = ("mlflow", "scikit-learn", "skops", "pandas", "numpy", "scipy")
EXAMPLE_ROWS = 50
# Beyond skops' own defaults (scikit-learn estimators, builtins), exactly what the model families
# of occupancy.training.models need; tests/unit/test_registry.py fits each family to keep it so.
TRUSTED_TYPES = (
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.tree._tree.Tree",
)


@dataclass(frozen=True)
class LoadedModel:
    """A model read from the registry, with the input example and schema it was logged with."""

    model: Any
    example: pd.DataFrame | None
    inputs: Any | None = None  # the signature's input schema (`mlflow.types.Schema`), if any


def log_pipeline_model(model: Any, X_valid: pd.DataFrame) -> str:
    """Log a fitted pipeline in the active run; returns the logged model's id (`models:/<id>`)."""
    import mlflow
    import skops.io as sio
    from mlflow.models import infer_signature

    example = X_valid.head(EXAMPLE_ROWS)
    requirements = [f"{name}=={version(name)}" for name in _MODEL_REQUIREMENTS]
    needed = sorted(set(sio.get_untrusted_types(data=sio.dumps(model))) - set(TRUSTED_TYPES))
    if needed:  # it could be logged, but never loaded again
        raise UntrustedModelError(
            f"the fitted model needs types outside TRUSTED_TYPES: {', '.join(needed)}"
        )
    info = mlflow.sklearn.log_model(
        model,
        name="model",
        signature=infer_signature(example, model.predict(example)),
        input_example=example,
        serialization_format="skops",
        skops_trusted_types=list(TRUSTED_TYPES),
        pip_requirements=requirements,
    )
    return str(info.model_id)


def load_model(model_uri: str, tracking_uri: str) -> Any:
    """A logged model by URI (models:/name@alias, models:/name/3, models:/m-…), without pickle."""
    return load_with_example(model_uri, tracking_uri).model


def load_with_example(model_uri: str, tracking_uri: str) -> LoadedModel:
    """Download a logged model once and read the model, its input example and schema from it."""
    import mlflow
    from mlflow.models import Model

    with tempfile.TemporaryDirectory(prefix="occupancy-model-") as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=model_uri,
            dst_path=tmp,
            tracking_uri=tracking_uri,
            registry_uri=tracking_uri,
        )
        logged = Model.load(local)
        model = load_skops_model(Path(local), logged.flavors.get("sklearn"), model_uri)
        example = logged.load_input_example(local)
    inputs = logged.signature.inputs if logged.signature is not None else None
    return LoadedModel(model, example if isinstance(example, pd.DataFrame) else None, inputs)


def load_skops_model(directory: Path, flavor: dict[str, Any] | None, model_uri: str) -> Any:
    """The scikit-learn model of a downloaded artifact, read by skops with TRUSTED_TYPES only."""
    import skops.io as sio

    if flavor is None:
        raise UntrustedModelError(f"{model_uri} is not a scikit-learn model logged by occupancy")
    serialization = flavor.get("serialization_format")
    if serialization != "skops":
        raise UntrustedModelError(
            f"{model_uri} is serialized with {serialization!r}: only skops models are loaded, "
            "never pickle"
        )
    path = directory / str(flavor.get("pickled_model", ""))
    # Checked before loading: skops builds nothing until every type in the file is trusted.
    needed = sorted(set(sio.get_untrusted_types(file=path)) - set(TRUSTED_TYPES))
    if needed:
        raise UntrustedModelError(
            f"{model_uri} needs types occupancy does not trust: {', '.join(needed)}"
        )
    return sio.load(path, trusted=list(TRUSTED_TYPES))
