"""Two `occupancy serve` replicas on one real MLflow server converge on a moved `@champion`
within one poll interval, plus the time each takes to load the new version."""

from __future__ import annotations

import json
import re
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from api_support import publish, serve_env, start_serve, wait_until
from servers import MlflowServer, free_port
from servers.process import log_tail, terminate

pytestmark = pytest.mark.integration
POLL_SECONDS = 5.0
# Beyond the poll interval and the replica's own load time: one check's round trips to MLflow
# and a busy 2-core machine answering our probes.
MARGIN_SECONDS = 3.0


def _served_version(port: int) -> str | None:
    """The version a replica's readiness names, or None while it is not ready."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=5) as r:
            return str(json.loads(r.read())["version"])
    except OSError:
        return None


def _load_seconds(log: Path, name: str, version: str) -> float:
    """How long the replica took to load `version` (`holder` logs it)."""
    found = re.search(rf"loaded models:/{name}/{version} in ([0-9.]+) s", log.read_text())
    assert found, f"no load of v{version} in {log}"
    return float(found.group(1))


def test_two_replicas_serve_a_moved_champion_within_one_poll_interval(
    tmp_path, fitted, mlflow_server: MlflowServer
) -> None:
    from mlflow.tracking import MlflowClient

    model, valid = fitted
    name = f"replicas-{uuid.uuid4().hex[:8]}"
    first = publish(mlflow_server.url, name, model, valid.head(50))
    replicas = []
    for index in range(2):
        home, port = tmp_path / f"replica{index}", free_port()
        home.mkdir()
        log = home / "serve.log"
        env = serve_env(home, mlflow_server.url, name)
        process = start_serve(env, port, log, "--poll-seconds", str(POLL_SECONDS))
        replicas.append((process, port, log))
    try:
        for _, port, _ in replicas:
            wait_until(lambda p=port: _served_version(p) == first, 300, f"replica :{port} ready")
        second = publish(mlflow_server.url, name, model, valid.head(50), alias="challenger")
        client = MlflowClient(mlflow_server.url, mlflow_server.url)

        moved = time.monotonic()
        client.set_registered_model_alias(name, "champion", second)
        converged: dict[int, float] = {}
        deadline = moved + 120
        while len(converged) < len(replicas) and time.monotonic() < deadline:
            for _, port, _ in replicas:
                if port not in converged and _served_version(port) == second:
                    converged[port] = time.monotonic() - moved
            time.sleep(0.05)
        assert len(converged) == len(replicas), f"only {converged} serve v{second}"

        for _, port, log in replicas:
            loading = _load_seconds(log, name, second)
            print(
                f"replica :{port} served v{second} {converged[port]:.2f} s after the move "
                f"(load {loading:.2f} s, poll {POLL_SECONDS:.0f} s)"
            )
            assert converged[port] <= POLL_SECONDS + loading + MARGIN_SECONDS
    except BaseException:
        for _, _, log in replicas:
            print(log_tail(log))
        raise
    finally:
        for process, _, _ in replicas:
            terminate(process)
