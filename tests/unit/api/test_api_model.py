"""GET /model describes the served model; POST /model/reload needs the admin bearer token."""

from __future__ import annotations

import pytest
from api_fakes import FakeHolder
from pydantic import SecretStr

from conftest import TOKEN

ADMIN = {"Authorization": f"Bearer {TOKEN}"}


def test_model_describes_the_served_version_and_its_fast_path(client) -> None:
    info = client.get("/model").json()
    assert info["name"] == "airbnb-occupancy-classifier"
    assert info["alias"] == "champion"
    assert info["version"] == "7"
    assert info["run_id"] == "run-7"
    assert info["trained_at"] == "2025-09-30T00:00:00+00:00"
    assert info["loaded_at"]
    assert info["metrics"] == {"val_f1_macro": 0.5}
    assert info["fast_path"] is True
    assert info["last_error"] is None


def test_model_without_one_reports_the_last_error(no_model_client) -> None:
    info = no_model_client.get("/model").json()
    assert info["version"] is None
    assert info["metrics"] == {}
    assert info["fast_path"] is False
    assert info["last_error"] == "LookupError: no champion yet"


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}]
)
def test_reload_without_the_right_token_is_401_asking_for_a_bearer(client, headers) -> None:
    response = client.post("/model/reload", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer <token>" in response.json()["detail"]


def test_reload_is_403_when_no_token_is_configured(api, settings, served) -> None:
    holder = FakeHolder(served)
    with api(settings.model_copy(update={"api_token": None}), holder) as client:
        response = client.post("/model/reload", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 403
    assert "OCCUPANCY_API_TOKEN" in response.json()["detail"]
    assert holder.refreshes == 0


def test_reload_with_the_token_checks_the_alias_now_and_describes_the_model(
    api, settings, served
) -> None:
    holder = FakeHolder(served)
    with api(settings, holder) as client:
        response = client.post("/model/reload", headers=ADMIN)
    assert response.status_code == 200
    assert holder.refreshes == 1
    assert response.json()["version"] == "7"
    assert response.json()["last_check_at"] == "2025-10-01T00:00:00+00:00"


@pytest.mark.parametrize("blank", ["", " ", "\t "])
def test_reload_is_403_when_the_configured_token_is_blank(api, settings, served, blank) -> None:
    # model_copy skips the Settings validator: the auth check must refuse a blank secret itself.
    holder = FakeHolder(served)
    blank_settings = settings.model_copy(update={"api_token": SecretStr(blank)})
    with api(blank_settings, holder) as client:
        for header in ("Bearer ", f"Bearer {blank}", "Bearer"):
            response = client.post("/model/reload", headers={"Authorization": header})
            assert response.status_code == 403
            assert "OCCUPANCY_API_TOKEN" in response.json()["detail"]
    assert holder.refreshes == 0
