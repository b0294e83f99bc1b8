"""The local source: atlases opened in this process, answered by the service's own view functions.

The checks the service makes on a request's path (a model it serves, a layer, head and mode in range, a basis
the atlas has, a listed top image) are made here too, with the same words.
"""

from __future__ import annotations

from pathlib import Path

from backend.core.text import count
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
)
from backend.services.atlases import parse_image_id
from backend.services.mode_views import listed_top_images, mode_detail, mode_samples, top_image_maps
from backend.services.model_views import head_detail, model_detail, model_summary
from backend.services.o3 import O3Results
from backend.services.search import class_across_models, search, unknown_class
from qkatlas.atlas import Atlas
from qkatlas.atlas.statistics import SignedMode
from qkatlas.read.sources import AtlasLookupError, HeadAddress, ModeAddress


class LocalSource:
    """``atlases`` (opened by ``qkatlas.atlas``) read in this process; an ``AtlasSource``."""

    def __init__(self, atlases: list[Atlas], location: Path) -> None:
        self._atlases = {atlas.slug: atlas for atlas in atlases}
        self._location = location
        self._o3 = O3Results()

    @property
    def location(self) -> str:
        return str(self._location)

    def close(self) -> None:
        """Nothing to do: an ``Atlas`` holds only memory maps, released with it."""

    def _atlas(self, slug: str, revision: str | None = None) -> Atlas:
        atlas = self._atlases.get(slug)
        if atlas is None:
            raise AtlasLookupError(f"no model {slug!r} in {self.location} (there: {', '.join(sorted(self._atlases))})")
        if revision is not None and revision != atlas.revision:
            raise AtlasLookupError(f"model {slug!r} is revision {atlas.revision}, not {revision}")
        return atlas

    def _head(self, address: HeadAddress) -> Atlas:
        atlas = self._atlas(address.model, address.revision)
        if not 0 <= address.layer < atlas.n_layers:
            raise AtlasLookupError(f"no layer {address.layer}: the model has {count(atlas.n_layers, 'layer')}")
        if not 0 <= address.head < atlas.n_heads:
            raise AtlasLookupError(f"no head {address.head}: the model has {count(atlas.n_heads, 'head')} per layer")
        if address.basis not in atlas.bases:
            raise AtlasLookupError(f"this atlas has no {address.basis.value!r} basis")
        return atlas

    def _mode(self, address: ModeAddress) -> tuple[Atlas, SignedMode]:
        atlas, head = self._head(address.head), address.head
        if not 0 <= address.mode < atlas.n_modes:
            raise AtlasLookupError(f"no mode {address.mode}: each head has {count(atlas.n_modes, 'mode')}")
        return atlas, SignedMode(head.layer, head.head, address.mode, address.sign)

    def models(self) -> list[ModelSummary]:
        return [model_summary(atlas, has_o3=self._o3.get(atlas) is not None) for atlas in self._atlases.values()]

    def model(self, slug: str) -> ModelDetail:
        atlas = self._atlas(slug)
        return model_detail(atlas, has_o3=self._o3.get(atlas) is not None)

    def head(self, address: HeadAddress) -> HeadDetail:
        return head_detail(self._head(address), address.layer, address.head, address.basis)

    def mode(self, address: ModeAddress) -> ModeDetail:
        atlas, mode = self._mode(address)
        return mode_detail(atlas, mode.layer, mode.head, mode.mode, address.head.basis, mode.sign)

    def samples(self, address: ModeAddress) -> ModeSamples:
        atlas, mode = self._mode(address)
        return mode_samples(atlas, mode.layer, mode.head, mode.mode, address.head.basis, mode.sign)

    def maps(self, address: ModeAddress, rank: int) -> ModeMaps:
        atlas, mode = self._mode(address)
        listed = len(listed_top_images(atlas, address.head.basis, mode))
        if not 0 <= rank < listed:
            raise AtlasLookupError(f"no rank {rank}: this mode has {count(listed, 'top image')}")
        return top_image_maps(atlas, address.head.basis, mode, rank)

    def image(self, image_id: str) -> bytes:
        try:
            slug, index = parse_image_id(image_id)
        except ValueError:
            raise AtlasLookupError(f"{image_id!r} is not an image id (<model>~<dataset index>)") from None
        data = self._atlas(slug).thumbnail(index)
        if data is None:
            raise AtlasLookupError(f"{image_id!r} is not an image the atlas shows (a top image or a sample)")
        return data

    def search(self, text: str, basis: Basis | None, limit: int) -> SearchResults:
        return search(list(self._atlases.values()), text.strip(), basis, limit)

    def class_modes(self, label: str, basis: Basis | None, limit: int) -> ClassAcrossModels:
        result = class_across_models(list(self._atlases.values()), label, basis, limit)
        if (unknown := unknown_class(result)) is not None:
            raise AtlasLookupError(unknown)
        return result
