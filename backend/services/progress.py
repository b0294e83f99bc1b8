"""Precompute jobs' progress, as their reports in the cache (``qkatlas.progress``) tell it."""

from __future__ import annotations

import json

from pydantic import ValidationError

from backend.core.cache import Cache
from backend.schemas import PrecomputeJob, PrecomputeProgress
from qkatlas.progress import PROGRESS_KEY_PREFIX


async def precompute_progress(cache: Cache) -> PrecomputeProgress:
    """Running and recently finished jobs, the newest first, each job's models in run order."""
    jobs = []
    for raw in (await cache.get_prefix(PROGRESS_KEY_PREFIX)).values():
        try:
            jobs.append(PrecomputeJob.model_validate(json.loads(raw)))
        except (ValueError, ValidationError):
            continue  # a malformed report is not worth failing the page for
    jobs.sort(key=lambda job: job.order)  # the models of one job in run order ...
    jobs.sort(key=lambda job: job.started, reverse=True)  # ... the newest job first (the sort is stable)
    return PrecomputeProgress(redis=await cache.state(), jobs=jobs)
