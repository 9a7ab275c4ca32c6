"""Step promote: pick the best family, compare it with the champion, register, move the alias.

Selection uses validation macro-F1. The selected challenger and the current champion are then
scored on the same test rows of this run; the challenger is registered and becomes the champion
only when it is better or there is no champion. The decision and its reason are recorded on the
pipeline's parent run, which makes re-running the step a no-op.
"""

from __future__ import annotations

import logging
from typing import Any

from occupancy.config import Settings
from occupancy.errors import NotFoundError, OccupancyError, UntrustedModelError
from occupancy.provenance import git_sha
from occupancy.registry import DECISION_TAG, FAMILY_TAG, MODEL_ID_TAG, RUN_ID_TAG, Registry
from occupancy.run_layout import open_run
from occupancy.training import evaluate
from occupancy.training.dataset import load_processed

log = logging.getLogger(__name__)


def run_promote(settings: Settings, run_id: str) -> dict[str, Any]:
    """Decide whether run `run_id`'s best model becomes the champion (idempotent per run id)."""
    run = open_run(settings, run_id)
    registry = Registry(settings)
    parent_id = registry.parent_run(run_id, create=False)
    recorded = registry.run(parent_id).data.tags
    if DECISION_TAG in recorded:
        log.info("promotion of run %s already decided: %s", run_id, recorded[DECISION_TAG])
        return _summary(run_id, recorded, reused=True)

    children = registry.children(parent_id)
    if not children:
        raise NotFoundError(
            f"run {run_id} has no finished training runs in MLflow: run the train step first"
        )
    best = max(children, key=lambda r: r.data.metrics.get("val_f1_macro", float("-inf")))
    family = best.data.tags.get(FAMILY_TAG, "?")
    log.info(
        "promote: %s has the best validation macro-F1 (%.4f) of %d families",
        family,
        best.data.metrics["val_f1_macro"],
        len(children),
    )

    data = load_processed(run, settings.max_train_rows, settings.seed)
    X_test, y_test = data.X("test"), data.y("test")
    model_id = best.data.tags[MODEL_ID_TAG]
    challenger_uri = f"models:/{model_id}"
    challenger = registry.load_model(challenger_uri)
    test_metrics = evaluate.split_metrics(challenger, X_test, y_test, "test")
    challenger_f1 = test_metrics["test_f1_macro"]

    promote, reason, champion_f1 = _decide(registry, X_test, y_test, challenger_f1)
    log.info("promote: %s", reason)
    tags = {
        DECISION_TAG: "promoted" if promote else "kept_champion",
        "promotion.reason": reason,
        "promotion.family": family,
        "promotion.challenger_test_f1_macro": f"{challenger_f1:.4f}",
    }
    if champion_f1 is not None:
        tags["promotion.champion_test_f1_macro"] = f"{champion_f1:.4f}"
    if promote:
        version = registry.version_for_run(best.info.run_id)
        if version is None:
            version = registry.register(
                model_id,
                best.info.run_id,
                {
                    "val_f1_macro": f"{best.data.metrics['val_f1_macro']:.4f}",
                    "test_f1_macro": f"{challenger_f1:.4f}",
                    "data_digest": data.manifest["digest"],
                    "git_sha": git_sha(settings),
                    "promotion_reason": reason,
                    "family": family,
                    RUN_ID_TAG: run_id,
                },
            )
        registry.set_alias(str(version.version))
        tags["promotion.version"] = str(version.version)
    registry.record_decision(parent_id, test_metrics, tags)
    return _summary(run_id, tags, reused=False)


def _decide(
    registry: Registry, X_test: Any, y_test: Any, challenger_f1: float
) -> tuple[bool, str, float | None]:
    """Promote or keep, with the reason in one sentence and the champion's score if any."""
    champion = registry.champion()
    if champion is None:
        return (
            True,
            f"no {registry.settings.model_alias} yet; challenger test macro-F1 {challenger_f1:.4f}",
            None,
        )
    try:
        champion_model = registry.load_model(registry.champion_uri)
        champion_f1 = evaluate.macro_f1(y_test, champion_model.predict(X_test))
    except UntrustedModelError:
        raise  # a champion we must not load is never silently replaced: someone must look
    except (OccupancyError, ValueError, KeyError, TypeError) as exc:
        return (
            True,
            f"champion v{champion.version} could not score this data ({exc}); challenger {challenger_f1:.4f}",
            None,
        )
    if challenger_f1 > champion_f1:
        return (
            True,
            (
                f"challenger test macro-F1 {challenger_f1:.4f} beats champion v{champion.version} "
                f"{champion_f1:.4f} on the same test rows"
            ),
            champion_f1,
        )
    return (
        False,
        (
            f"champion v{champion.version} kept: test macro-F1 {champion_f1:.4f} vs challenger "
            f"{challenger_f1:.4f} on the same test rows"
        ),
        champion_f1,
    )


def _summary(run_id: str, tags: dict[str, str], reused: bool) -> dict[str, Any]:
    return {
        "step": "promote",
        "run_id": run_id,
        "decision": tags.get(DECISION_TAG),
        "family": tags.get("promotion.family"),
        "version": tags.get("promotion.version"),
        "test_f1_macro": float(tags.get("promotion.challenger_test_f1_macro", "nan")),
        "reason": tags.get("promotion.reason"),
        "reused": reused,
    }


def pipeline_outcome(
    settings: Settings, run_id: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """What a finished pipeline run recorded in MLflow: each family's score, and the decision."""
    registry = Registry(settings)
    parent_id = registry.parent_run(run_id, create=False)
    trained = [
        {
            "family": child.data.tags.get(FAMILY_TAG, "?"),
            "val_f1_macro": child.data.metrics.get("val_f1_macro", float("nan")),
        }
        for child in registry.children(parent_id)
    ]
    tags = registry.run(parent_id).data.tags
    if DECISION_TAG not in tags:
        raise NotFoundError(f"pipeline run {run_id} has no promotion decision in MLflow yet")
    return trained, _summary(run_id, tags, reused=False)
