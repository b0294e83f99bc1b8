"""What an upload's analysis stores in the cache, and the versioned codec that writes and reads it.

An entry is a header line naming the record and the codec's version, then an ``.npz`` archive of plain
arrays (``<field>.<basis>`` for the arrays kept per basis). Reading checks everything before trusting
it: the header, the archive (read with ``allow_pickle=False``, and only once its first bytes say it is
a zip file, so nothing is ever unpickled), each array's name, dtype and number of dimensions. Anything
else (an entry written by another version of the service sharing the Redis, a truncated or corrupt
value) decodes to None, which the caller treats as a miss: it computes the analysis again.

Bump ``CODEC_VERSION`` whenever a record's fields, dtypes or meaning change.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from qkatlas.conventions import Basis

log = logging.getLogger(__name__)

CODEC_VERSION = 1
_ZIP_MAGIC = b"PK\x03\x04"
_BASES = frozenset(basis.value for basis in Basis)

PerBasis = dict[Basis, np.ndarray]
R = TypeVar("R")


@dataclass(frozen=True)
class HeadAnalysis:
    """One head of one upload under one atlas's model, for every basis of the atlas.

    ``query[basis]``, ``key[basis]``: ``[M, T, T]`` maps of the *pos* modes (the neg maps are their
    negatives); ``scores[basis]``: ``[M, 2]`` (pos, neg); ``contribution[basis]``: ``[M]``;
    ``key_salience``: ``[T, T]`` (exact basis).
    """

    query: PerBasis
    key: PerBasis
    scores: PerBasis
    contribution: PerBasis
    key_salience: np.ndarray


@dataclass(frozen=True)
class ModelScores:
    """Every mode of one atlas's model scored on one upload, for every basis of the atlas:
    ``scores[basis]``: ``[L, H, M, 2]`` (pos, neg); ``contribution[basis]``: ``[L, H, M]``."""

    scores: PerBasis
    contribution: PerBasis


@dataclass(frozen=True)
class AttentionRow:
    """``qkatlas.analysis.EdgeSplit`` as stored: arrays over all key tokens (``mode_logits [M, N]``)."""

    attention: np.ndarray
    mode_logits: np.ndarray
    key_term: np.ndarray
    reconstructed: np.ndarray


@dataclass(frozen=True)
class AblationRecord:
    """``qkatlas.ablation.Ablation`` as stored (the removed modes and query patch are in the cache key).

    ``rows [2, N]``: the query patch's attention row before and after, over all key tokens; ``moved [N]``:
    attention moved per query token; ``embedding_cosine``: 0-d float64; ``classes [K]``: the classes
    listed (the top 5 before and the top 5 after, K = 0 without a classifier); ``probabilities [2, K]``
    theirs before and after; ``class_names``: their names, UTF-8, one a line."""

    rows: np.ndarray
    moved: np.ndarray
    embedding_cosine: np.ndarray
    classes: np.ndarray
    probabilities: np.ndarray
    class_names: np.ndarray


@dataclass(frozen=True)
class ArraySpec:
    """What a stored array must be to be trusted."""

    dtype: type[np.generic]
    ndim: int

    def accepts(self, value: np.ndarray) -> bool:
        return value.dtype == np.dtype(self.dtype) and value.ndim == self.ndim


class RecordCodec(Generic[R]):
    """Bytes ↔ one record type (a frozen dataclass whose fields are arrays, or arrays per basis)."""

    def __init__(
        self,
        kind: str,
        make: Callable[..., R],
        *,
        per_basis: Mapping[str, ArraySpec] | None = None,
        plain: Mapping[str, ArraySpec] | None = None,
    ) -> None:
        self.kind = kind
        self._make = make
        self._per_basis = dict(per_basis or {})
        self._plain = dict(plain or {})
        self.header = f"qkatlas-analysis {kind} v{CODEC_VERSION}\n".encode()

    def encode(self, record: R) -> bytes:
        arrays: dict[str, np.ndarray] = {}
        for name in self._per_basis:
            by_basis: PerBasis = getattr(record, name)
            arrays.update({f"{name}.{basis.value}": value for basis, value in by_basis.items()})
        arrays.update({name: getattr(record, name) for name in self._plain})
        buffer = io.BytesIO()
        buffer.write(self.header)
        np.savez(buffer, **arrays)  # type: ignore[arg-type]  # numpy's stub: **arrays might fill the bool allow_pickle
        return buffer.getvalue()

    def decode(self, raw: bytes) -> R | None:
        """The record, or None when ``raw`` is not one this version wrote intact (then it is recomputed)."""
        if not raw.startswith(self.header):
            log.info("cache entry is not a %s of codec version %d: recomputing it", self.kind, CODEC_VERSION)
            return None
        try:
            return self._record(self._arrays(raw[len(self.header) :]))
        except _Malformed as malformed:
            log.warning("malformed %s cache entry (%s): recomputing it", self.kind, malformed)
            return None

    @staticmethod
    def _arrays(archive: bytes) -> dict[str, np.ndarray]:
        if not archive.startswith(_ZIP_MAGIC):  # np.load would try anything else as a pickle
            raise _Malformed("not an npz archive")
        try:
            with np.load(io.BytesIO(archive), allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:  # truncated, corrupt, object arrays
            raise _Malformed(f"unreadable: {type(error).__name__}") from None

    def _record(self, arrays: dict[str, np.ndarray]) -> R:
        fields: dict[str, PerBasis] = {name: {} for name in self._per_basis}
        plain: dict[str, np.ndarray] = {}
        for stored, value in arrays.items():
            name, _, basis = stored.partition(".")
            spec = self._per_basis.get(name) if basis else self._plain.get(name)
            if spec is None or (basis and basis not in _BASES) or not spec.accepts(value):
                raise _Malformed(f"unexpected array {stored!r} ({value.dtype}, {value.ndim} dimensions)")
            if basis:
                fields[name][Basis(basis)] = value
            else:
                plain[name] = value
        bases = {frozenset(by_basis) for by_basis in fields.values()}
        if plain.keys() != self._plain.keys() or len(bases) > 1 or frozenset() in bases:
            raise _Malformed("arrays missing")
        return self._make(**fields, **plain)


class _Malformed(Exception):
    """Why a cache entry with the right header cannot be trusted."""


_FLOAT16_MAPS = ArraySpec(np.float16, 3)

HEAD_CODEC = RecordCodec(
    "head",
    HeadAnalysis,
    per_basis={
        "query": _FLOAT16_MAPS,
        "key": _FLOAT16_MAPS,
        "scores": ArraySpec(np.float32, 2),
        "contribution": ArraySpec(np.float32, 1),
    },
    plain={"key_salience": ArraySpec(np.float32, 2)},
)
MODEL_SCORES_CODEC = RecordCodec(
    "model-scores",
    ModelScores,
    per_basis={"scores": ArraySpec(np.float32, 4), "contribution": ArraySpec(np.float32, 3)},
)
ABLATION_CODEC = RecordCodec(
    "ablation",
    AblationRecord,
    plain={
        "rows": ArraySpec(np.float32, 2),
        "moved": ArraySpec(np.float32, 1),
        "embedding_cosine": ArraySpec(np.float64, 0),
        "classes": ArraySpec(np.int64, 1),
        "probabilities": ArraySpec(np.float32, 2),
        "class_names": ArraySpec(np.uint8, 1),
    },
)
ATTENTION_CODEC = RecordCodec(
    "attention",
    AttentionRow,
    plain={
        "attention": ArraySpec(np.float32, 1),
        "mode_logits": ArraySpec(np.float32, 2),
        "key_term": ArraySpec(np.float32, 1),
        "reconstructed": ArraySpec(np.float32, 1),
    },
)
