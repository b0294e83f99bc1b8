"""The example notebook (``examples/atlas_from_python.ipynb``) is committed without outputs. That it runs end to
end on the offline demo is tested where the demo is built (``test_quickstart.py``)."""

from __future__ import annotations

from tests.helpers.notebooks import EXAMPLE_NOTEBOOK, read_notebook


def test_the_notebook_is_committed_without_outputs() -> None:
    code = [cell for cell in read_notebook(EXAMPLE_NOTEBOOK).cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)
