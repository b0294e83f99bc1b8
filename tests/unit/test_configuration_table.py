"""The README's Configuration table lists exactly the ``QKATLAS_*`` environment variables the code
reads: the service's settings (``backend.core.config.Settings``, by field and prefix) and every name
written out in the sources, Compose files, deploy files, benchmarks, tests, browser tests and examples."""

from __future__ import annotations

import re
from pathlib import Path

from backend.core.config import Settings

ROOT = Path(__file__).resolve().parents[2]
VARIABLE = re.compile(r"QKATLAS_[A-Z0-9_]*[A-Z0-9]")
SOURCE_FOLDERS = ("backend", "precompute", "quickstart", "qkatlas", "deploy", "benchmarks", "tests", "examples")
FRONTEND_FOLDERS = ("frontend/src", "frontend/e2e")
SUFFIXES = {".py", ".yml", ".yaml", ".conf", ".sh", ".ipynb", ".ts", ".tsx", ".mjs", ".js", ".Dockerfile"}


def _source_files() -> list[Path]:
    files = [p for folder in SOURCE_FOLDERS + FRONTEND_FOLDERS for p in (ROOT / folder).rglob("*") if p.is_file()]
    files = [p for p in files if p.suffix in SUFFIXES or p.name.endswith("Dockerfile")]
    return [*files, *ROOT.glob("docker-compose*.yml"), *ROOT.glob("frontend/*.config.ts"), ROOT / "qk"]


def _variables_in_code() -> set[str]:
    written = {name for path in _source_files() for name in VARIABLE.findall(path.read_text(errors="replace"))}
    prefix = Settings.model_config.get("env_prefix", "")
    settings = {f"{prefix}{name.upper()}" for name, field in Settings.model_fields.items() if not field.exclude}
    return written | settings


def _variables_in_table() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    first_cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `QKATLAS_")]
    return {name for cell in first_cells for name in VARIABLE.findall(cell)}


def test_every_variable_the_code_reads_is_in_the_readme_table() -> None:
    in_code, in_table = _variables_in_code(), _variables_in_table()
    assert "QKATLAS_ATLAS_DIR" in in_code and "QKATLAS_IMAGENETTE_URL" in in_code  # the scan sees both kinds
    assert sorted(in_code - in_table) == [], "read by the code, missing from README.md's Configuration table"
    assert sorted(in_table - in_code) == [], "in README.md's Configuration table, read by no code"
