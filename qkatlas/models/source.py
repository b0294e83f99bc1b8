"""Where a model's weights came from: enough to rebuild exactly the same weights later.

Recorded by ``load_model`` on every adapter, stored in an atlas's manifest and O3 file, and used by
the service to rebuild the model of an atlas for upload analysis.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: A hub commit hash: the ``revision`` of weights downloaded from the hub.
HUB_COMMIT = re.compile(r"[0-9a-f]{40}")


class ModelSource(BaseModel):
    """``id`` is a hub id, a timm name, a local checkpoint directory or ``planted``; random weights are
    rebuilt exactly from ``random_init`` and ``seed``. ``revision``: the hub commit the weights were
    downloaded at (40 hex digits; ``None`` when unknown: weights timm downloads from elsewhere, atlases
    built before it was recorded), ``sha256:<hex>`` for the files of a local checkpoint folder, ``None``
    for random weights from a known config."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    random_init: bool = False
    seed: int = 0
    revision: str | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)
    planted: bool = False

    def same_weights(self, other: ModelSource) -> bool:
        """Whether both rebuild the same weights: same id, revision, overrides and ``random_init``, and
        for random weights the same seed (the seed is moot for trained weights; ``planted`` is implied
        by the id)."""

        def weights(source: ModelSource) -> tuple[object, ...]:
            seed = source.seed if source.random_init else None
            return source.id, source.revision, source.overrides, source.random_init, seed

        return weights(self) == weights(other)


def revision_option(revision: object) -> str:
    """`` --revision <commit>`` for a recorded hub commit (pins the weights of a rebuild), else ``""``."""
    return f" --revision {revision}" if isinstance(revision, str) and HUB_COMMIT.fullmatch(revision) else ""
