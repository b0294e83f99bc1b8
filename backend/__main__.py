"""``python -m backend --atlas-dir DIR [--host H --port P]``: serve every atlas under DIR (and those
published there later)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import uvicorn

from backend.core.config import Settings
from backend.main import create_app


def main(argv: list[str] | None = None) -> None:
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
    parser.add_argument("--redis-url", help="e.g. redis://localhost:6379/0 (default: in-process cache)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where uploads are analysed")
    parser.add_argument("--frontend-dist", type=Path, help="built dashboard to serve at / (default: frontend/dist)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides = {
        name: value for name, value in vars(args).items() if name in Settings.model_fields and value is not None
    }
    app = create_app(Settings(**overrides))
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, proxy_headers=True)


if __name__ == "__main__":
    main()
