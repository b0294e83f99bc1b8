"""``python -m tests.helpers.held_backend <python -m backend arguments>``: the real service (every worker
process of it) with its analyses held on a gate, so a fault test can act while analyses are running.

With ``QKATLAS_TEST_HOLD_DIR`` set, each analysis first writes ``started-<pid>-<n>`` there (the pid of the
worker process running it: the one to kill), then waits while a file ``hold`` exists (two minutes at the
most: a test that forgets to release fails, it does not hang). Each worker process applies the patch as it
builds its app (``held_app``, the factory uvicorn calls there).
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from backend.__main__ import main

if TYPE_CHECKING:
    import torch
    from fastapi import FastAPI

    from qkatlas.analysis import ImageAnalysis, ImageAnalyzer

HOLD_DIR = "QKATLAS_TEST_HOLD_DIR"
HOLD_MAX_S = 120


def _hold_analyses(folder: Path) -> None:
    from qkatlas.analysis import ImageAnalyzer

    analyze = ImageAnalyzer.analyze
    numbers = itertools.count()

    def held(analyzer: ImageAnalyzer, image: torch.Tensor) -> ImageAnalysis:
        (folder / f"started-{os.getpid()}-{next(numbers)}").touch()
        deadline = time.monotonic() + HOLD_MAX_S
        while (folder / "hold").exists():
            if time.monotonic() > deadline:
                raise TimeoutError("the test never released the held analyses")
            time.sleep(0.02)
        return analyze(analyzer, image)

    ImageAnalyzer.analyze = held  # type: ignore[method-assign,assignment]


def held_app() -> FastAPI:
    """The service's app, its analyses held on the gate in ``QKATLAS_TEST_HOLD_DIR``."""
    from backend.main import create_app_from_env

    _hold_analyses(Path(os.environ[HOLD_DIR]))
    return create_app_from_env()


if __name__ == "__main__":
    main(app_factory="tests.helpers.held_backend:held_app")
