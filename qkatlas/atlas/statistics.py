"""Reading an atlas's per-mode statistics (``stats/``, format 2): distributions, class profiles and
the class → modes index. ``Atlas.statistics`` gives one; atlases built before format 2 (or with
``--no-statistics``) have none. Definitions: docs/method.md#per-mode-statistics."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from qkatlas.atlas.contract import StatisticsInfo
from qkatlas.columns import ColumnLayout
from qkatlas.conventions import SIGNS, Sign

#: What the service says about a view that needs statistics an atlas does not have.
NOT_COMPUTED = (
    "not computed for this atlas (it was built before per-mode statistics, or with --no-statistics): "
    "rebuild it to add them"
)
#: ... and about the distribution samples of an atlas whose statistics predate them.
SAMPLES_NOT_COMPUTED = (
    "this atlas was built before distribution samples (atlas format 3 or older): rebuild it to add samples"
)


@dataclass(frozen=True)
class SignedMode:
    """One column of a basis: ``(layer, head, mode, sign)``."""

    layer: int
    head: int
    mode: int
    sign: Sign


@dataclass(frozen=True)
class ModeDistribution:
    """A signed mode's score over every scored image: ``counts [n_bins + 2]`` are the underflow count,
    the bins between ``edges [n_bins + 1]`` and the overflow count; ``minimum``/``maximum`` bound the
    two open-ended counts; ``low`` and ``width`` (float64) fix the edges, ``low + width · [0, …, n_bins]``.
    ``firing``: images on which both of the mode's peaks are positive."""

    count: int
    firing: int
    mean: float
    std: float
    minimum: float
    maximum: float
    low: float
    width: float
    edges: np.ndarray
    counts: np.ndarray


@dataclass(frozen=True)
class SampledImage:
    """One image sampled in a band: its dataset index, score, and whether the mode fires on it."""

    index: int
    score: float
    fires: bool


@dataclass(frozen=True)
class DistributionBand:
    """One band of a signed mode's score range (docs/method.md#samples-across-the-distribution): scores in
    ``[low, high)`` (the first band from the lowest score, the last up to and including the highest),
    ``count`` scored images in it, and its sampled ``images`` in sample-key order. It covers the histogram
    bins ``first_bin … first_bin + n_bins − 1`` (plus the underflow count in the first band and the
    overflow count in the last)."""

    band: int
    low: float
    high: float
    first_bin: int
    n_bins: int
    count: int
    images: tuple[SampledImage, ...]


@dataclass(frozen=True)
class ClassScore:
    """A class's mean score for a signed mode and its selectivity ``(mean_c − mean) / std``."""

    class_id: int
    label: str
    mean: float
    selectivity: float
    n_images: int


@dataclass(frozen=True)
class ColumnTable:
    """Every column of one basis, in ``ColumnLayout`` order (over ``(L, H, M, 2)``):
    ``count, firing, mean, std, best_selectivity`` (of the top class; 0 without classes) and
    ``top_class`` (class id, −1 for none)."""

    count: np.ndarray
    firing: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    best_selectivity: np.ndarray
    top_class: np.ndarray


def _words(text: str) -> str:
    """A class label or a query as lower-case words (``golden_retriever`` → ``golden retriever``)."""
    return re.sub(r"[\s_]+", " ", text.lower()).strip()


class ModeStatistics:
    """The ``stats/`` arrays of one atlas (memory-mapped), indexed by ``(basis axis, layer, head, mode, sign)``."""

    def __init__(self, info: StatisticsInfo, arrays: Mapping[str, np.ndarray]) -> None:
        self.info = info
        self._arrays = arrays
        _, n_layers, n_heads, n_modes, _ = arrays["stats_count"].shape  # (B, L, H, M, 2)
        self._basis_columns = ColumnLayout(1, n_layers, n_heads, n_modes)  # columns within one basis
        self._searchable = tuple(_words(label) for label in info.classes)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.info.classes

    @property
    def has_classes(self) -> bool:
        return bool(self.info.classes)

    def signed_mode(self, column: int) -> SignedMode:
        """The signed mode of a flat column within a basis."""
        _, layer, head, mode, sign = self._basis_columns.position(column)
        return SignedMode(layer, head, mode, SIGNS[sign])

    def _at(self, basis: int, mode: SignedMode) -> tuple[int, int, int, int, int]:
        return (basis, mode.layer, mode.head, mode.mode, SIGNS.index(mode.sign))

    def distribution(self, basis: int, mode: SignedMode) -> ModeDistribution:
        at, arrays = self._at(basis, mode), self._arrays
        low, width = float(arrays["stats_bin_low"][at]), float(arrays["stats_bin_width"][at])
        return ModeDistribution(
            count=int(arrays["stats_count"][at]),
            firing=int(arrays["stats_firing"][at]),
            mean=float(arrays["stats_mean"][at]),
            std=float(arrays["stats_std"][at]),
            minimum=float(arrays["stats_min"][at]),
            maximum=float(arrays["stats_max"][at]),
            low=low,
            width=width,
            edges=low + width * np.arange(self.info.n_bins + 1, dtype=np.float64),
            counts=np.asarray(arrays["stats_histogram"][at]),
        )

    @property
    def has_samples(self) -> bool:
        return self.info.samples is not None

    def bands(self, basis: int, mode: SignedMode) -> list[DistributionBand]:
        """The signed mode's bands, lowest scores first, with their sampled images (none without samples)."""
        if self.info.samples is None:
            return []
        at, arrays = self._at(basis, mode), self._arrays
        found = self.distribution(basis, mode)
        n_bands = self.info.samples.bands
        per_band = self.info.n_bins // n_bands
        indices = np.asarray(arrays["sample_indices"][at])
        scores = np.asarray(arrays["sample_scores"][at])
        fires = np.asarray(arrays["sample_fires"][at])
        bands = []
        for band in range(n_bands):
            first, stop = band * per_band, (band + 1) * per_band
            count = int(found.counts[1 + first : 1 + stop].sum())
            low, high = float(found.edges[first]), float(found.edges[stop])
            if band == 0:
                count += int(found.counts[0])
                low = min(low, found.minimum)
            if band == n_bands - 1:
                count += int(found.counts[-1])
                high = max(high, found.maximum)
            images = tuple(
                SampledImage(index=int(i), score=float(score), fires=bool(fire))
                for i, score, fire in zip(indices[band], scores[band], fires[band], strict=True)
                if i >= 0
            )
            bands.append(
                DistributionBand(
                    band=band, low=low, high=high, first_bin=first, n_bins=per_band, count=count, images=images
                )
            )
        return bands

    def firing(self, basis: int, mode: SignedMode) -> int:
        """Scored images on which the mode fires (both of its peaks positive)."""
        return int(self._arrays["stats_firing"][self._at(basis, mode)])

    def class_score(self, basis: int, mode: SignedMode, class_id: int) -> ClassScore:
        """``class_id``'s mean score for the mode and its selectivity (0 where undefined)."""
        at, arrays = self._at(basis, mode), self._arrays
        mean, std = float(arrays["stats_mean"][at]), float(arrays["stats_std"][at])
        class_mean = float(arrays["class_mean"][(class_id, *at)])
        n_images = int(arrays["class_count"][class_id])
        return ClassScore(
            class_id=class_id,
            label=self.classes[class_id],
            mean=class_mean,
            selectivity=(class_mean - mean) / std if std > 0 and n_images else 0.0,
            n_images=n_images,
        )

    def top_classes(self, basis: int, mode: SignedMode) -> list[ClassScore]:
        """The mode's most selective classes, best first (none without labels or for an inactive mode)."""
        if not self.has_classes:
            return []
        at = self._at(basis, mode)
        ids = np.asarray(self._arrays["class_top"][at])
        selectivities = np.asarray(self._arrays["class_top_selectivity"][at])
        return [
            ClassScore(
                class_id=int(class_id),
                label=self.classes[class_id],
                mean=float(self._arrays["class_mean"][(int(class_id), *at)]),
                selectivity=float(selectivity),
                n_images=int(self._arrays["class_count"][class_id]),
            )
            for class_id, selectivity in zip(ids, selectivities, strict=True)
            if class_id >= 0
        ]

    def columns(self, basis: int) -> ColumnTable:
        """Every column of ``basis`` at once (for the mode index)."""
        arrays = self._arrays

        def flat(name: str) -> np.ndarray:
            return np.asarray(arrays[name][basis]).reshape(-1)

        if self.has_classes:
            top = np.asarray(arrays["class_top"][basis, ..., 0]).reshape(-1).astype(np.int64)
            best = np.asarray(arrays["class_top_selectivity"][basis, ..., 0]).reshape(-1).astype(np.float64)
        else:
            top = np.full(self._basis_columns.n_columns, -1, dtype=np.int64)
            best = np.zeros(top.shape, dtype=np.float64)
        return ColumnTable(
            count=flat("stats_count"),
            firing=flat("stats_firing"),
            mean=flat("stats_mean"),
            std=flat("stats_std"),
            best_selectivity=best,
            top_class=top,
        )

    def find_classes(self, text: str) -> list[int]:
        """Ids of the classes whose label contains ``text`` (case and ``_``/space insensitive); an exact
        match first, then the others in label order."""
        wanted = _words(text)
        if not wanted:
            return []
        exact = [i for i, label in enumerate(self._searchable) if label == wanted]
        partial = [i for i, label in enumerate(self._searchable) if wanted in label and label != wanted]
        return exact + partial

    def class_id(self, label: str) -> int | None:
        """The id of the class named ``label`` (case and ``_``/space insensitive), or ``None``."""
        wanted = _words(label)
        return next((i for i, name in enumerate(self._searchable) if name == wanted), None)

    def class_size(self, class_id: int) -> int:
        """Scored images of the class."""
        return int(self._arrays["class_count"][class_id])

    def class_sizes(self) -> np.ndarray:
        """``[n_classes]`` int64: scored images of each class."""
        return np.asarray(self._arrays["class_count"], dtype=np.int64)

    def class_mode_columns(self, basis: int, class_ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """For each class of ``class_ids``, its most selective columns of ``basis`` and their
        selectivities, best first: ``([n, N] int64 (−1: none), [n, N] float32)``, one read."""
        rows = np.asarray(class_ids, dtype=np.int64)
        return (
            np.asarray(self._arrays["class_modes"][rows, basis]),
            np.asarray(self._arrays["class_modes_selectivity"][rows, basis]),
        )

    def class_modes(self, basis: int, class_id: int) -> list[tuple[SignedMode, float]]:
        """The signed modes most selective for ``class_id`` in ``basis``, best first, with their selectivity."""
        if not self.has_classes:
            return []
        columns = np.asarray(self._arrays["class_modes"][class_id, basis])
        selectivities = np.asarray(self._arrays["class_modes_selectivity"][class_id, basis])
        return [
            (self.signed_mode(int(column)), float(selectivity))
            for column, selectivity in zip(columns, selectivities, strict=True)
            if column >= 0
        ]
