from __future__ import annotations

from fastapi import APIRouter

from backend.api.caching import CachedRoute
from backend.api.deps import ServicesDep
from backend.schemas import Health
from backend.services.health import health

router = APIRouter(prefix="/health", tags=["health"], route_class=CachedRoute)


@router.get("", response_model=Health)
async def get_health(services: ServicesDep) -> Health:
    return await health(services)
