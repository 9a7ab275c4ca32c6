"""`occupancy serve` answers its probes while it scores: requests are scored off the event loop.

A real server process serving a HistGradientBoosting champion from the real MLflow server (PostgreSQL,
S3 artifacts) gets two 1,000-listing batches back to back from two clients, while a third client
probes /health/live and /health/ready the way a kubelet does (a new connection each time).
"""

from __future__ import annotations

import gc
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from api_support import http_status, publish, wait_until
from servers import MlflowServer, free_port
from threadpoolctl import threadpool_limits

from occupancy.data.clean import MODEL_INPUT_COLUMNS, treat_frame
from occupancy.training.models import FAMILIES

pytestmark = pytest.mark.integration
OCCUPANCY = Path(sys.executable).parent / "occupancy"
BATCH_ROWS = 1000
PROBE_BUDGET_MS = 100.0  # for every probe
# Measured on 2 cores: p50 2.7 ms, max 25-27 ms. With CPython's default GIL switch interval
# (5 ms, not `occupancy.api.server.GIL_SWITCH_SECONDS`) the max was 120-150 ms; with scoring on
# the event loop, a p50 of 304 ms and a max of 1,402 ms.
BATCHES_PER_CLIENT = 4
MIN_PROBES_UNDER_LOAD = 30


@dataclass(frozen=True)
class Timed:
    """One request: what, when it started and ended (monotonic seconds), its status."""

    what: str
    started: float
    ended: float
    status: int

    @property
    def ms(self) -> float:
        return (self.ended - self.started) * 1000


@contextmanager
def _serving(tmp_path: Path, tracking_uri: str, model_name: str) -> Iterator[int]:
    """An `occupancy serve` process on a free port, ready; stopped afterwards."""
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OCCUPANCY_", "MLFLOW_", "AWS_"))
    }
    env |= {
        "OCCUPANCY_HOME": str(tmp_path / "home"),
        "OCCUPANCY_MODEL_NAME": model_name,
        "MLFLOW_TRACKING_URI": tracking_uri,
    }
    server = subprocess.Popen(
        [str(OCCUPANCY), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(
            lambda: http_status(f"http://127.0.0.1:{port}/health/ready") == 200, 180, "readiness"
        )
        yield port
    finally:
        server.terminate()
        try:
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def _probe(port: int, path: str) -> Timed:
    """One GET on a new connection, as a kubelet probe makes it."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        status = response.status
    finally:
        connection.close()
    return Timed(path, started, time.monotonic(), status)


def _under_load(probe: Timed, batches: list[Timed], clients: int) -> bool:
    """Whether a batch of every client was in flight for the whole of the probe."""
    covering = {b.what for b in batches if b.started <= probe.started and b.ended >= probe.ended}
    return len(covering) == clients


def test_every_probe_answers_within_100_ms_during_two_1000_listing_batches(
    tmp_path, newark, mlflow_server: MlflowServer
) -> None:
    table = treat_frame(newark)
    X = table[list(MODEL_INPUT_COLUMNS)]
    train = table["split"] == "train"
    family = FAMILIES["hgb"]
    with threadpool_limits(limits=1):  # as the train step fits: OpenMP spins on 2 shared cores
        model = family.build(family.grid[0], 42).fit(X[train], table.loc[train, "occupancy_level"])
    name = f"probes-{uuid.uuid4().hex[:8]}"
    publish(mlflow_server.url, name, model, X[~train].head(50))

    rows = newark.head(BATCH_ROWS).to_dict(orient="records")
    body = json.dumps({"listings": [{k: v for k, v in r.items() if v != ""} for r in rows]})
    payload = body.encode()

    with _serving(tmp_path, mlflow_server.url, name) as port:
        batches: list[Timed] = []
        probes: list[Timed] = []
        done = threading.Event()

        def send_batches(client: str) -> None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            try:
                while not done.is_set():
                    started = time.monotonic()
                    connection.request(
                        "POST", "/predict", payload, {"Content-Type": "application/json"}
                    )
                    response = connection.getresponse()
                    answer = response.read()
                    # Count, not parse: a JSON decode here would compete with the probes' client.
                    scored = answer.count(b'"occupancy_level"')
                    status = response.status if scored == BATCH_ROWS else -response.status
                    batches.append(Timed(client, started, time.monotonic(), status))
            finally:
                connection.close()

        clients = [
            threading.Thread(target=send_batches, args=(f"client-{i}",), daemon=True)
            for i in range(2)
        ]
        for client in clients:
            client.start()

        def enough() -> bool:
            finished = list(batches)
            return (
                all(
                    sum(b.what == f"client-{i}" for b in finished) >= BATCHES_PER_CLIENT
                    for i in range(2)
                )
                and sum(_under_load(p, finished, 2) for p in probes) >= MIN_PROBES_UNDER_LOAD
            )

        # This process's own full collections (it holds MLflow and a model too) would otherwise
        # be measured as probe latency.
        gc.freeze()
        deadline = time.monotonic() + 90  # the old, blocking server never gets enough probes
        try:
            while not enough() and time.monotonic() < deadline:
                probes.append(_probe(port, "/health/live"))
                probes.append(_probe(port, "/health/ready"))
                done.wait(0.02)  # pacing, as a kubelet's period; not synchronisation
        finally:
            done.set()
            for client in clients:
                client.join(timeout=120)
            gc.unfreeze()

    assert batches and all(b.status == 200 for b in batches), [b.status for b in batches]
    assert all(p.status == 200 for p in probes), sorted({p.status for p in probes})
    loaded = sorted(p.ms for p in probes if _under_load(p, batches, clients=2))
    batch_ms = sorted(b.ms for b in batches)
    summary = (
        f"{len(loaded)} of {len(probes)} probes under two in-flight batches: "
        f"p50 {loaded[len(loaded) // 2] if loaded else float('nan'):.1f} ms, "
        f"p95 {loaded[int(len(loaded) * 0.95)] if loaded else float('nan'):.1f} ms, "
        f"p99 {loaded[int(len(loaded) * 0.99)] if loaded else float('nan'):.1f} ms, "
        f"max {loaded[-1] if loaded else float('nan'):.1f} ms; "
        f"{len(batches)} batches, median {batch_ms[len(batch_ms) // 2]:.0f} ms"
    )
    print(summary)
    assert len(loaded) >= 5, summary  # the load really overlapped the probes
    assert loaded[-1] < PROBE_BUDGET_MS, summary
    assert len(loaded) >= MIN_PROBES_UNDER_LOAD, summary
