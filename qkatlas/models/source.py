"""Where a model's weights came from: enough to rebuild exactly the same weights later.

Recorded by ``load_model`` on every adapter, stored in an atlas's manifest and O3 file, and used by
the service to rebuild the model of an atlas for upload analysis.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ModelSource(BaseModel):
    """``id`` is a hub id, a timm name, a local checkpoint directory or ``planted``; random weights are
    rebuilt exactly from ``random_init`` and ``seed``."""

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
