"""Write the API's OpenAPI schema to ``backend/openapi.json`` (``python -m backend.export_openapi``).

The dashboard's TypeScript client is generated from that file; a test fails when it drifts.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from backend.core.config import Settings
from backend.main import create_app

SCHEMA_PATH = Path(__file__).with_name("openapi.json")


def openapi_schema() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as empty:
        app = create_app(Settings(atlas_dir=Path(empty), redis_url=None, frontend_dist=None, device="cpu"))
        return app.openapi()


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m backend.export_openapi", description=__doc__)
    parser.add_argument("--out", type=Path, default=SCHEMA_PATH)
    args = parser.parse_args()
    args.out.write_text(render(openapi_schema()))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
