"""Running a committed notebook end to end in a kernel of this interpreter, as CI does."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_NOTEBOOK = ROOT / "examples" / "atlas_from_python.ipynb"
_KERNEL = "qkatlas-test"


def read_notebook(path: Path) -> Any:
    return nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]  # nbformat is unannotated


def run_notebook(path: Path, env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Execute every cell of the notebook at ``path`` with ``env`` set; what its cells printed. Raises
    nbclient's ``CellExecutionError`` (with the cell and its traceback) when a cell fails."""
    # A kernelspec of this interpreter in a folder of the test's own (no `jupyter kernelspec install`).
    spec = tmp_path / "jupyter" / "kernels" / _KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": _KERNEL, "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    notebook = read_notebook(path)
    client = NotebookClient(
        notebook, kernel_name=_KERNEL, timeout=300, resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    return "".join(
        output.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    )
