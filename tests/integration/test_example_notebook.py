"""The example notebook (``examples/atlas_from_python.ipynb``) runs end to end, every cell without an error, on
atlases like the offline demo's (the planted-mode model and a random-init ViT), in a kernel of this interpreter;
and it is committed without outputs."""

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
NOTEBOOK = ROOT / "examples" / "atlas_from_python.ipynb"
KERNEL = "qkatlas-test"


def _notebook() -> Any:
    return nbformat.read(NOTEBOOK, as_version=4)  # type: ignore[no-untyped-call]  # nbformat is unannotated


def test_the_notebook_is_committed_without_outputs() -> None:
    notebook = _notebook()
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


def test_the_notebook_runs_on_the_offline_demo_atlases(
    atlas_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A kernelspec of this interpreter in a folder of the test's own (no `jupyter kernelspec install`).
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": KERNEL, "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("QKATLAS_ATLAS", str(atlas_root))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    notebook = _notebook()
    client = NotebookClient(
        notebook, kernel_name=KERNEL, timeout=300, resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, when a cell fails
    printed = "".join(
        output.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    )
    assert "planted" in printed and "selectivity" in printed and "band 0" in printed, printed
