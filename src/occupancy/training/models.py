"""The model families and their small hyperparameter grids.

Every family is one scikit-learn Pipeline: the shared preprocessor, then a classifier. Grids are
modest on purpose: the pipeline runs on two-core machines and in CI, and each grid point is
scored on the validation split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline

from occupancy.features import build_preprocessor


@dataclass(frozen=True)
class Family:
    """A model family: whether its inputs need scaling, and its hyperparameter grid."""

    name: str
    scale: bool
    grid: tuple[dict[str, Any], ...]

    def build(self, params: dict[str, Any], seed: int) -> Pipeline:
        """A fresh, unfitted pipeline for one grid point."""
        return Pipeline(
            [
                ("preprocess", build_preprocessor(scale=self.scale)),
                ("classify", _classifier(self.name, params, seed)),
            ]
        )


FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family("logreg", scale=True, grid=({"C": 0.1}, {"C": 1.0})),
        Family(
            "hgb",
            scale=False,
            grid=(
                {"learning_rate": 0.1, "max_leaf_nodes": 15},
                {"learning_rate": 0.1, "max_leaf_nodes": 31},
            ),
        ),
        Family(
            "forest",
            scale=False,
            grid=({"min_samples_leaf": 2}, {"min_samples_leaf": 5}),
        ),
        Family(
            "mlp",
            scale=True,
            grid=(
                {"hidden_layer_sizes": (64,), "alpha": 1e-3},
                {"hidden_layer_sizes": (128, 64), "alpha": 1e-2},
            ),
        ),
    )
}


def _classifier(family: str, params: dict[str, Any], seed: int) -> Any:
    # class_weight="balanced": the product is judged on macro-F1, and "low" is often rare.
    if family == "logreg":
        return LogisticRegression(max_iter=3000, class_weight="balanced", **params)
    if family == "hgb":
        return HistGradientBoostingClassifier(
            max_iter=200,
            early_stopping=True,
            validation_fraction=0.1,
            n_iter_no_change=10,
            class_weight="balanced",
            random_state=seed,
            **params,
        )
    if family == "forest":
        return RandomForestClassifier(
            n_estimators=150,
            max_features="sqrt",
            max_depth=24,
            class_weight="balanced_subsample",
            n_jobs=-1,
            random_state=seed,
            **params,
        )
    if family == "mlp":
        return MLPClassifier(
            max_iter=300, early_stopping=True, n_iter_no_change=10, random_state=seed, **params
        )
    raise ValueError(f"unknown model family {family!r}")  # pragma: no cover - guarded by FAMILIES
