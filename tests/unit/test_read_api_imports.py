"""``import qkatlas`` stays free (the read API loads on first use of ``open_atlas``), and the read API never loads
the web framework: a notebook reads atlases without FastAPI's code paths."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _loaded_after(code: str) -> set[str]:
    """The top-level packages loaded in a fresh interpreter after running ``code``."""
    probe = f"{code}\nimport sys\nprint(' '.join(sorted({{name.split('.')[0] for name in sys.modules}})))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return set(result.stdout.split())


def test_import_qkatlas_loads_neither_the_read_api_nor_its_dependencies() -> None:
    loaded = _loaded_after("import qkatlas")
    assert "qkatlas" in loaded
    assert not loaded & {"backend", "torch", "httpx", "pydantic", "numpy"}


def test_the_read_api_loads_without_the_web_framework() -> None:
    loaded = _loaded_after("import qkatlas\nqkatlas.open_atlas")
    assert {"backend", "httpx"} <= loaded
    assert not loaded & {"fastapi", "starlette", "uvicorn"}
