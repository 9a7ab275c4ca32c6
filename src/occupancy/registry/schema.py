"""Whether a logged model's input signature can take a frame's columns: a proof, not a guess.

Promotion may replace a champion without scoring it only when the champion provably cannot
score the new data. The proof is read from the signature the model was logged with (column
names and types), compared with the new data before anything is predicted: a column the
champion needs that the data lacks, or one whose kind changed (numbers, text, dates...). Extra
columns in the data are no proof: the champion is given its own columns only.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

# MLflow's column types by the kind of values they hold: within a kind, pandas and scikit-learn
# convert on their own (an int column scores where doubles were logged).
_KIND_OF_TYPE = {
    "boolean": "number",
    "integer": "number",
    "long": "number",
    "float": "number",
    "double": "number",
    "string": "text",
    "binary": "bytes",
    "datetime": "datetime",
}


def input_columns(inputs: Any | None) -> list[str] | None:
    """The column names a logged input schema names, or None when it names none."""
    if inputs is None:
        return None
    names = [spec.name for spec in getattr(inputs, "inputs", [])]
    if not names or any(name is None for name in names):
        return None  # a tensor or unnamed schema: no columns to check against
    return [str(name) for name in names]


def schema_change(inputs: Any | None, frame: pd.DataFrame) -> str | None:
    """Why a model with input schema `inputs` cannot take `frame`, or None if nothing proves it.

    `inputs` is a logged signature's input schema (`mlflow.types.Schema`); None, or a schema
    without column names, proves nothing.
    """
    names = input_columns(inputs)
    if names is None:
        return None
    missing = [name for name in names if name not in frame.columns]
    changed = []
    for spec in inputs.inputs:  # type: ignore[union-attr]  # input_columns checked it
        if spec.name in missing:
            continue
        logged = _KIND_OF_TYPE.get(str(getattr(spec.type, "name", spec.type)), str(spec.type))
        now = _kind_of_dtype(frame[spec.name])
        if logged != now:
            changed.append(f"{spec.name} ({logged}, now {now})")
    problems = []
    if missing:
        problems.append(f"it needs columns the new data lacks: {', '.join(missing)}")
    if changed:
        problems.append(f"columns changed kind: {', '.join(changed)}")
    return "; ".join(problems) or None


def _kind_of_dtype(column: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(column):
        return "datetime"
    if pd.api.types.is_string_dtype(column) or pd.api.types.is_object_dtype(column):
        return "text"
    return str(column.dtype)
