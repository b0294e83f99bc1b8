"""The objects a notebook holds: every atlas at a place (``Atlases``), one model's atlas (``ModelAtlas``), a head
(``Head``) and a signed mode (``Mode``). Each reads through an ``AtlasSource``, so the same code works on a local
atlas folder and on a qkatlas service."""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
from PIL import Image

from backend.schemas import (
    Basis,
    ClassAcrossModels,
    ClassProfile,
    HeadDetail,
    ModeDetail,
    ModeEffect,
    ModelDetail,
    ModelSummary,
    ModeSummary,
    ScoreDistribution,
    SearchResults,
    Sign,
)
from qkatlas.read.records import Band, SampledImage, Samples, TopImage
from qkatlas.read.sources import AtlasLookupError, AtlasSource, HeadAddress, ModeAddress


class Atlases:
    """Every atlas at one place (an atlas folder, a folder of atlases, or a qkatlas service), by model slug.

    ``atlases["<slug>"]`` (or ``atlases.model()`` when there is one) is a ``ModelAtlas``; ``search`` and
    ``class_modes`` look across all of them, as the dashboard's search does.
    """

    def __init__(self, source: AtlasSource, failures: tuple[tuple[str, str], ...] = ()) -> None:
        self.source = source
        self.failures = failures
        """``(directory, reason)`` of each folder under a local root that did not open as an atlas."""
        self._models = {summary.slug: summary for summary in sorted(source.models(), key=lambda s: s.slug)}

    def close(self) -> None:
        """Close the connections to the service (nothing to close for a folder); also on leaving ``with``."""
        self.source.close()

    def __enter__(self) -> Atlases:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Atlases({self.source.location!r}: {', '.join(self._models) or 'none'})"

    @property
    def models(self) -> list[ModelSummary]:
        """A summary of every atlas (model, dataset, shape, bases, what was computed), sorted by slug."""
        return list(self._models.values())

    @property
    def slugs(self) -> list[str]:
        return list(self._models)

    def __len__(self) -> int:
        return len(self._models)

    def __iter__(self) -> Iterator[str]:
        return iter(self._models)

    def __getitem__(self, slug: str) -> ModelAtlas:
        if slug not in self._models:
            raise AtlasLookupError(f"no model {slug!r} at {self.source.location} (there: {', '.join(self._models)})")
        return ModelAtlas(self, self.source.model(slug))

    def model(self, slug: str | None = None) -> ModelAtlas:
        """The atlas of model ``slug``; without one, the only atlas there is (``AtlasLookupError`` when there
        are several)."""
        if slug is None:
            if len(self._models) != 1:
                raise AtlasLookupError(f"{len(self)} atlases at {self.source.location}: name one of {self.slugs}")
            slug = self.slugs[0]
        return self[slug]

    def image(self, image_id: str) -> Image.Image:
        """A shown image (``<slug>~<dataset index>`` of a top image or a sample) as the model saw it, RGB."""
        with Image.open(io.BytesIO(self.source.image(image_id))) as image:
            return image.convert("RGB")

    def search(self, text: str, *, basis: Basis | str | None = None, limit: int = 24) -> SearchResults:
        """The dashboard's search: models, layers, heads and modes named by ``text`` (``"L1 H0 M3"``), and the
        signed modes most selective for a class whose label contains it."""
        return self.source.search(text, Basis(basis) if basis is not None else None, limit)

    def class_modes(self, label: str, *, basis: Basis | str | None = None, limit: int = 8) -> ClassAcrossModels:
        """For the class named ``label`` (exact, case-insensitive), each model's ``limit`` most selective signed
        modes (docs/method.md#per-mode-statistics) with the class's own images; ``AtlasLookupError`` when no
        dataset has the class."""
        return self.source.class_modes(label, Basis(basis) if basis is not None else None, limit)


class ModelAtlas:
    """One model's atlas. ``detail`` is the service's ``ModelDetail`` (layers, spectra, summary statistics)."""

    def __init__(self, atlases: Atlases, detail: ModelDetail) -> None:
        self.atlases = atlases
        self.detail = detail

    def __repr__(self) -> str:
        d = self.detail
        return f"ModelAtlas({d.slug!r}, {d.model_id}, {d.n_layers} layers × {d.n_heads} heads × {d.n_modes} modes)"

    @property
    def slug(self) -> str:
        return self.detail.slug

    @property
    def revision(self) -> str:
        """The atlas's identity (changes with every rebuild); every read of this object is pinned to it."""
        return self.detail.revision

    @property
    def sigma(self) -> np.ndarray:
        """float64 ``[layers, heads, modes]``: the singular values of every head, descending along the last axis."""
        return np.asarray(self.detail.spectra.sigma, dtype=np.float64)

    def head(self, layer: int, head: int, *, basis: Basis | str = Basis.faithful) -> Head:
        """Head ``head`` of layer ``layer`` (0-based), its modes' best scores in ``basis``."""
        address = HeadAddress(self.slug, self.revision, layer, head, Basis(basis))
        return Head(self, address, self.atlases.source.head(address))

    def mode(
        self, layer: int, head: int, mode: int, *, sign: Sign | str = Sign.pos, basis: Basis | str = Basis.faithful
    ) -> Mode:
        """The signed mode ``mode`` of a head (``pos`` = (u, v), ``neg`` = (−u, −v)) in ``basis``."""
        return self.head(layer, head, basis=basis).mode(mode, sign=sign)


class Head:
    """One head: ``detail`` is the service's ``HeadDetail`` (every mode's σ, cos, best scores, firing)."""

    def __init__(self, model: ModelAtlas, address: HeadAddress, detail: HeadDetail) -> None:
        self.model = model
        self.address = address
        self.detail = detail

    def __repr__(self) -> str:
        return f"Head({self.model.slug!r}, L{self.address.layer} H{self.address.head}, {self.address.basis.value})"

    @property
    def modes(self) -> list[ModeSummary]:
        return self.detail.modes

    @property
    def sigma(self) -> np.ndarray:
        """float64 ``[modes]``: the head's spectrum, descending (0 for an inactive mode)."""
        return np.array([mode.sigma for mode in self.detail.modes], dtype=np.float64)

    @property
    def cos(self) -> np.ndarray:
        """float64 ``[modes]``: cos(u, v) of each mode."""
        return np.array([mode.cos for mode in self.detail.modes], dtype=np.float64)

    @property
    def active(self) -> np.ndarray:
        """bool ``[modes]``: the modes that contribute to attention (σ > 0)."""
        return np.array([mode.active for mode in self.detail.modes], dtype=bool)

    def mode(self, mode: int, *, sign: Sign | str = Sign.pos) -> Mode:
        address = ModeAddress(self.address, mode, Sign(sign))
        return Mode(self.model, address, self.model.atlases.source.mode(address))


class Mode:
    """One signed mode: ``detail`` is the service's ``ModeDetail`` (σ, its top images' scores, statistics, class
    profile, effect); ``top_images()`` and ``samples()`` fetch the pictures and maps."""

    def __init__(self, model: ModelAtlas, address: ModeAddress, detail: ModeDetail) -> None:
        self.model = model
        self.address = address
        self.detail = detail

    def __repr__(self) -> str:
        head = self.address.head
        name = f"L{head.layer} H{head.head} M{self.address.mode} {self.address.sign.value}"
        return f"Mode({self.model.slug!r}, {name}, {head.basis.value}, σ={self.detail.sigma:.4g})"

    @property
    def sigma(self) -> float:
        return self.detail.sigma

    @property
    def sigma_fraction(self) -> float:
        """σ over the sum of the head's σ."""
        return self.detail.sigma_fraction

    @property
    def statistics(self) -> ScoreDistribution | None:
        """The mode's score over every scored image (histogram, mean, firing count); None without statistics."""
        return self.detail.distribution

    @property
    def class_profile(self) -> ClassProfile | None:
        """The classes the mode is most selective for; None without class statistics."""
        return self.detail.class_profile

    @property
    def effect(self) -> ModeEffect | None:
        """The attention the mode moves over the dataset; None when the atlas did not measure it."""
        return self.detail.effect

    def top_images(self) -> list[TopImage]:
        """The top images the mode lists (the evidence, best first), each with its picture and maps."""
        source, images = self.model.atlases.source, []
        for top in self.detail.top_images:
            maps = source.maps(self.address, top.rank)
            images.append(
                TopImage(
                    rank=top.rank,
                    image_id=top.image_id,
                    dataset_index=top.dataset_index,
                    score=top.score,
                    fires=top.fires,
                    label=top.label,
                    image=self.model.atlases.image(top.image_id),
                    query_map=np.asarray(maps.query, dtype=np.float32),
                    key_map=np.asarray(maps.key, dtype=np.float32),
                    query_peak=(maps.query_peak.row, maps.query_peak.column),
                    key_peak=(maps.key_peak.row, maps.key_peak.column),
                    scale=maps.scale,
                )
            )
        return images

    def samples(self) -> Samples:
        """Images sampled across the mode's whole score distribution, band by band, with their pictures."""
        found = self.model.atlases.source.samples(self.address)
        image = self.model.atlases.image
        bands = tuple(
            Band(
                band=band.band,
                low=band.low,
                high=band.high,
                count=band.count,
                images=tuple(
                    SampledImage(s.image_id, s.dataset_index, s.label, s.score, s.fires, image(s.image_id))
                    for s in band.images
                ),
            )
            for band in found.bands
        )
        return Samples(bands=bands, per_band=found.per_band, rule=found.rule, missing=found.samples_missing)
