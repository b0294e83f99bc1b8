"""The service's health: its version and device, Redis, which atlases are served or failed to open, and the
bound on upload analyses in force."""

from __future__ import annotations

import backend
from backend.schemas import AnalysisBound, AtlasFailure, Health, RedisState
from backend.services.container import Services


async def health(services: Services) -> Health:
    redis = await services.cache.state()
    scope, size, running = await services.analysis.queue.bound()
    failures = [AtlasFailure(directory=f.directory, reason=f.reason) for f in services.atlases.failures]
    return Health(
        status="degraded" if redis is RedisState.unavailable or failures else "ok",
        version=backend.__version__,
        device=str(services.analyzers.device),
        redis=redis,
        atlases=[atlas.slug for atlas in services.atlases.atlases],
        failed_atlases=failures,
        analysis=AnalysisBound(scope=scope, size=size, running=running),
    )
