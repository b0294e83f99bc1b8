"""Similar modes: for one signed mode, the signed modes of every served atlas on the same dataset (its own
included) whose per-class mean scores correlate best with its own (docs/method.md#similar-modes).

Similarity is the Pearson correlation, over the classes with scored images, of two columns of
``stats/class_mean.npy`` (``[C, B, L, H, M, 2]`` float32). A request is one matrix-vector product per
atlas over the memory-mapped class means of the basis (``[C, columns]``): the query's class means,
centred and scaled to unit norm, times the raw columns, divided by each column's centred norm. The
numerator needs no centred copy of the columns because the centred query sums to 0; the columns' means
and norms are computed once per (atlas revision, basis) and kept while that revision is served. The
product is float32 (it ranks); the modes listed are then recomputed in float64 from the same class means,
so every correlation shown is exact.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from backend.schemas import Basis, ModelSimilarModes, SimilarMode, SimilarModes
from qkatlas.atlas import Atlas
from qkatlas.atlas.evidence import is_evidence
from qkatlas.atlas.statistics import NOT_COMPUTED, SignedMode
from qkatlas.columns import ColumnLayout, ColumnPosition
from qkatlas.conventions import SIGNS
from qkatlas.mode_statistics import NOISE_FLOOR, RELIABLE_CLASS_IMAGES

#: Below this many classes with scored images, correlations over them are not a finding: two unrelated
#: modes' correlation has a standard deviation of about 1/√(n − 1) (0.23 at 20 classes), and the best of
#: thousands of modes reaches near 1 by chance.
MIN_CORRELATION_CLASSES = 20

#: Modes listed per model by default, and at most.
DEFAULT_SIMILAR = 5
MAX_SIMILAR = 20

#: Classes read per step when a basis's column means and norms are computed (bounds the float64 block).
_CLASSES_PER_STEP = 32

#: Extra candidates recomputed in float64 beyond those listed, so that float32 rounding of the ranking
#: product cannot drop a mode that is listed once recomputed.
_RECHECKED = 8

SIMILARITY_RULE = (
    "similarity of two signed modes = Pearson correlation of their mean scores per class, over the classes "
    "with scored images (the same dataset, so the same classes and images); both signs of every mode are "
    "compared, the most positively correlated listed first (ties: by layer, head, mode, sign); inactive modes "
    "and modes whose class means are constant up to rounding (standard deviation over the classes at most "
    f"{NOISE_FLOOR:g} × their largest magnitude) or not all finite have no correlation and are left out"
)

SAME_DATASET_RULE = (
    "two atlases are on the same dataset when their datasets have the same name, image count and skipped "
    "images, the same class list with the same scored images per class, and their image records (source and "
    "label) agree at every dataset index both list; where the dataset was read from on the building machine "
    "does not count"
)


@dataclass(frozen=True)
class BasisColumns:
    """One atlas basis's class means as ``matrix [C, columns]`` (a view of the memory map, columns in
    ``ColumnLayout`` order within the basis), the classes with scored images (``rows``), and per column
    whether it is ``usable`` (active, finite and not constant over those classes) and the inverse of its
    centred norm over them (float32, 0 where not usable)."""

    matrix: np.ndarray
    rows: np.ndarray
    usable: np.ndarray
    inverse_norm: np.ndarray

    @classmethod
    def compute(cls, atlas: Atlas, axis: int, class_sizes: np.ndarray) -> BasisColumns:
        class_mean = atlas.arrays["class_mean"]  # [C, B, L, H, M, 2]
        matrix = class_mean[:, axis].reshape(class_mean.shape[0], -1)  # [C, columns], rows strided, no copy
        rows = np.flatnonzero(class_sizes > 0)
        n_columns = matrix.shape[1]
        # One pass in float64, shifted by the first class's values so that the sums of squares do not cancel.
        first = np.asarray(matrix[rows[0]], dtype=np.float64) if rows.size else np.zeros(n_columns)
        shift = np.where(np.isfinite(first), first, 0.0)
        total, squares = np.zeros(n_columns), np.zeros(n_columns)
        peak, finite = np.zeros(n_columns), np.ones(n_columns, dtype=bool)
        for start in range(0, rows.size, _CLASSES_PER_STEP):
            block = np.asarray(matrix[rows[start : start + _CLASSES_PER_STEP]], dtype=np.float64)
            ok = np.isfinite(block)
            finite &= ok.all(axis=0)
            shifted = np.where(ok, block - shift, 0.0)
            total += shifted.sum(axis=0)
            squares += (shifted**2).sum(axis=0)
            peak = np.maximum(peak, np.where(ok, np.abs(block), 0.0).max(axis=0))
        n = max(rows.size, 1)
        norm = np.sqrt(np.maximum(squares - total**2 / n, 0.0))  # centred
        active = np.repeat(np.asarray(atlas.active_all).reshape(-1), len(SIGNS))
        usable = active & finite & (norm / np.sqrt(n) > NOISE_FLOOR * peak)  # std above rounding of the values
        inverse = np.divide(1.0, norm, out=np.zeros_like(norm), where=usable).astype(np.float32)
        return cls(matrix=matrix, rows=rows, usable=usable, inverse_norm=inverse)

    def exact(self, query: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """Pearson correlations in float64 of ``query [n_rows]`` (centred, unit norm) with ``columns``."""
        block = np.asarray(self.matrix[np.ix_(self.rows, columns)], dtype=np.float64)  # [n_rows, k]
        centred = block - block.mean(axis=0)
        norms = np.sqrt((centred**2).sum(axis=0))
        return np.asarray(query @ centred / norms)


@dataclass(frozen=True)
class DatasetIdentity:
    """What makes two atlases' datasets the same (``SAME_DATASET_RULE``), read once per revision."""

    key: tuple[object, ...]
    records: dict[int, tuple[str, str | None]]

    @classmethod
    def of(cls, atlas: Atlas) -> DatasetIdentity:
        dataset = atlas.manifest.dataset
        statistics = atlas.statistics
        labelled = statistics is not None and statistics.has_classes
        classes = statistics.classes if statistics is not None else ()
        sizes = tuple(int(n) for n in statistics.class_sizes()) if statistics is not None and labelled else ()
        skipped = tuple(sorted(image.index for image in atlas.manifest.skipped))
        key = (dataset.name, dataset.n_images, dataset.n_skipped, skipped, classes, sizes)
        records = {index: (record.source, record.label) for index, record in atlas.image_records().items()}
        return cls(key=key, records=records)

    def same_as(self, other: DatasetIdentity) -> bool:
        if self.key != other.key:
            return False
        mine, theirs = self.records, other.records
        return all(mine[index] == theirs[index] for index in mine.keys() & theirs.keys())


class SimilarModeIndex:
    """The per-(revision, basis) column summaries and dataset identities of the served atlases, computed on
    first use and dropped once their revision is no longer served (thread-safe; call from a worker thread)."""

    def __init__(self) -> None:
        self._columns: dict[tuple[str, str, int], BasisColumns] = {}
        self._identities: dict[tuple[str, str], DatasetIdentity] = {}
        self._same: dict[tuple[str, str], bool] = {}
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()

    def _forget_unserved(self, served: list[Atlas]) -> None:
        revisions = {(atlas.slug, atlas.revision) for atlas in served}
        live = {atlas.revision for atlas in served}
        with self._lock:
            for column_key in [key for key in self._columns if key[:2] not in revisions]:
                del self._columns[column_key]
            for identity_key in [key for key in self._identities if key not in revisions]:
                del self._identities[identity_key]
            for pair in [pair for pair in self._same if not set(pair) <= live]:
                del self._same[pair]

    def columns(self, atlas: Atlas, axis: int) -> BasisColumns:
        key = (atlas.slug, atlas.revision, axis)
        with self._build_lock:  # single flight: a basis is summarised once however many requests wait for it
            with self._lock:
                found = self._columns.get(key)
            if found is None:
                assert atlas.statistics is not None
                found = BasisColumns.compute(atlas, axis, atlas.statistics.class_sizes())
                with self._lock:
                    self._columns[key] = found
            return found

    def _identity(self, atlas: Atlas) -> DatasetIdentity:
        key = (atlas.slug, atlas.revision)
        with self._lock:
            found = self._identities.get(key)
        if found is None:
            found = DatasetIdentity.of(atlas)
            with self._lock:
                self._identities[key] = found
        return found

    def same_dataset(self, first: Atlas, second: Atlas) -> bool:
        low, high = sorted((first.revision, second.revision))
        pair = (low, high)
        with self._lock:
            known = self._same.get(pair)
        if known is None:
            known = self._identity(first).same_as(self._identity(second))
            with self._lock:
                self._same[pair] = known
        return known

    def similar(self, atlas: Atlas, served: list[Atlas], mode: SignedMode, basis: Basis, limit: int) -> SimilarModes:
        """The signed modes most similar to ``mode`` of ``atlas``: ``limit`` per atlas on the same dataset."""
        self._forget_unserved(served)
        others = [other for other in served if other.slug != atlas.slug]
        peers = [other for other in others if self.same_dataset(atlas, other)]
        answer = SimilarModes(
            model=atlas.slug,
            layer=mode.layer,
            head=mode.head,
            mode=mode.mode,
            sign=mode.sign,
            basis=basis,
            dataset=atlas.manifest.dataset.name,
            rule=SIMILARITY_RULE,
            same_dataset_rule=SAME_DATASET_RULE,
            n_classes=0,
            largest_class_images=0,
            reliable_class_images=RELIABLE_CLASS_IMAGES,
            min_classes=MIN_CORRELATION_CLASSES,
            too_few=None,
            top_images=0,
            models=[],
            unavailable=None,
            missing_statistics=[other.slug for other in peers if other.statistics is None],
            without_basis=[other.slug for other in peers if other.statistics is not None and basis not in other.bases],
            other_datasets=[other.slug for other in others if other not in peers],
        )
        statistics = atlas.statistics
        if statistics is None:
            return answer.model_copy(update={"unavailable": NOT_COMPUTED})
        if not statistics.has_classes:
            return answer.model_copy(update={"unavailable": "the dataset has no class labels, so no class means"})
        sizes = statistics.class_sizes()
        n_classes = int((sizes > 0).sum())
        largest = int(sizes.max())
        query_evidence = _evidence_indices(atlas, basis, mode)
        answer = answer.model_copy(
            update={
                "n_classes": n_classes,
                "largest_class_images": largest,
                "too_few": _too_few(n_classes, largest),
                "top_images": len(query_evidence),
            }
        )
        own = self.columns(atlas, atlas.basis_axis(basis))
        column = _column(atlas, mode)
        if not own.usable[column]:
            return answer.model_copy(update={"unavailable": _why_unusable(atlas, mode)})
        values = np.asarray(own.matrix[own.rows, column], dtype=np.float64)
        centred = values - values.mean()
        query = centred / np.sqrt((centred**2).sum())  # [n_rows], unit norm, sums to 0
        dense_query = np.zeros(own.matrix.shape[0], dtype=np.float32)  # classes without images weigh 0
        dense_query[own.rows] = query
        comparable = [other for other in peers if other.statistics is not None and basis in other.bases]
        compared = [atlas, *sorted(comparable, key=lambda other: other.slug)]
        models = []
        for other in compared:
            columns = self.columns(other, other.basis_axis(basis))
            excluded = column if other is atlas else None
            models.append(_most_similar(other, basis, columns, query, dense_query, excluded, query_evidence, limit))
        return answer.model_copy(update={"models": models})


def _column(atlas: Atlas, mode: SignedMode) -> int:
    """The flat column of ``mode`` within a basis."""
    layout = ColumnLayout(1, atlas.n_layers, atlas.n_heads, atlas.n_modes)
    return layout.column(ColumnPosition(0, mode.layer, mode.head, mode.mode, SIGNS.index(mode.sign)))


def _too_few(n_classes: int, largest_class_images: int) -> str | None:
    if n_classes < MIN_CORRELATION_CLASSES:
        return (
            f"only {n_classes} classes have scored images (fewer than {MIN_CORRELATION_CLASSES}): unrelated modes "
            "correlate strongly over so few by chance"
        )
    if largest_class_images < RELIABLE_CLASS_IMAGES:
        shown = "1 image" if largest_class_images == 1 else f"{largest_class_images} images"
        return (
            f"each class mean rests on at most {shown} (fewer than {RELIABLE_CLASS_IMAGES}): the correlation "
            "compares a few images' scores, not what the modes do across classes"
        )
    return None


def _why_unusable(atlas: Atlas, mode: SignedMode) -> str:
    if not atlas.active(mode.layer, mode.head)[mode.mode]:
        return "the mode is inactive (σ = 0): it scores nothing, so it has no class means to compare"
    return "the mode's class means are constant (or not all finite), so no correlation with them is defined"


def _evidence_indices(atlas: Atlas, basis: Basis, mode: SignedMode) -> list[int]:
    """The dataset indices of the signed mode's listed top images (the evidence,
    docs/method.md#evidence-and-firing), best first."""
    winners = atlas.top_images(basis, mode.layer, mode.head, mode.mode, mode.sign)
    listed = is_evidence(np.array([score for _, score in winners]), atlas.noise_floor(basis, mode.layer))
    return [index for (index, _), shown in zip(winners, listed, strict=True) if shown]


def _most_similar(
    atlas: Atlas,
    basis: Basis,
    columns: BasisColumns,
    query: np.ndarray,
    dense_query: np.ndarray,
    excluded: int | None,
    query_evidence: list[int],
    limit: int,
) -> ModelSimilarModes:
    """The ``limit`` usable columns of ``atlas`` most correlated with the query (``query [n_rows]`` float64,
    ``dense_query [C]`` float32 with 0 on classes without images), exactly recomputed and ordered."""
    ranking = (dense_query @ columns.matrix) * columns.inverse_norm  # [columns] float32, ≈ r
    usable = columns.usable.copy()
    if excluded is not None:
        usable[excluded] = False
    n_usable = int(usable.sum())
    ranking = np.where(usable, ranking, -np.inf)
    wanted = min(limit + _RECHECKED, n_usable)
    if wanted == 0:
        return ModelSimilarModes(
            model=atlas.slug, model_id=atlas.model_id, revision=atlas.revision, compared=0, modes=[]
        )
    threshold = np.partition(ranking, -wanted)[-wanted]
    # Every column within float32 rounding of the cut is rechecked, so ties at it are all seen.
    candidates = np.flatnonzero(usable & (ranking >= threshold - 1e-4))
    exact = columns.exact(query, candidates)
    defined = np.flatnonzero(np.isfinite(exact))  # always all of them for usable columns; never a NaN in an answer
    order = defined[np.lexsort((candidates[defined], -exact[defined]))][:limit]  # ties by (layer, head, mode, sign)
    shared = set(query_evidence)
    modes = []
    for position in order:
        found = atlas.statistics.signed_mode(int(candidates[position])) if atlas.statistics else None
        assert found is not None
        evidence = _evidence_indices(atlas, basis, found)
        modes.append(
            SimilarMode(
                layer=found.layer,
                head=found.head,
                mode=found.mode,
                sign=found.sign,
                sigma=float(atlas.sigma(found.layer, found.head)[found.mode]),
                correlation=float(exact[position]),
                shared_top_images=len(shared.intersection(evidence)),
                top_images=len(evidence),
            )
        )
    return ModelSimilarModes(
        model=atlas.slug, model_id=atlas.model_id, revision=atlas.revision, compared=n_usable, modes=modes
    )
