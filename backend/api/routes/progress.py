from __future__ import annotations

from fastapi import APIRouter

from backend.api.caching import CachedRoute
from backend.api.deps import ServicesDep
from backend.schemas import PrecomputeProgress
from backend.services.progress import precompute_progress

router = APIRouter(prefix="/progress", tags=["progress"], route_class=CachedRoute)


@router.get("", response_model=PrecomputeProgress)
async def get_progress(services: ServicesDep) -> PrecomputeProgress:
    """Running and recently finished precompute jobs (each report expires an hour after its last update)."""
    return await precompute_progress(services.cache)
