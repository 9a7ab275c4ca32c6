"""The served model's description and the admin reload."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from occupancy.api.auth import require_admin_token
from occupancy.api.dependencies import HolderDep, SettingsDep
from occupancy.api.errors import ADMIN_REFUSED
from occupancy.api.holder import ModelHolder
from occupancy.api.schemas import ModelInfo
from occupancy.config import Settings

router = APIRouter(prefix="/model", tags=["model"])


def describe(holder: ModelHolder, settings: Settings) -> ModelInfo:
    """The served model (if any) and the reloader's last check and error."""
    served = holder.current
    return ModelInfo(
        name=settings.model_name,
        alias=settings.model_alias,
        version=served.version if served else None,
        run_id=served.run_id if served else None,
        trained_at=served.trained_at if served else None,
        loaded_at=served.loaded_at if served else None,
        metrics=served.metrics if served else {},
        fast_path=served is not None and served.fast is not None,
        last_check_at=holder.last_check_at,
        last_error=holder.last_error,
    )


@router.get("", response_model=ModelInfo)
def model_info(holder: HolderDep, settings: SettingsDep) -> ModelInfo:
    """The served model and the reloader's last check and error."""
    return describe(holder, settings)


@router.post(
    "/reload",
    response_model=ModelInfo,
    responses=ADMIN_REFUSED,
    dependencies=[Depends(require_admin_token)],
)
def reload(holder: HolderDep, settings: SettingsDep) -> ModelInfo:
    """Check the alias now (bearer token from OCCUPANCY_API_TOKEN)."""
    holder.refresh()
    return describe(holder, settings)
