"""qkatlas: the query-key singular modes of vision transformers.

``qkatlas.open_atlas(path_or_url)`` opens atlases for reading from Python (``qkatlas.read``); it is imported on
first use, so ``import qkatlas`` stays free.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qkatlas.read import open_atlas as open_atlas


def __getattr__(name: str) -> Any:
    if name == "open_atlas":
        from qkatlas.read import open_atlas

        return open_atlas
    raise AttributeError(f"module 'qkatlas' has no attribute {name!r}")


__all__ = ["open_atlas"]
