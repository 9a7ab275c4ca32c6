"""Every request: an X-Request-Id, a 413 over the body limit, counted in /metrics."""

from __future__ import annotations

import re

from api_fakes import FakeHolder, post_over_the_body_limit

from occupancy.api.middleware import MAX_BODY_BYTES


def test_the_clients_request_id_is_echoed(client) -> None:
    response = client.get("/health/live", headers={"X-Request-Id": "req-42"})
    assert response.headers["x-request-id"] == "req-42"


def test_a_request_without_an_id_gets_a_new_one(client) -> None:
    first, second = (client.get("/health/live").headers["x-request-id"] for _ in range(2))
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


def test_a_content_length_over_the_limit_is_413_before_the_body_is_read(client) -> None:
    response = post_over_the_body_limit(client)
    assert response.status_code == 413
    assert response.json() == {"detail": f"request body over {MAX_BODY_BYTES} bytes"}


def test_metrics_count_requests_by_route_and_status_and_predictions_by_level(
    client, listings
) -> None:
    client.post("/predict", json={"listings": listings(3)})
    client.post("/predict", json={"listings": [{"pricee": "1"}]})
    client.get("/nowhere")
    text = client.get("/metrics").text
    assert 'occupancy_http_requests_total{method="POST",route="/predict",status="200"} 1.0' in text
    assert 'occupancy_http_requests_total{method="POST",route="/predict",status="422"} 1.0' in text
    assert 'occupancy_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert 'occupancy_http_request_duration_seconds_bucket{le="0.001",route="/predict"}' in text
    predicted = re.findall(
        r'^occupancy_predictions_total\{occupancy_level="\w+"\} (\S+)$', text, re.M
    )
    assert sum(map(float, predicted)) == 3


def test_metrics_record_each_check_and_the_version_it_left_serving(api, settings, served) -> None:
    with api(settings, FakeHolder(served, outcome="loaded")) as client:
        client.post("/model/reload", headers={"Authorization": "Bearer t0ken"})
        text = client.get("/metrics").text
    assert 'occupancy_model_reloads_total{outcome="loaded"} 1.0' in text
    assert (
        'occupancy_model_version_info{name="airbnb-occupancy-classifier",version="7"} 1.0' in text
    )
