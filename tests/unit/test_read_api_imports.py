"""``import qkatlas`` stays free (the read API loads on first use of ``open_atlas``), and the read API never loads
the web framework: a notebook reads atlases without FastAPI's code paths."""

from __future__ import annotations

import ast
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


def _imports_backend(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        if any(name == "backend" or name.startswith("backend.") for name in names):
            return True
    return False


def test_only_the_read_api_of_the_library_reaches_into_the_service() -> None:
    """The read API stands on the service's records and views; the rest of the library stays below the service."""
    library = sorted((ROOT / "qkatlas").rglob("*.py"))
    reaching = {str(path.relative_to(ROOT)) for path in library if _imports_backend(path)}
    assert reaching and all(path.startswith("qkatlas/read/") for path in reaching), reaching
