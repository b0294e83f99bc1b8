from __future__ import annotations

from fastapi import APIRouter

import backend
from backend.api.caching import CachedRoute
from backend.api.deps import ServicesDep
from backend.schemas import AtlasFailure, Health, RedisState

router = APIRouter(tags=["health"], route_class=CachedRoute)


@router.get("/health", response_model=Health)
async def get_health(services: ServicesDep) -> Health:
    redis = await services.cache.state()
    failures = [AtlasFailure(directory=f.directory, reason=f.reason) for f in services.atlases.failures]
    return Health(
        status="degraded" if redis is RedisState.unavailable or failures else "ok",
        version=backend.__version__,
        device=str(services.analyzers.device),
        redis=redis,
        atlases=[atlas.slug for atlas in services.atlases.atlases],
        failed_atlases=failures,
    )
