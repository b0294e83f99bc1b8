"""Service settings, from the command line or ``QKATLAS_*`` environment variables."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from backend.core.clock import Clock

_REPO_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QKATLAS_")

    atlas_dir: Path = Field(description="Every complete atlas under this directory is served.")
    atlas_poll_s: float = Field(
        default=2.0,
        ge=0,
        description="How often the atlas directory is re-listed, so that atlases published, rebuilt or removed "
        "while the service runs are picked up (0 = only at start).",
    )
    redis_url: str | None = Field(default=None, description="e.g. redis://localhost:6379/0; None = in-process cache.")
    upload_ttl_s: int = Field(default=86_400, gt=0, description="Uploads and their results live this long.")
    overlay_ttl_s: int = Field(
        default=86_400,
        gt=0,
        description="Rendered atlas overlays, and dataset images' maps computed on demand, are cached this long.",
    )
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    max_pixels: int = Field(default=40_000_000, gt=0, description="Larger images are refused before decoding.")
    upload_rate_limit: int = Field(default=30, ge=1, description="Uploads per client address per window.")
    upload_rate_window_s: int = Field(default=60, ge=1)
    lists_db: Path = Field(
        default=_REPO_ROOT / "data" / "lists.sqlite3",
        description="The SQLite database of shared mode lists (created on first use; keep it on a volume: lists "
        "are kept for good, unlike everything in the cache).",
    )
    list_rate_limit: int = Field(default=20, ge=1, description="Lists created per client address per window.")
    list_rate_window_s: int = Field(default=60, ge=1)
    memory_cache_bytes: int = Field(
        default=512 * 1024 * 1024, gt=0, description="Bound of the in-process cache (also Redis' fallback)."
    )
    render_cache_bytes: int = Field(
        default=64 * 1024 * 1024,
        gt=0,
        description="With Redis: each worker process also keeps up to this much of the rendered atlas overlays "
        "it has served, so repeated ones cost no round trip to Redis.",
    )
    analysis_workers: int = Field(default=1, ge=1, description="Threads running upload analyses (per worker process).")
    analysis_queue: int = Field(
        default=16,
        ge=1,
        description="Upload analyses running or waiting for a thread, per worker process; one more is refused "
        "with 503 and Retry-After. Larger than the threads: one upload asks for one analysis per served model.",
    )
    analysis_slots: int = Field(
        default=16,
        ge=1,
        description="With Redis: upload analyses running or waiting in the whole deployment (every worker process "
        "and replica sharing that Redis); one more is refused with 503 and Retry-After. While Redis is unreachable "
        "each worker process is bounded by `analysis_queue` alone.",
    )
    analysis_lease_s: float = Field(
        default=10.0,
        gt=0,
        description="With Redis: an analysis's slot and its cross-process lock are leased for this long and renewed "
        "while it runs, so those of a worker that dies come back this long after (another worker then runs it).",
    )
    analysis_lock_s: float = Field(
        default=60.0,
        gt=0,
        description="With Redis: the longest another worker or replica waits for an analysis running elsewhere "
        "before analysing the upload itself.",
    )
    workers: int = Field(default=1, ge=1, description="Worker processes serving requests (`python -m backend`).")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    frontend_dist: Path | None = Field(
        default=_REPO_ROOT / "frontend" / "dist", description="Built dashboard served at / (if present)."
    )
    clock: Clock = Field(
        default=time.time,
        exclude=True,
        repr=False,
        description="Wall clock (Unix seconds) for upload expiry and rate-limit windows; tests pass a fake one.",
    )
