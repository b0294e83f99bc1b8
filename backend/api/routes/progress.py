from __future__ import annotations

import json

from fastapi import APIRouter
from pydantic import ValidationError

from backend.api.caching import CachedRoute
from backend.api.deps import ServicesDep
from backend.schemas import PrecomputeJob, PrecomputeProgress
from qkatlas.progress import PROGRESS_KEY_PREFIX

router = APIRouter(tags=["progress"], route_class=CachedRoute)


@router.get("/progress", response_model=PrecomputeProgress)
async def get_progress(services: ServicesDep) -> PrecomputeProgress:
    """Running and recently finished precompute jobs (each report expires an hour after its last update)."""
    jobs = []
    for raw in (await services.cache.get_prefix(PROGRESS_KEY_PREFIX)).values():
        try:
            jobs.append(PrecomputeJob.model_validate(json.loads(raw)))
        except (ValueError, ValidationError):
            continue  # a malformed report is not worth failing the page for
    jobs.sort(key=lambda job: job.order)  # the models of one job in run order ...
    jobs.sort(key=lambda job: job.started, reverse=True)  # ... the newest job first (the sort is stable)
    return PrecomputeProgress(redis=await services.cache.state(), jobs=jobs)
