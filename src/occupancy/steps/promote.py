"""Step promote: pick the best family, compare it with the champion, register, move the alias.

Selection uses validation macro-F1. The selected challenger and the current champion are then
scored on the same test rows of this run; the challenger is registered and becomes the champion
only when it is better or there is no champion.

Promotion fails closed. An error reaching, reading or loading the champion fails the step with
exit code 1 (the task is retried) and leaves the alias and the run as they were; a champion
that needs untrusted types fails it with exit code 2 (someone must look). The champion is
replaced without being scored only when its logged input schema proves that it cannot score
this run's data (`occupancy.registry.schema`): the reason then says so, and the tag
`promotion.champion_replaced: schema_change` is on the parent run and on the new version. A
champion whose schema fits but whose scoring fails is kept, and the step fails with exit code 2.

The writes come in this order: the version is registered carrying every `promotion.*` tag of
the decision, the alias moves, then the decision is recorded on the pipeline's parent run in one
batch, which makes re-running the step a no-op. A rerun after a crash in between finds the
run's version: without the alias yet, it decides again (the same champion gives the same
decision) and reuses that version; with the alias, it records the decision the version carries.
Either way the run ends as an uninterrupted one would: one version, the alias on it, the same
tags.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from occupancy.config import Settings
from occupancy.errors import ChampionError, NotFoundError
from occupancy.provenance import git_sha
from occupancy.registry import (
    DECISION_TAG,
    FAMILY_TAG,
    MODEL_ID_TAG,
    RUN_ID_TAG,
    LoadedModel,
    Registry,
)
from occupancy.registry.schema import input_columns, schema_change
from occupancy.registry.tags import (
    CHAMPION_REPLACED_TAG,
    PROMOTION_PREFIX,
    REASON_TAG,
    SUPERSEDED_TAG,
    VERSION_TAG,
)
from occupancy.run_layout import check_run_id, open_run
from occupancy.training import evaluate
from occupancy.training.dataset import Processed, load_processed

log = logging.getLogger(__name__)

SCHEMA_CHANGE = "schema_change"


@dataclass(frozen=True)
class Decision:
    """Promote or keep, the reason in one sentence, and what was known of the champion."""

    promote: bool
    reason: str
    champion_f1: float | None = None
    replaced: str | None = None  # why the champion was replaced without being scored
    champion_sources: dict[str, tuple[float, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class _TestRows:
    """This run's test split: what the challenger and the champion are both scored on."""

    X: Any
    y: Any
    sources: Any

    def by_source(self, predicted: Any) -> dict[str, tuple[float, int]]:
        return evaluate.by_source(self.y, predicted, self.sources)


def run_promote(
    settings: Settings, run_id: str, superseded: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Decide whether run `run_id`'s best model becomes the champion (idempotent per run id).

    `superseded`: the pipeline runs the training DAG run passed over for this one (coalesced
    Asset events); recorded on the parent run as `occupancy.superseded_runs` before deciding.
    """
    run = open_run(settings, run_id)
    superseded = tuple(check_run_id(other) for other in superseded)
    registry = Registry(settings)
    parent_id = registry.parent_run(run_id, create=False)
    if superseded:
        registry.tag_run(parent_id, {SUPERSEDED_TAG: ",".join(superseded)})
    recorded = registry.run(parent_id).data.tags
    if DECISION_TAG in recorded:
        log.info("promotion of run %s already decided: %s", run_id, recorded[DECISION_TAG])
        return _summary(run_id, recorded, reused=True)

    best = _best_child(registry, parent_id, run_id)
    family = best.data.tags.get(FAMILY_TAG, "?")
    data = load_processed(run, settings.max_train_rows, settings.seed)
    test = _TestRows(data.X("test"), data.y("test"), data.sources("test"))
    challenger = registry.load_model(f"models:/{best.data.tags[MODEL_ID_TAG]}")
    test_metrics = evaluate.split_metrics(challenger, test.X, test.y, "test")
    challenger_f1 = test_metrics["test_f1_macro"]
    challenger_sources = test.by_source(challenger.predict(test.X))
    test_metrics.update(evaluate.source_metrics(challenger_sources, "test"))

    registered = registry.version_for_run(best.info.run_id)
    champion = registry.champion()
    if registered is not None and _same_version(champion, registered):
        log.info("promote: v%s of run %s has the alias already", registered.version, run_id)
        tags = _decided_on(registered)
    else:
        decision = _decide(settings, registry, champion, test, challenger_f1, challenger_sources)
        log.info("promote: %s", decision.reason)
        test_metrics.update(evaluate.source_metrics(decision.champion_sources, "champion_test"))
        tags = _decision_tags(decision, family, challenger_f1)
        version_tags = _version_tags(settings, run_id, best, data, tags)
        version = _write_version(registry, registered, best, version_tags, decision.promote)
        if version is not None:
            tags[VERSION_TAG] = version
    registry.record_decision(parent_id, test_metrics, tags)
    return _summary(run_id, tags, reused=False)


def _write_version(
    registry: Registry, registered: Any | None, best: Any, tags: dict[str, str], promote: bool
) -> str | None:
    """Register the challenger (or reuse this run's version) and move the alias when promoting.

    A version left by an earlier attempt that stopped before the alias is reused and given the
    decision taken now, whatever it is; the new version if promoting.
    """
    if registered is not None:
        registry.tag_version(str(registered.version), tags)
    if not promote:
        return None
    if registered is not None:
        version = str(registered.version)
    else:
        model_id = best.data.tags[MODEL_ID_TAG]
        version = str(registry.register(model_id, best.info.run_id, tags).version)
    registry.set_alias(version)
    return version


def _best_child(registry: Registry, parent_id: str, run_id: str) -> Any:
    """The finished family run with the best validation macro-F1."""
    children = registry.children(parent_id)
    if not children:
        raise NotFoundError(
            f"run {run_id} has no finished training runs in MLflow: run the train step first"
        )
    best = max(children, key=lambda r: r.data.metrics.get("val_f1_macro", float("-inf")))
    log.info(
        "promote: %s has the best validation macro-F1 (%.4f) of %d families",
        best.data.tags.get(FAMILY_TAG, "?"),
        best.data.metrics["val_f1_macro"],
        len(children),
    )
    return best


def _same_version(champion: Any | None, version: Any) -> bool:
    return champion is not None and str(champion.version) == str(version.version)


def _decided_on(version: Any) -> dict[str, str]:
    """The decision a version holding the alias was promoted with (written when registered)."""
    tags = {k: v for k, v in version.tags.items() if k.startswith(PROMOTION_PREFIX)}
    tags.setdefault(REASON_TAG, version.tags.get("promotion_reason", ""))
    tags[DECISION_TAG] = "promoted"
    tags[VERSION_TAG] = str(version.version)
    return tags


def _decision_tags(decision: Decision, family: str, challenger_f1: float) -> dict[str, str]:
    """The `promotion.*` tags of a decision (the parent run's record, the version's copy)."""
    tags = {
        DECISION_TAG: "promoted" if decision.promote else "kept_champion",
        REASON_TAG: decision.reason,
        "promotion.family": family,
        "promotion.challenger_test_f1_macro": f"{challenger_f1:.4f}",
    }
    if decision.champion_f1 is not None:
        tags["promotion.champion_test_f1_macro"] = f"{decision.champion_f1:.4f}"
    if decision.replaced is not None:
        tags[CHAMPION_REPLACED_TAG] = decision.replaced
    return tags


def _version_tags(
    settings: Settings, run_id: str, best: Any, data: Processed, decision: dict[str, str]
) -> dict[str, str]:
    """The tags every registered version carries (DESIGN.md section 5), and the decision's."""
    return {
        "val_f1_macro": f"{best.data.metrics['val_f1_macro']:.4f}",
        "test_f1_macro": decision["promotion.challenger_test_f1_macro"],
        "data_digest": data.manifest["digest"],
        "git_sha": git_sha(settings),
        "promotion_reason": decision[REASON_TAG],
        "family": decision["promotion.family"],
        RUN_ID_TAG: run_id,
        **decision,
    }


def _decide(
    settings: Settings,
    registry: Registry,
    champion: Any | None,
    test: _TestRows,
    challenger_f1: float,
    challenger_sources: dict[str, tuple[float, int]],
) -> Decision:
    """Promote or keep; raises when the champion cannot be reached or loaded (fails closed).

    The challenger must beat the champion on the run's test rows, and must not lose more than
    OCCUPANCY_PROMOTION_MAX_SOURCE_DROP of macro-F1 on any source with at least
    OCCUPANCY_PROMOTION_MIN_SOURCE_ROWS test rows: a better average bought with a worse city is
    not promoted.
    """
    if champion is None:
        return Decision(
            True,
            f"no {registry.settings.model_alias} yet; challenger test macro-F1 {challenger_f1:.4f}",
        )
    version = str(champion.version)
    # Transient faults raise RegistryError (exit 1, retried); an untrusted champion raises
    # UntrustedModelError (exit 2): it is never silently replaced, someone must look.
    loaded = registry.load_version(version)
    change = schema_change(loaded.inputs, test.X)
    if change is not None:
        return Decision(
            True,
            (
                f"champion v{version} cannot score this data: schema change ({change}); "
                f"challenger test macro-F1 {challenger_f1:.4f} replaces it"
            ),
            replaced=SCHEMA_CHANGE,
        )
    predicted = _champion_predictions(registry, version, loaded, test.X)
    champion_f1 = evaluate.macro_f1(test.y, predicted)
    champion_sources = test.by_source(predicted)
    if challenger_f1 <= champion_f1:
        return Decision(
            False,
            (
                f"champion v{version} kept: test macro-F1 {champion_f1:.4f} vs challenger "
                f"{challenger_f1:.4f} on the same test rows"
            ),
            champion_f1,
            champion_sources=champion_sources,
        )
    if (worse := _worst_source(settings, challenger_sources, champion_sources)) is not None:
        name, theirs, ours, rows = worse
        return Decision(
            False,
            (
                f"champion v{version} kept: the challenger beats it overall ({challenger_f1:.4f} "
                f"vs {champion_f1:.4f}) but loses on source {name} ({ours:.4f} vs {theirs:.4f} "
                f"on {rows:,} test rows, more than OCCUPANCY_PROMOTION_MAX_SOURCE_DROP="
                f"{settings.promotion_max_source_drop:g})"
            ),
            champion_f1,
            champion_sources=champion_sources,
        )
    return Decision(
        True,
        (
            f"challenger test macro-F1 {challenger_f1:.4f} beats champion v{version} "
            f"{champion_f1:.4f} on the same test rows"
            + (
                f", on each of {len(champion_sources)} sources within the allowed drop"
                if len(champion_sources) > 1
                else ""
            )
        ),
        champion_f1,
        champion_sources=champion_sources,
    )


def _worst_source(
    settings: Settings,
    challenger: dict[str, tuple[float, int]],
    champion: dict[str, tuple[float, int]],
) -> tuple[str, float, float, int] | None:
    """The source where the challenger loses most beyond the allowed drop: (name, champion's
    macro-F1, challenger's, rows); None when it loses nowhere by more than that."""
    losses = [
        (champion[name][0] - f1, name, champion[name][0], f1, rows)
        for name, (f1, rows) in challenger.items()
        if name in champion and rows >= settings.promotion_min_source_rows
    ]
    over = [loss for loss in losses if loss[0] > settings.promotion_max_source_drop]
    if not over:
        return None
    _, name, theirs, ours, rows = max(over)
    return name, theirs, ours, rows


def _champion_predictions(
    registry: Registry, version: str, loaded: LoadedModel, X_test: Any
) -> Any:
    """The champion's predictions on the test rows, given its own input columns only."""
    columns = input_columns(loaded.inputs) or list(X_test.columns)
    try:
        return loaded.model.predict(X_test[columns])
    except Exception as exc:  # its schema fits: nothing proves that it cannot score
        raise ChampionError(
            f"champion v{version} could not score this run's test rows although its logged input "
            f"schema fits them ({type(exc).__name__}: {exc}): it stays the champion; inspect "
            f"models:/{registry.settings.model_name}/{version} before promoting again"
        ) from exc


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
