"""The service objects one app instance shares (created at startup, closed at shutdown)."""

from __future__ import annotations

from dataclasses import dataclass

from backend.core.cache import Cache, LocalFirstCache, MemoryCache
from backend.core.config import Settings
from backend.services.analysis.analyzers import AnalyzerRegistry
from backend.services.analysis.queue import SharedSlots
from backend.services.analysis.runner import AnalysisRunner
from backend.services.atlases import AtlasRegistry
from backend.services.mode_index import ModeIndex
from backend.services.mode_lists import ListStore
from backend.services.o3 import O3Results
from backend.services.rate_limits import RateLimiter
from backend.services.similar_modes import SimilarModeIndex
from backend.services.uploads import UploadStore


@dataclass
class Services:
    settings: Settings
    cache: Cache
    #: Rendered atlas overlays (keys name the atlas revision, so a value never changes): the shared
    #: cache, behind a per-process LRU when that is Redis.
    renders: Cache
    atlases: AtlasRegistry
    uploads: UploadStore
    analyzers: AnalyzerRegistry
    analysis: AnalysisRunner
    o3: O3Results
    mode_index: ModeIndex
    similar_modes: SimilarModeIndex
    #: Shared mode lists, on disk (never in the cache).
    lists: ListStore
    rate_limits: RateLimiter

    @classmethod
    def create(cls, settings: Settings, cache: Cache) -> Services:
        uploads = UploadStore(cache, ttl_s=settings.upload_ttl_s, max_pixels=settings.max_pixels, clock=settings.clock)
        renders = cache
        if not isinstance(cache, MemoryCache):
            local = MemoryCache(settings.render_cache_bytes, clock=settings.clock)
            renders = LocalFirstCache(local, cache, local_ttl_s=settings.overlay_ttl_s)
        analyzers = AnalyzerRegistry(settings.device)
        # Without Redis no other process shares a bound: each process's queue is the bound.
        slots = None
        if settings.redis_url is not None:
            slots = SharedSlots(cache, settings.analysis_slots, lease_s=settings.analysis_lease_s, clock=settings.clock)
        return cls(
            settings=settings,
            cache=cache,
            renders=renders,
            atlases=AtlasRegistry.load(settings.atlas_dir, on_refresh=analyzers.retain),
            uploads=uploads,
            analyzers=analyzers,
            analysis=AnalysisRunner(
                cache,
                uploads,
                analyzers,
                workers=settings.analysis_workers,
                queue_size=settings.analysis_queue,
                lock_s=settings.analysis_lock_s,
                lease_s=settings.analysis_lease_s,
                shared_slots=slots,
            ),
            o3=O3Results(),
            mode_index=ModeIndex(),
            similar_modes=SimilarModeIndex(),
            lists=ListStore(settings.lists_db),
            rate_limits=RateLimiter(cache, clock=settings.clock),
        )

    async def close(self) -> None:
        self.analysis.close()
        await self.cache.close()
