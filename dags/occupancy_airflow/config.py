"""How step tasks run, read once from the environment of the Airflow process at parse time.

| variable | default | meaning |
|---|---|---|
| OCCUPANCY_STEP_RUNNER | local | `kubernetes`: one pod per step; `local`: a subprocess |
| OCCUPANCY_STEP_IMAGE | occupancy-app:latest | image of the step pods |
| OCCUPANCY_STEP_IMAGE_PULL_POLICY | IfNotPresent | their pull policy |
| OCCUPANCY_STEP_NAMESPACE | (Airflow's own) | namespace of the step pods |
| OCCUPANCY_STEP_CONFIGMAP | occupancy-step-env | ConfigMap whose keys become the pods' env |
| OCCUPANCY_STEP_SECRET | occupancy-step-secrets | Secret whose keys become the pods' env |
| OCCUPANCY_STEP_SERVICE_ACCOUNT | (none) | service account of the step pods |
| OCCUPANCY_STEP_POD_LABELS | (none) | extra pod labels, `k=v,k=v` (what NetworkPolicies admit) |
| OCCUPANCY_STEP_RETRIES | 2 | retries of a failed step (with exponential delay) |
| OCCUPANCY_STEP_RETRY_DELAY | 60 | seconds before the first retry (doubling, at most 10 min) |
| OCCUPANCY_LOCAL_STEP_BIN | `occupancy` on PATH | the executable the local runner starts |
| OCCUPANCY_MODEL_FAMILIES | logreg,hgb,forest,mlp | families trained in parallel |
| OCCUPANCY_TRAIN_CONCURRENCY | 2 | training pods running at once (the rest wait their turn) |
| OCCUPANCY_MAX_PARALLEL_SOURCES | 2 | ingest (and treat) pods of one run at once, one per raw source |
| OCCUPANCY_SCORE_CONCURRENCY | 2 | batch scoring pods of one run at once, one per chunk |
| OCCUPANCY_TRAIN_CPU_REQUEST | 500m | CPU request of a training pod (limit: 2) |
| OCCUPANCY_TRAIN_MEMORY_REQUEST | 1Gi | memory request of a training pod (limit: 6Gi) |

The training defaults fit a laptop's kind node (4 CPUs, 8 GiB): the platform requests about 2 CPUs
and 4.75 GiB, so two training pods of 500m / 1Gi fit beside it; four of 1 CPU / 2 GiB stayed
Pending until their startup timeout. On a bigger cluster raise all three.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

RUNNERS = ("local", "kubernetes")
# = occupancy.training.models.FAMILIES: DAGs never import the package (tests/dags/test_contracts.py)
DEFAULT_FAMILIES = ("logreg", "hgb", "forest", "mlp")


@dataclass(frozen=True)
class Resources:
    """Requests and limits of one kind of step pod."""

    cpu_request: str
    memory_request: str
    cpu_limit: str
    memory_limit: str
    timeout: timedelta


# Sized from `make bench`: ingest + treat of 1M rows peak at 1.3 GB; training is the heavy step.
LIGHT = Resources("100m", "256Mi", "500m", "512Mi", timedelta(minutes=10))
DATA = Resources("500m", "1Gi", "2", "3Gi", timedelta(hours=1))
TRAIN = Resources("500m", "1Gi", "2", "6Gi", timedelta(hours=2))
QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|Ki|Mi|Gi)?$")  # a Kubernetes quantity


@dataclass(frozen=True)
class StepConfig:
    """Everything the step factory needs, from OCCUPANCY_* variables (see the module docstring)."""

    runner: str
    image: str
    image_pull_policy: str
    namespace: str | None
    configmap: str
    secret: str
    service_account: str | None
    pod_labels: dict[str, str]
    retries: int
    retry_delay: timedelta
    local_bin: str
    families: tuple[str, ...]
    train: Resources
    train_concurrency: int
    source_concurrency: int = 2
    score_concurrency: int = 2


def load_step_config(env: dict[str, str] | None = None) -> StepConfig:
    """Read and check the configuration; a bad value fails DAG parsing with a clear message."""
    env = dict(os.environ) if env is None else env
    runner = env.get("OCCUPANCY_STEP_RUNNER", "local").strip().lower()
    if runner not in RUNNERS:
        raise ValueError(f"OCCUPANCY_STEP_RUNNER must be one of {RUNNERS}, got {runner!r}")
    retries = env.get("OCCUPANCY_STEP_RETRIES", "2")
    if not retries.isdigit():
        raise ValueError(f"OCCUPANCY_STEP_RETRIES must be a whole number >= 0, got {retries!r}")
    retry_delay = env.get("OCCUPANCY_STEP_RETRY_DELAY", "60")
    if not retry_delay.isdigit() or int(retry_delay) < 1:
        raise ValueError(
            f"OCCUPANCY_STEP_RETRY_DELAY must be a whole number of seconds >= 1, got {retry_delay!r}"
        )
    families = tuple(
        f.strip()
        for f in env.get("OCCUPANCY_MODEL_FAMILIES", ",".join(DEFAULT_FAMILIES)).split(",")
    )
    unknown = [f for f in families if f not in DEFAULT_FAMILIES]
    if unknown or not families:
        raise ValueError(
            f"OCCUPANCY_MODEL_FAMILIES holds unknown families {unknown}: use some of {DEFAULT_FAMILIES}"
        )
    concurrency = _at_least_one(env, "OCCUPANCY_TRAIN_CONCURRENCY")
    sources = _at_least_one(env, "OCCUPANCY_MAX_PARALLEL_SOURCES")
    scoring = _at_least_one(env, "OCCUPANCY_SCORE_CONCURRENCY")
    requests = {
        name: env.get(name, default)
        for name, default in (
            ("OCCUPANCY_TRAIN_CPU_REQUEST", TRAIN.cpu_request),
            ("OCCUPANCY_TRAIN_MEMORY_REQUEST", TRAIN.memory_request),
        )
    }
    for name, value in requests.items():
        if not QUANTITY.match(value):
            raise ValueError(
                f"{name} must be a Kubernetes quantity such as 500m or 1Gi, got {value!r}"
            )
    labels = env.get("OCCUPANCY_STEP_POD_LABELS", "").strip()
    pairs = [item.split("=", 1) for item in labels.split(",") if item.strip()] if labels else []
    if any(len(pair) != 2 or not pair[0].strip() for pair in pairs):
        raise ValueError(f"OCCUPANCY_STEP_POD_LABELS must be key=value,key=value; got {labels!r}")
    return StepConfig(
        runner=runner,
        image=env.get("OCCUPANCY_STEP_IMAGE", "occupancy-app:latest"),
        image_pull_policy=env.get("OCCUPANCY_STEP_IMAGE_PULL_POLICY", "IfNotPresent"),
        namespace=env.get("OCCUPANCY_STEP_NAMESPACE") or None,
        configmap=env.get("OCCUPANCY_STEP_CONFIGMAP", "occupancy-step-env"),
        secret=env.get("OCCUPANCY_STEP_SECRET", "occupancy-step-secrets"),
        service_account=env.get("OCCUPANCY_STEP_SERVICE_ACCOUNT") or None,
        pod_labels={key.strip(): value.strip() for key, value in pairs},
        retries=int(retries),
        retry_delay=timedelta(seconds=int(retry_delay)),
        local_bin=env.get("OCCUPANCY_LOCAL_STEP_BIN", "occupancy"),
        families=families,
        train=replace(
            TRAIN,
            cpu_request=requests["OCCUPANCY_TRAIN_CPU_REQUEST"],
            memory_request=requests["OCCUPANCY_TRAIN_MEMORY_REQUEST"],
        ),
        train_concurrency=concurrency,
        source_concurrency=sources,
        score_concurrency=scoring,
    )


def _at_least_one(env: dict[str, str], name: str, default: str = "2") -> int:
    value = env.get(name, default)
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    return int(value)


# A step's exit code when its input or a contract is wrong (= occupancy.errors.EXIT_BAD_INPUT,
# tests/dags/test_contracts.py): no retry can fix it, so both runners fail the task at once.
EXIT_BAD_INPUT = 2
# A step's exit code when it has nothing to do (= occupancy.errors.EXIT_SKIPPED): a source whose
# ingest failed is not treated, and the task is marked skipped instead of failed.
EXIT_SKIPPED = 3
# Where a step writes its summary for a task that returns it as XCom (= occupancy.cli.
# RESULT_FILE_ENV, tests/dags/test_contracts.py).
RESULT_FILE_ENV = "OCCUPANCY_STEP_RESULT_FILE"

RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:+-]{0,127}$"  # = occupancy.run_layout.RUN_ID_PATTERN (tests/dags/test_contracts.py)

# What both DAGs share: on demand or on the Asset only, never a backfill, one run at a time.
DAG_DEFAULTS: dict[str, Any] = {
    "start_date": datetime(2025, 1, 1, tzinfo=UTC),
    "catchup": False,
    "max_active_runs": 1,
    "default_args": {"owner": "occupancy"},
}
