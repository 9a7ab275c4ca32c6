"""The prediction page's render time: GET / and POST / (answer, why, what-if) on `occupancy serve`.

A champion is trained on synthetic data (the same preparation as bench_api.py), the API is
started, and each route is requested N times in a row over one keep-alive connection (httpx),
timing the full response. The peer in the same run is GET /model, the API's smallest JSON
route: the page's cost over it is the cost of the page. The very first GET / after the model
loaded also reads the form's choices from the model, so it is reported on its own.
Target (issue 15): the first render under 100 ms on the API's machine.

    .venv/bin/python benchmarks/bench_page.py [--requests 200]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import httpx
from bench_api import VENV_BIN, _free_port, _prepare, _wait

TARGET_MS = 100.0
FORM = {
    "accommodates": "2",
    "bedrooms": "1",
    "beds": "1",
    "bathrooms": "1",
    "price": "120",
    "minimum_nights": "2",
    "maximum_nights": "365",
    "host_listings_count": "1",
    "host_since": "3",
    "host_is_superhost": "t",
    "latitude": "40.73",
    "longitude": "-74.17",
    "name": "Bright room near the station",
}
AMENITIES = ["wifi", "kitchen", "heating"]


def _timed(client: httpx.Client, method: str, path: str, **kwargs: object) -> float:
    started = time.perf_counter()
    response = client.request(method, path, **kwargs)  # type: ignore[arg-type]
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        sys.exit(f"{method} {path} answered {response.status_code}")
    return elapsed


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        "max_ms": round(ordered[-1], 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200, help="requests per route")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="occupancy-bench-page-"))
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLFLOW_", "OCCUPANCY_"))
    }
    env |= {"OCCUPANCY_HOME": str(home), "MLFLOW_TRACKING_URI": f"sqlite:///{home}/mlflow.db"}
    print("preparing a registered model (synthetic data, hgb) ...", flush=True)
    _prepare(home, env)
    port = _free_port()
    server = subprocess.Popen(
        [str(VENV_BIN / "occupancy"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(f"{base}/health/ready")
        with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:
            first = _timed(client, "GET", "/")
            form = client.get("/").text
            page = [_timed(client, "GET", "/") for _ in range(args.requests)]
            peer = [_timed(client, "GET", "/model") for _ in range(args.requests)]
            # A filled-in form (every number, three amenities): the answer, its why (one
            # rescored row per answered field) and the price curve (eleven more rows). The peer
            # is POST /predict of the same listing: the difference is the explanation's cost.
            answer = [
                _timed(client, "POST", "/", data={**FORM, "amenities": AMENITIES})
                for _ in range(args.requests)
            ]
            joined = date.today() - timedelta(days=round(float(FORM["host_since"]) * 365.25))
            listing = {
                **FORM,
                "amenities": AMENITIES,
                "instant_bookable": "f",
                "bathrooms_text": "private bath",  # the page's unticked "shared bathroom"
                "host_since": joined.isoformat(),  # the page's years hosting, as a date
            }
            predict = [
                _timed(client, "POST", "/predict", json={"listings": [listing]})
                for _ in range(args.requests)
            ]
    finally:
        server.terminate()
        server.wait(timeout=30)
    result = {
        "requests_per_route": args.requests,
        "page_bytes": len(form.encode()),
        "first_get_after_load_ms": round(first, 2),
        "get_page": _summary(page),
        "post_page_answer_with_why_and_what_if": _summary(answer),
        "peer_post_predict_same_listing": _summary(predict),
        "peer_get_model_json": _summary(peer),
        "target_ms": TARGET_MS,
    }
    print(json.dumps(result, indent=2))
    over = first > TARGET_MS or result["get_page"]["p99_ms"] > TARGET_MS  # type: ignore[index]
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
