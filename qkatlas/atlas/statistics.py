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
    two open-ended counts. ``firing``: images on which both of the mode's peaks are positive."""

    count: int
    firing: int
    mean: float
    std: float
    minimum: float
    maximum: float
    edges: np.ndarray
    counts: np.ndarray


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
            edges=low + width * np.arange(self.info.n_bins + 1, dtype=np.float64),
            counts=np.asarray(arrays["stats_histogram"][at]),
        )

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
