"""The admin bearer token (OCCUPANCY_API_TOKEN) guarding model reload."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Header

from occupancy.api.dependencies import SettingsDep
from occupancy.errors import ReloadDisabledError, UnauthorizedError


def require_admin_token(
    settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    """Refuse the request unless it carries `Authorization: Bearer <OCCUPANCY_API_TOKEN>`."""
    token = "" if settings.api_token is None else settings.api_token.get_secret_value()
    # Settings already turn a blank token into None; settings built another way (model_copy)
    # skip that validator, and a blank secret would accept a bare "Bearer ".
    if not token.strip():
        raise ReloadDisabledError("model reload is disabled: set OCCUPANCY_API_TOKEN to enable it")
    expected = f"Bearer {token}"
    # Constant-time comparison: the answer's timing says nothing about how much of it matched.
    if authorization is None or not hmac.compare_digest(authorization.encode(), expected.encode()):
        raise UnauthorizedError("a valid 'Authorization: Bearer <token>' header is required")
