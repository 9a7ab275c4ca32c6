"""Step train: fit one model family on a run's processed data and log it as an MLflow child run.

Each grid point is fitted on the train split and scored on the validation split; the best one is
logged (model with signature and input example, metrics, plots, report, model card, dataset
lineage). The test split is not touched here: promotion scores it once, for the selected model.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from occupancy.config import Settings
from occupancy.errors import ConfigError
from occupancy.monitoring.profile import FILE_NAME as PROFILE_FILE
from occupancy.monitoring.profile import reference_profile
from occupancy.provenance import git_sha
from occupancy.registry import FAMILY_TAG, ROLE_TAG, RUN_ID_TAG, FamilyRun, Registry
from occupancy.run_layout import open_run
from occupancy.training import evaluate
from occupancy.training.dataset import Processed, load_processed
from occupancy.training.models import FAMILIES, Family

log = logging.getLogger(__name__)


def run_train(settings: Settings, run_id: str, family_name: str) -> dict[str, Any]:
    """Train model family `family_name` for pipeline run `run_id` (idempotent per run and family)."""
    run = open_run(settings, run_id)
    family = FAMILIES.get(family_name)
    if family is None:
        raise ConfigError(
            f"unknown model family {family_name!r}: choose one of {', '.join(FAMILIES)}"
        )
    data = load_processed(run, settings.max_train_rows, settings.seed)
    registry = Registry(settings)
    parent_id = registry.parent_run(run_id)
    done = registry.finished_child(parent_id, family.name)
    if done is not None:
        log.info(
            "train %s of run %s already finished (MLflow run %s)",
            family.name,
            run_id,
            done.info.run_id,
        )
        return _summary(run_id, family.name, done.info.run_id, done.data.metrics, reused=True)

    # One BLAS/OpenMP thread: on 2-core machines shared with other pods, OpenMP spin-waiting made
    # HistGradientBoosting fits up to 100x slower; the forest still uses all cores via joblib.
    with threadpool_limits(limits=1):
        best_model, best_params, search = _search(family, data, settings.seed)
    tags = {
        RUN_ID_TAG: run_id,
        FAMILY_TAG: family.name,
        ROLE_TAG: "family",
        "git_sha": git_sha(settings),
    }
    with registry.family_run(parent_id, family.name, tags) as active:
        metrics = _log_run(
            active, run_id, family, data, best_model, best_params, search, settings.seed
        )
    return _summary(run_id, family.name, active.id, metrics, reused=False)


def _search(
    family: Family, data: Processed, seed: int
) -> tuple[Any, dict[str, Any], list[dict[str, Any]]]:
    """Fit every grid point on train, score on valid; return the best model and the trail."""
    X_train, y_train = data.X("train"), data.y("train")
    X_valid, y_valid = data.X("valid"), data.y("valid")
    best: tuple[float, Any, dict[str, Any]] | None = None
    trail = []
    for params in family.grid:
        started = time.perf_counter()
        model = family.build(params, seed).fit(X_train, y_train)
        seconds = time.perf_counter() - started
        score = evaluate.macro_f1(y_valid, model.predict(X_valid))
        trail.append({"params": params, "val_f1_macro": score, "fit_seconds": seconds})
        log.info(
            "train %s %s: validation macro-F1 %.4f (%.1f s)", family.name, params, score, seconds
        )
        if best is None or score > best[0]:
            best = (score, model, params)
    if best is None:  # not an assert: `python -O` would drop it and fail obscurely below
        raise ValueError(f"model family {family.name!r} has an empty parameter grid")
    return best[1], best[2], trail


def _log_run(
    active: FamilyRun,
    run_id: str,
    family: Family,
    data: Processed,
    model: Any,
    params: dict[str, Any],
    search: list[dict[str, Any]],
    seed: int,
) -> dict[str, float]:
    X_valid, y_valid = data.X("valid"), data.y("valid")
    chosen = next(s for s in search if s["params"] == params)
    metrics = evaluate.split_metrics(model, X_valid, y_valid, "val")
    predicted = model.predict(X_valid)  # once: per-source scores and the reference profile
    per_source = evaluate.by_source(y_valid, predicted, data.sources("valid"))
    metrics.update(evaluate.source_metrics(per_source, "val"))
    metrics["fit_seconds"] = chosen["fit_seconds"]
    metrics.update(evaluate.predict_latency_ms(model, X_valid))
    for i, point in enumerate(search):
        metrics[f"search_{i}_val_f1_macro"] = point["val_f1_macro"]
    active.log_params(
        {"family": family.name, "seed": seed, "train_rows": len(data.frames["train"]), **params}
    )
    active.log_params({"search_grid": json.dumps([p["params"] for p in search], default=str)})
    active.log_metrics(metrics)

    digest = data.manifest["digest"]
    dataset_uri = data.uri
    active.log_dataset(
        data.frames["train"].head(1000),
        source=dataset_uri,
        name=f"occupancy-{run_id}",
        digest=digest,
    )

    importance = evaluate.input_importance(model, X_valid, y_valid, seed)
    with tempfile.TemporaryDirectory(prefix="occupancy-artifacts-") as tmp:
        out = Path(tmp)
        evaluate.write_confusion_matrix(
            model,
            X_valid,
            y_valid,
            out / "confusion_matrix_valid.png",
            f"{family.name} (validation)",
        )
        evaluate.write_importance_plot(
            importance, out / "input_importance.png", f"{family.name}: input importance"
        )
        (out / "classification_report_valid.txt").write_text(
            evaluate.text_report(model, X_valid, y_valid)
        )
        importance.to_csv(out / "input_importance.csv", header=["f1_macro_drop"])
        data_info = {
            "uri": dataset_uri,
            "digest": digest,
            **{f"{s}_rows": len(data.frames[s]) for s in ("train", "valid", "test")},
        }
        card = evaluate.model_card(
            family.name, params, metrics, data_info, list(importance.head(10).index), per_source
        )
        (out / "model_card.md").write_text(card)
        # What drift is measured against once this model serves (occupancy.monitoring.drift).
        profile = reference_profile(data.X("train"), data.y("train"), predicted)
        (out / PROFILE_FILE).write_text(json.dumps(profile))
        active.log_artifacts(out)
    active.log_model(model, X_valid)  # promotion registers exactly this logged model
    return metrics


def _summary(
    run_id: str, family: str, mlflow_run_id: str, metrics: dict[str, float], reused: bool
) -> dict[str, Any]:
    return {
        "step": "train",
        "run_id": run_id,
        "family": family,
        "mlflow_run_id": mlflow_run_id,
        "val_f1_macro": round(float(metrics.get("val_f1_macro", float("nan"))), 4),
        "reused": reused,
    }
