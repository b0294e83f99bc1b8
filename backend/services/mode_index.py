"""The mode index: every signed mode of an atlas in one table, sorted and filtered on the server.

A table is built once per (atlas revision, basis) from the memory-mapped arrays (a ViT-H's 81,920
rows per basis in tens of milliseconds) and kept while that revision is served; each sort order is
computed once and kept with it, so a page costs one boolean mask over the sorted order.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from backend.schemas import Basis, ModeIndexRow, ModeSortKey, Sign, SortOrder
from qkatlas.atlas import Atlas
from qkatlas.atlas.effects import EFFECTS_NOT_COMPUTED
from qkatlas.atlas.statistics import NOT_COMPUTED, ModeStatistics
from qkatlas.columns import ColumnLayout
from qkatlas.conventions import SIGNS

#: Tables kept (one per served atlas and basis is typical; old revisions fall out).
_KEPT_TABLES = 64


@dataclass(frozen=True)
class ModeFilters:
    """Which rows a page shows. ``top_class``: part of the top class's label (case-insensitive)."""

    layer: int | None = None
    head: int | None = None
    sign: Sign | None = None
    include_inactive: bool = False
    degenerate: bool | None = None
    never_fires: bool | None = None
    top_class: str | None = None
    min_selectivity: float | None = None
    min_effect: float | None = None


@dataclass
class ModeTable:
    """Columns over the signed modes of one basis, in position order ``(layer, head, mode, sign)``.
    Statistics columns are ``None`` when the atlas has none, ``effect`` (each mode's mean attention moved,
    the same for both signs) when it did not measure it."""

    layer: np.ndarray
    head: np.ndarray
    mode: np.ndarray
    sign: np.ndarray
    sigma: np.ndarray
    sigma_share: np.ndarray
    cos: np.ndarray
    degenerate: np.ndarray
    active: np.ndarray
    best_score: np.ndarray
    mean: np.ndarray | None
    std: np.ndarray | None
    firing: np.ndarray | None
    selectivity: np.ndarray | None
    top_class: np.ndarray | None
    statistics: ModeStatistics | None
    effect: np.ndarray | None
    _orders: dict[tuple[ModeSortKey, SortOrder], np.ndarray] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(cls, atlas: Atlas, basis: Basis) -> ModeTable:
        layout = ColumnLayout(1, atlas.n_layers, atlas.n_heads, atlas.n_modes)  # the columns of one basis
        _, layer, head, mode, sign = layout.axes()

        def per_mode(values: np.ndarray) -> np.ndarray:
            return layout.per_mode(np.asarray(values))

        sigma = np.asarray(atlas.sigma_all, dtype=np.float64)
        totals = sigma.sum(axis=-1, keepdims=True)
        share = np.divide(sigma, totals, out=np.zeros_like(sigma), where=totals > 0)
        active = per_mode(atlas.active_all)
        axis = atlas.basis_axis(basis)
        best = np.asarray(atlas.arrays["topk_scores"][axis, ..., 0], dtype=np.float64).reshape(-1)
        statistics = atlas.statistics
        columns = statistics.columns(axis) if statistics is not None else None
        has_classes = statistics is not None and statistics.has_classes
        return cls(
            layer=layer,
            head=head,
            mode=mode,
            sign=sign,
            sigma=per_mode(sigma),
            sigma_share=per_mode(share),
            cos=per_mode(atlas.cos_all),
            degenerate=per_mode(atlas.degenerate_all),
            active=active,
            best_score=np.where(active, best, np.nan),
            mean=columns.mean if columns else None,
            std=columns.std if columns else None,
            firing=columns.firing if columns else None,
            selectivity=np.where(columns.top_class >= 0, columns.best_selectivity, np.nan)
            if columns and has_classes
            else None,
            top_class=columns.top_class if columns and has_classes else None,
            statistics=statistics,
            effect=per_mode(atlas.effects.means()) if atlas.effects is not None else None,
        )

    def order(self, key: ModeSortKey, order: SortOrder) -> np.ndarray:
        """Row positions sorted by ``key`` (ties and nulls: position order; nulls last either way)."""
        with self._lock:
            cached = self._orders.get((key, order))
            if cached is None:
                cached = self._sorted(key, order)
                self._orders[(key, order)] = cached
            return cached

    def _sorted(self, key: ModeSortKey, order: SortOrder) -> np.ndarray:
        positions = np.arange(len(self.layer))
        if key == ModeSortKey.position:
            return positions if order == SortOrder.asc else positions[::-1].copy()
        values: np.ndarray | None = getattr(self, key.value)
        if values is None:  # a statistics or effect column of an atlas without them: all null
            return positions
        numbers = values.astype(np.float64)
        missing = ~np.isfinite(numbers)
        signed = np.where(missing, 0.0, numbers if order == SortOrder.asc else -numbers)
        return np.lexsort((positions, signed, missing))

    def mask(self, filters: ModeFilters) -> np.ndarray:
        keep = np.ones(len(self.layer), dtype=bool)
        if filters.layer is not None:
            keep &= self.layer == filters.layer
        if filters.head is not None:
            keep &= self.head == filters.head
        if filters.sign is not None:
            keep &= self.sign == SIGNS.index(filters.sign)
        if not filters.include_inactive:
            keep &= self.active
        if filters.degenerate is not None:
            keep &= self.degenerate == filters.degenerate
        if filters.never_fires is not None and self.firing is not None:
            keep &= (self.firing == 0) == filters.never_fires
        if filters.top_class and self.top_class is not None and self.statistics is not None:
            keep &= np.isin(self.top_class, self.statistics.find_classes(filters.top_class))
        if filters.min_selectivity is not None and self.selectivity is not None:
            keep &= np.nan_to_num(self.selectivity, nan=-np.inf) >= filters.min_selectivity
        if filters.min_effect is not None and self.effect is not None:
            keep &= self.effect >= filters.min_effect
        return keep

    def row(self, position: int) -> ModeIndexRow:
        def number(values: np.ndarray | None) -> float | None:
            if values is None or not np.isfinite(values[position]):
                return None
            return float(values[position])

        top_class = None if self.top_class is None else int(self.top_class[position])
        return ModeIndexRow(
            layer=int(self.layer[position]),
            head=int(self.head[position]),
            mode=int(self.mode[position]),
            sign=SIGNS[int(self.sign[position])],
            sigma=float(self.sigma[position]),
            sigma_share=float(self.sigma_share[position]),
            cos=float(self.cos[position]),
            degenerate=bool(self.degenerate[position]),
            active=bool(self.active[position]),
            best_score=number(self.best_score),
            mean=number(self.mean),
            std=number(self.std),
            firing=None if self.firing is None else int(self.firing[position]),
            selectivity=number(self.selectivity),
            top_class=self.statistics.classes[top_class]
            if self.statistics is not None and top_class is not None and top_class >= 0
            else None,
            effect=number(self.effect),
        )


@dataclass(frozen=True)
class IndexPage:
    total: int
    n_modes: int
    rows: list[ModeIndexRow]
    statistics_missing: str | None
    effects_missing: str | None


class ModeIndex:
    """The tables of the served atlases, built on first use (thread-safe; call from a worker thread)."""

    def __init__(self) -> None:
        self._tables: OrderedDict[tuple[str, str, Basis], ModeTable] = OrderedDict()
        self._lock = threading.Lock()

    def table(self, atlas: Atlas, basis: Basis) -> ModeTable:
        key = (atlas.slug, atlas.revision, basis)
        with self._lock:
            table = self._tables.get(key)
            if table is not None:
                self._tables.move_to_end(key)
                return table
        table = ModeTable.build(atlas, basis)
        with self._lock:
            self._tables[key] = table
            while len(self._tables) > _KEPT_TABLES:
                self._tables.popitem(last=False)
        return table

    def page(
        self,
        atlas: Atlas,
        basis: Basis,
        *,
        sort: ModeSortKey,
        order: SortOrder,
        filters: ModeFilters,
        offset: int,
        limit: int,
    ) -> IndexPage:
        table = self.table(atlas, basis)
        sorted_rows = table.order(sort, order)
        chosen = sorted_rows[table.mask(filters)[sorted_rows]]
        return IndexPage(
            total=len(chosen),
            n_modes=len(table.layer),
            rows=[table.row(int(position)) for position in chosen[offset : offset + limit]],
            statistics_missing=None if atlas.statistics is not None else NOT_COMPUTED,
            effects_missing=None if atlas.effects is not None else EFFECTS_NOT_COMPUTED,
        )
