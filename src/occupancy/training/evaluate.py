"""Scores and evidence for a fitted model: metrics, confusion matrix, importances, report, card."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    confusion_matrix,
    f1_score,
    log_loss,
)

from occupancy.data.schema import CLASSES

LABELS = list(CLASSES)


def macro_f1(y_true: pd.Series, y_pred: np.ndarray) -> float:
    """Macro-averaged F1 over the four occupancy levels (the selection metric)."""
    return float(f1_score(y_true, y_pred, labels=LABELS, average="macro", zero_division=0))


def split_metrics(model: Any, X: pd.DataFrame, y: pd.Series, prefix: str) -> dict[str, float]:
    """Macro-F1, accuracy, per-class F1 and log loss of a model on one split."""
    proba = model.predict_proba(X)
    classes = list(model.classes_)
    predicted = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
    per_class = f1_score(y, predicted, labels=LABELS, average=None, zero_division=0)
    # log_loss expects columns in sorted label order; classes absent from training get 0.
    ordered = sorted(LABELS)
    aligned = np.column_stack(
        [proba[:, classes.index(c)] if c in classes else np.zeros(len(y)) for c in ordered]
    )
    metrics = {
        f"{prefix}_f1_macro": macro_f1(y, predicted),
        f"{prefix}_accuracy": float(accuracy_score(y, predicted)),
        f"{prefix}_log_loss": float(log_loss(y, np.clip(aligned, 1e-15, 1.0), labels=ordered)),
    }
    metrics.update(
        {f"{prefix}_f1_{label}": float(v) for label, v in zip(LABELS, per_class, strict=True)}
    )
    return metrics


def by_source(
    y_true: pd.Series, y_pred: np.ndarray, sources: pd.Series
) -> dict[str, tuple[float, int]]:
    """Macro-F1 and row count of each source's rows (a run may train on several cities)."""
    truth, predicted = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    names = np.asarray(sources, dtype=object)
    scores = {}
    for name in sorted(set(names)):
        rows = names == name
        scores[str(name)] = (macro_f1(pd.Series(truth[rows]), predicted[rows]), int(rows.sum()))
    return scores


def source_metrics(scores: dict[str, tuple[float, int]], prefix: str) -> dict[str, float]:
    """`by_source`'s scores as MLflow metrics: `<prefix>_f1_macro/<source>`, `<prefix>_rows/…`."""
    metrics = {}
    for name, (f1, rows) in scores.items():
        metrics[f"{prefix}_f1_macro/{name}"] = f1
        metrics[f"{prefix}_rows/{name}"] = float(rows)
    return metrics


def predict_latency_ms(model: Any, X: pd.DataFrame, repeats: int = 20) -> dict[str, float]:
    """Median latency of one-row and 1,000-row predict_proba calls, in milliseconds."""
    one = X.iloc[:1]
    batch = X.iloc[: min(1000, len(X))]
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict_proba(one)
        timings.append(time.perf_counter() - start)
    start = time.perf_counter()
    model.predict_proba(batch)
    batch_ms = (time.perf_counter() - start) * 1000
    return {
        "predict_ms_one_row": float(np.median(timings) * 1000),
        "predict_ms_1000_rows": batch_ms,
    }


def write_confusion_matrix(
    model: Any, X: pd.DataFrame, y: pd.Series, path: Path, title: str
) -> Path:
    """A confusion-matrix PNG (rows: truth, columns: prediction)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = confusion_matrix(y, model.predict(X), labels=LABELS)
    fig, ax = plt.subplots(figsize=(5, 4.2))
    ax.imshow(matrix, cmap="Blues")
    ax.set(xticks=range(4), yticks=range(4), xticklabels=LABELS, yticklabels=LABELS)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    for i in range(4):
        for j in range(4):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", color="black")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def input_importance(
    model: Any, X: pd.DataFrame, y: pd.Series, seed: int, rows: int = 1000
) -> pd.Series:
    """Permutation importance of each input column (macro-F1 drop), comparable across families."""
    sample = X.sample(n=min(rows, len(X)), random_state=seed)
    result = permutation_importance(
        model,
        sample,
        y.loc[sample.index],
        scoring="f1_macro",
        n_repeats=2,
        random_state=seed,
        n_jobs=1,
    )
    return pd.Series(result.importances_mean, index=X.columns).sort_values(ascending=False)


def write_importance_plot(importance: pd.Series, path: Path, title: str, top: int = 20) -> Path:
    """A horizontal bar chart of the most important input columns."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    head = importance.head(top)[::-1]
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.barh(head.index, head.values, color="#4C72B0")
    ax.set(xlabel="macro-F1 drop when shuffled (validation sample)", title=title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def text_report(model: Any, X: pd.DataFrame, y: pd.Series) -> str:
    """scikit-learn's classification report on one split."""
    return str(classification_report(y, model.predict(X), labels=LABELS, zero_division=0))


def model_card(
    family: str,
    params: dict[str, Any],
    metrics: dict[str, float],
    data: dict[str, Any],
    top_inputs: list[str],
    per_source: dict[str, tuple[float, int]] | None = None,
) -> str:
    """A short Markdown model card: what it is, what it saw, how well it did, what it must not do."""
    overall = {k: v for k, v in metrics.items() if "/" not in k}
    sources = per_source or {}
    lines = [
        f"# Occupancy level classifier: {family}",
        "",
        "Predicts the occupancy level (zero: 0 nights, low: 1-30, mid: 31-120, high: 121+ nights",
        "booked in the last 365 days) of a short-term rental listing from what the listing *is*",
        "(cold start). Review, availability and calendar columns are excluded because Inside",
        "Airbnb derives the occupancy estimate from them.",
        "",
        "## Training data",
        f"- processed data: `{data.get('uri')}` (digest `{data.get('digest')}`)",
        f"- rows: train {data.get('train_rows')}, valid {data.get('valid_rows')}, test {data.get('test_rows')}"
        " (split by a hash of host_id: no host is in two splits)",
        "",
        "## Hyperparameters",
        *(f"- {k}: {v}" for k, v in sorted(params.items())),
        "",
        "## Metrics",
        *(f"- {k}: {v:.4f}" for k, v in sorted(overall.items())),
        "",
        "## Validation macro-F1 per source",
        "| source | rows | macro-F1 |",
        "|---|---:|---:|",
        *(f"| {name} | {rows:,} | {f1:.4f} |" for name, (f1, rows) in sorted(sources.items())),
        "",
        "## Most important inputs (permutation, validation sample)",
        *(f"- {name}" for name in top_inputs),
        "",
        "## Limits",
        f"- Trained on {len(sources) or 1} scrape(s): occupancy patterns differ between cities "
        "and seasons; a city absent from the table above was never seen.",
        "- Inside Airbnb's occupancy is itself an estimate derived from reviews.",
    ]
    return "\n".join(lines) + "\n"
