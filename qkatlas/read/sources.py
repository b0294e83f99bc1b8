"""Where the atlas from Python reads its records: one interface, two implementations (``local``, ``http``).

An ``AtlasSource`` answers the service's read routes as the service's own response records
(``backend/schemas.py``): the local source runs the service's view functions on atlases opened in this process,
the HTTP source validates a running service's JSON against the same classes. So every number is assembled by
one implementation, wherever it is read from, and the records are defined once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from backend.schemas import (
    Basis,
    ClassAcrossModels,
    HeadDetail,
    ModeDetail,
    ModelDetail,
    ModelSummary,
    ModeMaps,
    ModeSamples,
    SearchResults,
    Sign,
)


class AtlasLookupError(LookupError):
    """An id the atlas does not have: model, layer, head, mode, basis, top-image rank, class or image (or a model
    rebuilt since it was opened). ``str(e)`` says which and what there is."""


class AtlasUnreachable(ConnectionError):
    """The qkatlas service cannot be reached, or answered with a server error or something that is not its API."""


@dataclass(frozen=True)
class HeadAddress:
    """One head of one model's atlas, in one basis; ``revision`` pins the atlas it was read from."""

    model: str
    revision: str
    layer: int
    head: int
    basis: Basis


@dataclass(frozen=True)
class ModeAddress:
    """One signed mode of a head, in one basis (docs/method.md#conventions)."""

    head: HeadAddress
    mode: int
    sign: Sign


class AtlasSource(Protocol):
    """What each read route of the service answers (``GET /api/...``, named after each method), as its record.

    Every method raises ``AtlasLookupError`` for an id the atlas does not have; the HTTP source raises
    ``AtlasUnreachable`` when the service cannot answer.
    """

    @property
    def location(self) -> str:
        """The folder or URL read (for messages)."""
        ...

    def close(self) -> None:
        """Let go of what the source holds open (the HTTP source's connections)."""
        ...

    def models(self) -> list[ModelSummary]:
        """``/models``: every atlas."""
        ...

    def model(self, slug: str) -> ModelDetail:
        """``/models/{slug}``"""
        ...

    def head(self, address: HeadAddress) -> HeadDetail:
        """``/models/{slug}/layers/{layer}/heads/{head}``"""
        ...

    def mode(self, address: ModeAddress) -> ModeDetail:
        """``.../modes/{mode}``"""
        ...

    def samples(self, address: ModeAddress) -> ModeSamples:
        """``.../modes/{mode}/samples``"""
        ...

    def maps(self, address: ModeAddress, rank: int) -> ModeMaps:
        """``.../modes/{mode}/top/{rank}/maps``: the raw maps of the ``rank``-th listed top image."""
        ...

    def image(self, image_id: str) -> bytes:
        """``/images/{image_id}``: a shown image (top image or sample) as the model saw it, JPEG."""
        ...

    def search(self, text: str, basis: Basis | None, limit: int) -> SearchResults:
        """``/search?q=``"""
        ...

    def class_modes(self, label: str, basis: Basis | None, limit: int) -> ClassAcrossModels:
        """``/classes/{label}``"""
        ...
