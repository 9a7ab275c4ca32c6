"""`occupancy serve` shuts down gracefully: readiness fails first, in-flight requests finish."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from api_support import publish, wait_until
from servers import free_port

from occupancy.api.holder import PROBE_LISTING

pytestmark = pytest.mark.integration
OCCUPANCY = Path(sys.executable).parent / "occupancy"


def _status(url: str, body: bytes | None = None) -> int:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"} if body else {}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_sigterm_drains_readiness_first_and_finishes_in_flight_requests(tmp_path, fitted) -> None:
    model, valid = fitted
    tracking = f"sqlite:///{tmp_path}/mlflow.db"
    publish(tracking, "shutdown-test", model, valid.head(50))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OCCUPANCY_", "MLFLOW_"))}
    env |= {
        "OCCUPANCY_HOME": str(tmp_path / "home"),
        "OCCUPANCY_MODEL_NAME": "shutdown-test",
        "OCCUPANCY_API_DRAIN_SECONDS": "5",
        "MLFLOW_TRACKING_URI": tracking,
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",
    }
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(OCCUPANCY), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    in_flight = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        wait_until(lambda: _status(f"{base}/health/ready") == 200, 120, "readiness")
        body = json.dumps({"listings": [PROBE_LISTING]}).encode()
        # A request the server has started reading when the signal lands: headers and half a body.
        in_flight.putrequest("POST", "/predict")
        in_flight.putheader("Content-Type", "application/json")
        in_flight.putheader("Content-Length", str(len(body)))
        in_flight.endheaders()
        in_flight.send(body[: len(body) // 2])

        server.send_signal(signal.SIGTERM)
        wait_until(lambda: _status(f"{base}/health/ready") == 503, 10, "readiness to fail")
        assert _status(f"{base}/health/live") == 200
        assert _status(f"{base}/predict", body) == 200  # still answering while draining

        wait_until(lambda: not _accepts_connections(port), 30, "the listening socket to close")
        in_flight.send(body[len(body) // 2 :])
        response = in_flight.getresponse()
        assert response.status == 200
        assert len(json.loads(response.read())["predictions"]) == 1
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        in_flight.close()
        if server.poll() is None:
            server.kill()
        server.wait(timeout=30)
        assert server.stderr is not None
        server.stderr.close()
