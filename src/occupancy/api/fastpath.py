"""A fast path compiled from a logged pipeline at load time, for small request batches.

For one listing, scikit-learn spends its time in overhead, not arithmetic: pandas inside the
ColumnTransformer and one Python-level call per tree in HistGradientBoosting (hundreds of trees).
`compile_pipeline` reads the fitted parameters once and replays them with NumPy: imputation
(medians, missing indicators), scaling, one-hot maps, the amenity vocabulary, and, for
HistGradientBoosting, all trees flattened into arrays and walked together. Other classifiers get
the dense matrix directly. The result is checked against the logged model (`verify`) before it
may serve; anything it does not recognise compiles to None and the model serves as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from occupancy.data.clean import AMENITIES_COLUMN, CATEGORICAL_FEATURES, NUMERIC_FEATURES
from occupancy.data.parsing import AMENITY_SEPARATOR
from occupancy.data.rows import CleanedRows

TOLERANCE = 1e-6
_UNKNOWN = "\x00occupancy-unknown-category\x00"


@dataclass(frozen=True)
class _Numeric:
    medians: np.ndarray
    indicator_columns: np.ndarray
    mean: np.ndarray | None
    scale: np.ndarray | None

    def width(self) -> int:
        return len(self.medians) + len(self.indicator_columns)


@dataclass(frozen=True)
class _Categorical:
    offsets: list[int]
    maps: list[dict[Any, int]]  # value → output column (relative to the block), -1 for none
    unknown: list[int]
    width: int


@dataclass(frozen=True)
class _Trees:
    """All trees of a HistGradientBoosting model as flat arrays (node ids are global)."""

    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    is_leaf: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    tree_class: np.ndarray
    baseline: np.ndarray
    n_classes: int

    def raw(self, X: np.ndarray) -> np.ndarray:
        node = np.broadcast_to(self.roots, (X.shape[0], len(self.roots))).copy()
        rows = np.arange(X.shape[0])[:, None]
        while True:
            active = ~self.is_leaf[node]
            if not active.any():
                break
            values = X[rows, self.feature[node]]
            go_left = np.where(
                np.isnan(values), self.missing_left[node], values <= self.threshold[node]
            )
            step = np.where(go_left, self.left[node], self.right[node])
            node = np.where(active, step, node)
        leaf_values = self.value[node]
        raw = np.tile(self.baseline, (X.shape[0], 1))
        for k in range(self.n_classes):
            raw[:, k] += leaf_values[:, self.tree_class == k].sum(axis=1)
        return raw


@dataclass(frozen=True)
class FastModel:
    """The compiled pipeline: cleaned listing columns in, class probabilities out."""

    numeric: _Numeric
    categorical: _Categorical
    vocabulary: dict[str, int]
    lowercase: bool
    classifier: Any
    trees: _Trees | None

    def encode(self, cleaned: CleanedRows) -> np.ndarray:
        """The dense matrix the classifier was fitted on."""
        values = cleaned.numeric
        n = len(values)
        missing = np.isnan(values)
        imputed = np.where(missing, self.numeric.medians, values)
        numeric = np.hstack([imputed, missing[:, self.numeric.indicator_columns].astype("float64")])
        if self.numeric.mean is not None and self.numeric.scale is not None:
            numeric = (numeric - self.numeric.mean) / self.numeric.scale
        onehot = np.zeros((n, self.categorical.width))
        for j, column in enumerate(cleaned.categorical):
            mapping, offset, unknown = (
                self.categorical.maps[j],
                self.categorical.offsets[j],
                self.categorical.unknown[j],
            )
            for i, value in enumerate(column):
                missing_value = value is None or (isinstance(value, float) and np.isnan(value))
                index = mapping.get("missing" if missing_value else value, unknown)
                if index >= 0:
                    onehot[i, offset + index] = 1.0
        amenities = np.zeros((n, len(self.vocabulary)))
        for i, joined in enumerate(cleaned.amenities):
            text = joined.lower() if self.lowercase and isinstance(joined, str) else joined or ""
            for token in text.split(AMENITY_SEPARATOR):
                position = self.vocabulary.get(token)
                if position is not None:
                    amenities[i, position] = 1.0
        return np.hstack([numeric, onehot, amenities])

    def predict_rows(self, cleaned: CleanedRows) -> np.ndarray:
        """Class probabilities (in `classifier.classes_` order) for cleaned listings."""
        X = self.encode(cleaned)
        if self.trees is None:
            return np.asarray(self.classifier.predict_proba(X))
        raw = self.trees.raw(X)
        raw -= raw.max(axis=1, keepdims=True)
        exp = np.exp(raw)
        return np.asarray(exp / exp.sum(axis=1, keepdims=True))

    def predict_proba(self, cleaned: pd.DataFrame) -> np.ndarray:
        """The same from a cleaned DataFrame (`clean_listings` output)."""
        return self.predict_rows(
            CleanedRows(
                numeric=cleaned[list(NUMERIC_FEATURES)].to_numpy(dtype="float64", na_value=np.nan),
                categorical=[cleaned[name].tolist() for name in CATEGORICAL_FEATURES],
                amenities=cleaned[AMENITIES_COLUMN].tolist(),
            )
        )


def _numeric_block(numeric: Any) -> _Numeric:
    imputer = numeric.named_steps["impute"]
    indicator = getattr(imputer, "indicator_", None)
    columns = np.asarray(indicator.features_ if indicator is not None else [], dtype=int)
    scaler = numeric.named_steps.get("scale")
    return _Numeric(
        medians=np.asarray(imputer.statistics_, dtype="float64"),
        indicator_columns=columns,
        mean=None if scaler is None else np.asarray(scaler.mean_),
        scale=None if scaler is None else np.asarray(scaler.scale_),
    )


def _categorical_block(categorical: Any) -> _Categorical:
    """Maps learned by asking the fitted encoder about every known category (exact by design)."""
    encoder = categorical.named_steps["encode"]
    sizes = [int(n) for n in encoder._n_features_outs]
    offsets = list(np.cumsum([0, *sizes[:-1]]))
    maps: list[dict[Any, int]] = []
    unknown: list[int] = []
    for j in range(len(CATEGORICAL_FEATURES)):
        known = [*encoder.categories_[j].tolist(), _UNKNOWN]
        probe = pd.DataFrame(
            {
                name: [encoder.categories_[i][0]] * len(known)
                for i, name in enumerate(CATEGORICAL_FEATURES)
            }
        )
        probe[CATEGORICAL_FEATURES[j]] = known
        # The encoder was fitted on the imputer's array output, so it is asked with an array.
        block = encoder.transform(probe.to_numpy(dtype=object))[
            :, offsets[j] : offsets[j] + sizes[j]
        ]
        hits = [int(row.argmax()) if row.any() else -1 for row in block]
        maps.append(dict(zip(known[:-1], hits[:-1], strict=True)))
        unknown.append(hits[-1])
    return _Categorical(
        offsets=[int(o) for o in offsets], maps=maps, unknown=unknown, width=sum(sizes)
    )


def _trees(classifier: Any) -> _Trees | None:
    predictors = getattr(classifier, "_predictors", None)
    if predictors is None:
        return None
    nodes, roots, classes = [], [], []
    start = 0
    for iteration in predictors:
        for k, predictor in enumerate(iteration):
            tree = predictor.nodes
            if tree["is_categorical"].any():
                return None
            nodes.append(tree)
            roots.append(start)
            classes.append(k)
            start += len(tree)
    flat = np.concatenate(nodes)
    offsets = np.repeat(np.asarray(roots), [len(t) for t in nodes])
    baseline = np.asarray(classifier._baseline_prediction, dtype="float64").reshape(-1)
    return _Trees(
        feature=flat["feature_idx"].astype(np.intp),
        threshold=flat["num_threshold"],
        missing_left=flat["missing_go_to_left"].astype(bool),
        left=(flat["left"].astype(np.intp) + offsets),
        right=(flat["right"].astype(np.intp) + offsets),
        is_leaf=flat["is_leaf"].astype(bool),
        value=flat["value"],
        roots=np.asarray(roots, dtype=np.intp),
        tree_class=np.asarray(classes),
        baseline=baseline,
        n_classes=len(baseline),
    )


def compile_pipeline(model: Any) -> FastModel | None:
    """A FastModel for this product's pipeline shape, or None for anything else."""
    try:
        preprocess, classifier = model.named_steps["preprocess"], model.named_steps["classify"]
        blocks = dict((name, transformer) for name, transformer, _ in preprocess.transformers_)
        vectorizer = blocks["amenities"]
        trees = _trees(classifier)
        if trees is None and hasattr(classifier, "_predictors"):
            return None
        if trees is not None and trees.n_classes != len(classifier.classes_):
            return None
        if hasattr(classifier, "n_jobs"):
            classifier.n_jobs = 1  # one listing does not pay for a thread pool
        return FastModel(
            numeric=_numeric_block(blocks["numeric"]),
            categorical=_categorical_block(blocks["categorical"]),
            vocabulary={str(k): int(v) for k, v in vectorizer.vocabulary_.items()},
            lowercase=bool(vectorizer.lowercase),
            classifier=classifier,
            trees=trees,
        )
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


def verify(fast: FastModel, model: Any, sample: pd.DataFrame) -> float:
    """Largest absolute probability difference between the fast path and the model on a sample."""
    return float(np.abs(fast.predict_proba(sample) - model.predict_proba(sample)).max())
