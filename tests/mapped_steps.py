"""The argument lists of a mapped step task, for tests that render its pods without a run.

A mapped step expands over arguments given in the DAG (train: one per family) or computed at
run time from a step's result by a task of the DAG (ingest and treat: one per source of the
sources step; score: one per chunk of the plan). For the latter the DAG's own task runs here on
ONE_ELEMENT, whose values are templates: the arguments then hold `--run-id`, `--raw`,
`--source` or `--chunk` templates that a replay fills in.
"""

from __future__ import annotations

from typing import Any

ONE_ELEMENT = {
    "run_id": "{{ run_id }}",
    "sources": [{"name": "{{ source }}", "uri": "{{ raw }}"}],
    "chunks": ["{{ chunk }}"],
}


def mapped_arguments(task: Any) -> list[list[str]]:
    """The argument lists `task` (a mapped step) expands over, one per pod."""
    value = task.expand_input.value["arguments"]
    if isinstance(value, list):
        return value
    producer = value.operator
    return list(producer.python_callable(ONE_ELEMENT, *producer.op_args[1:]))
