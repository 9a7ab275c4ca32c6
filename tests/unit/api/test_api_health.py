"""Liveness and readiness: ready only with a model and never while draining."""

from __future__ import annotations

from api_fakes import FakeHolder


def test_live_answers_ok_without_a_model(no_model_client) -> None:
    response = no_model_client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_names_the_served_model_and_version(client) -> None:
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "model": "airbnb-occupancy-classifier",
        "version": "7",
    }


def test_ready_is_503_with_retry_after_and_the_holders_last_error_without_a_model(
    no_model_client,
) -> None:
    response = no_model_client.get("/health/ready")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json() == {"detail": "not ready: LookupError: no champion yet"}


def test_ready_is_503_without_a_model_or_an_error_yet(api, settings) -> None:
    holder = FakeHolder(None)
    holder.last_error = None
    with api(settings, holder) as client:
        assert client.get("/health/ready").json() == {"detail": "not ready: no model loaded yet"}


def test_ready_is_503_while_draining_but_other_routes_keep_serving(client) -> None:
    client.app.state.drain.set()
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json() == {"detail": "not ready: shutting down"}
    assert client.get("/health/live").status_code == 200
    assert client.get("/model").status_code == 200


def test_the_holder_starts_and_stops_with_the_app(api, settings, served) -> None:
    holder = FakeHolder(served)
    with api(settings, holder):
        assert holder.started
    assert not holder.started
