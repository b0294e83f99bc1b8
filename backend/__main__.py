"""``python -m backend --atlas-dir DIR [--host H --port P] [--workers N]``: serve every atlas under DIR
(and those published there later)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import uvicorn

from backend.core.config import Settings

#: The app of each worker process (uvicorn imports and calls it there).
APP_FACTORY = "backend.main:create_app_from_env"
#: How long the supervisor waits for a worker's answer before killing it as hung: long enough for a worker
#: that starts on a busy machine (this module imported again, torch in the app), where uvicorn's default
#: (5 s) killed and restarted workers in a loop before any served.
WORKER_HEALTHCHECK_S = 60


def main(argv: list[str] | None = None, *, app_factory: str = APP_FACTORY) -> None:
    parser = argparse.ArgumentParser(prog="python -m backend", description=__doc__)
    parser.add_argument("--atlas-dir", type=Path, required=True, help="serve every atlas under this directory")
    parser.add_argument(
        "--atlas-poll-s",
        type=float,
        help="re-list the atlas directory this often, picking up atlases published or rebuilt meanwhile "
        "(default 2; 0 = only at start)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--workers",
        type=int,
        help="worker processes serving requests (default 1); with several, give them a --redis-url to share "
        "uploads, analyses and rate limits",
    )
    parser.add_argument("--redis-url", help="e.g. redis://localhost:6379/0 (default: in-process cache)")
    parser.add_argument(
        "--lists-db", type=Path, help="SQLite database of shared mode lists (default: data/lists.sqlite3 in the repo)"
    )
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where uploads are analysed")
    parser.add_argument("--frontend-dist", type=Path, help="built dashboard to serve at / (default: frontend/dist)")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="default: info")
    args = parser.parse_args(argv)
    overrides = {
        name: value for name, value in vars(args).items() if name in Settings.model_fields and value is not None
    }
    settings = Settings(**overrides)  # checked here, so a bad value fails once rather than in every worker
    # Imported here, not at the top: each worker process imports this module again, before it answers
    # the supervisor's health checks, and the app (torch) is slow to import.
    from backend.main import configure_logging

    configure_logging(settings.log_level)
    # Every worker process builds its own app (uvicorn imports the factory in each), from the environment:
    # the command line's settings travel to them there, taking precedence over any QKATLAS_* already set.
    os.environ.update({f"QKATLAS_{name.upper()}": str(value) for name, value in overrides.items()})
    uvicorn.run(
        app_factory,
        factory=True,
        host=args.host,
        port=args.port,
        workers=settings.workers,
        log_level=settings.log_level,
        proxy_headers=True,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
    )


if __name__ == "__main__":
    main()
