"""Read-only, memory-mapped access to a finished atlas. A mode page costs one small read.

An ``Atlas`` is bound to the directory it opened, not to its name: every file is read through a
handle on that directory, so when a rebuilt atlas is published under the same name (the directories
are swapped, then the old one is deleted), an ``Atlas`` opened before goes on reading the old files
(its arrays stay memory-mapped even once deleted) and never mixes them with the new ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

import numpy as np
from pydantic import ValidationError

from qkatlas.atlas import format as fmt
from qkatlas.atlas.contract import (
    IMAGE_INDEX,
    AtlasManifest,
    AtlasSummary,
    FormatError,
    ImageRecord,
    O3Record,
    describe_validation_error,
    read_manifest,
    read_o3,
)
from qkatlas.atlas.effects import ModeEffects
from qkatlas.atlas.evidence import ModeEvidence, Winner, fires, is_evidence, noise_floor
from qkatlas.atlas.statistics import ModeStatistics, SignedMode
from qkatlas.conventions import SIGNS, Basis, Sign
from qkatlas.svd import active_modes
from qkatlas.ties import TiedPlaces, first_tied_place

SIGN_AXIS = {sign: axis for axis, sign in enumerate(SIGNS)}
T = TypeVar("T")


def published_manifest(path: Path) -> AtlasManifest | None:
    """The manifest of the atlas published at ``path``, or ``None`` when there is none or it cannot be
    read (not an atlas, never finished, or written by a qkatlas that this one cannot read)."""
    try:
        return read_manifest(json.loads((path / fmt.MANIFEST).read_text()))
    except (OSError, ValueError):  # FormatError is a ValueError
        return None


class AtlasError(Exception):
    """An atlas directory that is missing, incomplete or inconsistent. ``str(e)`` is the reason."""


class AtlasReplaced(AtlasError):
    """The atlas was replaced (rebuilt or removed) and a file it still needed is gone with it."""


class _DirectoryHandle:
    """An open directory: ``root`` names its files for as long as the handle lives, wherever the
    directory is moved (``/proc/self/fd``; where there is no ``/proc``, its path at opening)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise AtlasError(f"cannot open the directory ({exc.__class__.__name__})") from None
        weakref.finalize(self, os.close, self._fd)
        by_fd = Path(f"/proc/self/fd/{self._fd}")
        self.root = by_fd if by_fd.is_dir() else path

    def still_at_path(self) -> bool:
        """Whether the directory opened is still the one at its path (not replaced, not removed)."""
        try:
            return os.stat(self.path).st_ino == os.fstat(self._fd).st_ino
        except OSError:
            return False


def _revision_of(manifest_bytes: bytes) -> str:
    """An atlas's identity: the hash of its manifest, which is written last and records the run, so a
    rebuilt atlas always gets a new one."""
    return hashlib.sha256(manifest_bytes).hexdigest()[:16]


class Atlas:
    """One atlas directory. Arrays are opened with ``mmap_mode='r'`` and never modified.

    ``manifest``, ``summary`` and the image records are validated when the atlas is opened; ``o3``
    is read on every call (it may be added to a finished atlas).
    """

    def __init__(
        self,
        directory: _DirectoryHandle,
        revision: str,
        manifest: AtlasManifest,
        summary: AtlasSummary,
        images: dict[int, ImageRecord],
        arrays: dict[str, np.ndarray],
    ) -> None:
        self._directory = directory
        self.path = directory.path
        self.revision = revision
        self.manifest = manifest
        self.summary = summary
        self._images = images
        self._arrays = arrays
        self.statistics = ModeStatistics(manifest.statistics, arrays) if manifest.statistics is not None else None
        """Per-mode statistics (``qkatlas.atlas.statistics``), or ``None`` when the atlas has none."""
        self.effects = ModeEffects(manifest.effects, arrays) if manifest.effects.computed else None
        """The attention moved by each mode (``qkatlas.atlas.effects``), or ``None`` when not measured."""
        self._noise_floors: dict[tuple[int, int], float] = {}
        self._by_label: dict[str, list[int]] | None = None

    @property
    def slug(self) -> str:
        return self.manifest.slug

    @property
    def model_slug(self) -> str:
        return self.manifest.model_slug

    @property
    def model_id(self) -> str:
        return self.manifest.model.model_id

    @property
    def n_layers(self) -> int:
        return self.manifest.model.n_layers

    @property
    def n_heads(self) -> int:
        return self.manifest.model.n_heads

    @property
    def n_modes(self) -> int:
        return self.manifest.model.d_head

    @property
    def grid(self) -> int:
        return self.manifest.model.grid

    @property
    def image_size(self) -> int:
        return self.manifest.preprocessing.crop

    @property
    def top_k(self) -> int:
        return self.manifest.top_k

    @property
    def bases(self) -> tuple[Basis, ...]:
        return self.manifest.bases

    @classmethod
    def open(cls, path: Path) -> Atlas:
        """Open and check an atlas; ``AtlasError`` says what is wrong (a field of the manifest, an
        array whose shape does not match it, a missing file or thumbnail)."""
        directory = _DirectoryHandle(Path(path))
        files = directory.root
        try:
            manifest_bytes = (files / fmt.MANIFEST).read_bytes()
        except FileNotFoundError:
            raise AtlasError("no manifest.json (not an atlas, or never finished)") from None
        except OSError as exc:
            raise AtlasError(f"manifest.json: {exc.__class__.__name__}") from None
        try:
            manifest = read_manifest(json.loads(manifest_bytes))
        except ValueError as exc:  # FormatError, or not JSON at all
            reason = str(exc) if isinstance(exc, FormatError) else f"manifest.json is not JSON ({exc})"
            raise AtlasError(reason) from None
        shapes = (
            fmt.expected_shapes(manifest)
            | fmt.statistics_shapes(manifest)
            | fmt.effects_shapes(manifest)
            | fmt.ties_shapes(manifest)
        )
        arrays = {}
        for name, shape in shapes.items():
            relative, dtype = fmt.array_file(name)
            try:
                array = np.load(files / relative, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise AtlasError(f"{relative}: {exc.__class__.__name__}") from None
            if array.shape != shape or array.dtype != np.dtype(dtype):
                raise AtlasError(f"{relative}: shape {array.shape} {array.dtype}, expected {shape} {dtype}")
            arrays[name] = array
        summary = _read_json_record(files / fmt.SUMMARY, AtlasSummary.model_validate_json)
        if len(summary.normalized_depth) != manifest.model.n_layers:
            raise AtlasError(
                f"summary.json: {len(summary.normalized_depth)} layers, the manifest says {manifest.model.n_layers}"
            )
        images = _read_json_record(files / fmt.IMAGES, IMAGE_INDEX.validate_json)
        _check_thumbnails(files, arrays)
        return cls(directory, _revision_of(manifest_bytes), manifest, summary, images, arrays)

    @property
    def o3_paths(self) -> tuple[Path, Path]:
        """Where ``o3`` looks, in order: the atlas's ``o3.json``, then the root-level sidecar file."""
        return self._directory.root / fmt.O3, self.path.parent / fmt.o3_sidecar_name(self.model_slug)

    @property
    def o3(self) -> O3Record | None:
        """The Odd-One-Out results of this atlas's model (docs/atlas-format.md "o3.json"), or None.

        Read from ``o3.json`` in the atlas, else from ``<atlas root>/<model-slug>__o3.json`` when that
        was computed from the same weights. Read on every call: ``precompute o3`` may add it later.
        Raises ``AtlasError`` when a file is there but does not validate and no other one serves.
        """
        problem = None
        for path in self.o3_paths:
            try:
                raw = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            try:
                result = read_o3(raw)
            except FormatError as exc:
                problem = problem or f"{path.name}: {exc}"
                continue
            if result.model_source.same_weights(self.manifest.model_source):
                return result
        if problem is not None:
            raise AtlasError(problem)
        return None

    @property
    def arrays(self) -> Mapping[str, np.ndarray]:
        """Every array of docs/atlas-format.md by its name in ``format.ARRAYS``, memory-mapped read-only."""
        return MappingProxyType(self._arrays)

    @property
    def sigma_all(self) -> np.ndarray:
        """``[L, H, M]``"""
        return self._arrays["sigma"]

    @property
    def cos_all(self) -> np.ndarray:
        return self._arrays["cos"]

    @property
    def degenerate_all(self) -> np.ndarray:
        return self._arrays["degenerate"]

    @property
    def active_all(self) -> np.ndarray:
        """``[L, H, M]`` bool: the modes that contribute to attention (σ > 0; docs/method.md#inactive-modes)."""
        return active_modes(np.asarray(self._arrays["sigma"]))

    def sigma(self, layer: int, head: int) -> np.ndarray:
        return np.asarray(self._arrays["sigma"][layer, head])

    def cos(self, layer: int, head: int) -> np.ndarray:
        return np.asarray(self._arrays["cos"][layer, head])

    def degenerate(self, layer: int, head: int) -> np.ndarray:
        return np.asarray(self._arrays["degenerate"][layer, head])

    def active(self, layer: int, head: int) -> np.ndarray:
        """``[M]`` bool: which modes of the head are active."""
        return active_modes(self.sigma(layer, head))

    def mode_vectors(self, layer: int, head: int, mode: int) -> tuple[np.ndarray, np.ndarray]:
        """``(u_n, v_n)``, each ``[d]`` float32, canonical sign."""
        return np.asarray(self._arrays["U"][layer, head, mode]), np.asarray(self._arrays["V"][layer, head, mode])

    def basis_axis(self, basis: Basis) -> int:
        """The position of ``basis`` on the atlas's basis axis; ``KeyError`` when it has no such basis."""
        try:
            return self.bases.index(basis)
        except ValueError:
            raise KeyError(f"basis {basis!r} not in this atlas") from None

    def top_images(self, basis: Basis, layer: int, head: int, mode: int, sign: Sign) -> list[tuple[int, float]]:
        """``(dataset index, score)`` of the winners, best first (only filled slots; none for an
        inactive mode, whose scores are all 0 and rank nothing)."""
        if not self.active(layer, head)[mode]:
            return []
        at = (self.basis_axis(basis), layer, head, mode, SIGN_AXIS[sign])
        indices = np.asarray(self._arrays["topk_indices"][at])
        scores = np.asarray(self._arrays["topk_scores"][at])
        return [(int(i), float(s)) for i, s in zip(indices, scores, strict=True) if i >= 0]

    def cutoff_tie(self, basis: Basis, layer: int, head: int, mode: int, sign: Sign) -> TiedPlaces | None:
        """The signed mode's last places that tie with the best image left out of its top-K at the atlas's
        precision (``qkatlas.ties.first_tied_place``); ``None`` when they do not, or the atlas has no tie
        check (built before format 6)."""
        ties = self.manifest.ties
        if ties is None:
            return None
        winners = self.top_images(basis, layer, head, mode, sign)
        if len(winners) < self.top_k:  # every image is in the top-K: nothing was left out
            return None
        at = (self.basis_axis(basis), layer, head, mode, SIGN_AXIS[sign])
        runner_up = float(self._arrays["topk_runner_up"][at])
        first = first_tied_place(np.array([score for _, score in winners]), runner_up, ties.epsilon)
        return TiedPlaces(first, runner_up) if first is not None else None

    def noise_floor(self, basis: Basis, layer: int) -> float:
        """The score a top image of ``layer`` in ``basis`` must exceed to be evidence
        (``qkatlas.atlas.evidence.noise_floor``); read once per (basis, layer)."""
        at = (self.basis_axis(basis), layer)
        if at not in self._noise_floors:
            self._noise_floors[at] = noise_floor(self._arrays["topk_scores"][at])
        return self._noise_floors[at]

    def evidence(self, basis: Basis, layer: int, head: int, mode: int, sign: Sign) -> ModeEvidence:
        """The top images that are evidence for the signed mode, each with whether it fires
        (docs/method.md#evidence-and-firing), and how many filled slots were left out."""
        winners = self.top_images(basis, layer, head, mode, sign)
        scores = np.array([score for _, score in winners], dtype=np.float64)
        evidence = is_evidence(scores, self.noise_floor(basis, layer))
        shown = tuple(
            Winner(rank, index, score, fires(*self.maps(basis, layer, head, mode, sign, rank)))
            for rank, (index, score) in enumerate(winners)
            if evidence[rank]
        )
        return ModeEvidence(winners=shown, left_out=len(winners) - len(shown))

    def never_fires(self, basis: Basis, layer: int, head: int, mode: int, sign: Sign) -> bool | None:
        """Whether the signed mode fires on no scored image (docs/method.md#per-mode-statistics); ``None``
        when the atlas has no statistics or the mode is inactive (it scores nothing at all)."""
        if self.statistics is None or not self.active(layer, head)[mode]:
            return None
        signed = SignedMode(layer, head, mode, sign)
        return self.statistics.firing(self.basis_axis(basis), signed) == 0

    def best_scores(self, basis: Basis, layer: int, head: int) -> np.ndarray:
        """``[M, 2]``: the best score of every mode of the head for each sign (NaN when none, as for an
        inactive mode)."""
        best = np.asarray(self._arrays["topk_scores"][self.basis_axis(basis), layer, head, :, :, 0], dtype=np.float64)
        return np.where(self.active(layer, head)[:, None], best, np.nan)

    def maps(
        self, basis: Basis, layer: int, head: int, mode: int, sign: Sign, rank: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Query and key maps ``[T, T]`` float32 of the ``rank``-th winner of a signed mode."""
        at = (self.basis_axis(basis), layer, head, mode, SIGN_AXIS[sign], rank)
        return (
            np.asarray(self._arrays["maps_query"][at], dtype=np.float32),
            np.asarray(self._arrays["maps_key"][at], dtype=np.float32),
        )

    def image_meta(self, index: int) -> ImageRecord | None:
        return self._images.get(index)

    def image_records(self) -> Mapping[int, ImageRecord]:
        """Every record of ``images.json`` by dataset index (every scored image from format 4; the winners before)."""
        return MappingProxyType(self._images)

    def class_images(self, label: str) -> list[int]:
        """Dataset indices of the images the atlas records with class ``label`` (exact), ascending."""
        if self._by_label is None:
            by_label: dict[str, list[int]] = {}
            for index in sorted(self._images):
                record_label = self._images[index].label
                if record_label is not None:
                    by_label.setdefault(record_label, []).append(index)
            self._by_label = by_label
        return list(self._by_label.get(label, ()))

    def thumbnail(self, index: int) -> bytes | None:
        """The JPEG of a shown image (a winner or a distribution sample) as the model saw it; ``None`` for
        another image. ``AtlasReplaced`` when the atlas was replaced and its files deleted since it was opened."""
        if index not in self._images:
            return None
        try:
            return (self._directory.root / fmt.thumbnail_name(index)).read_bytes()
        except FileNotFoundError:
            if not self._directory.still_at_path():
                raise AtlasReplaced(f"{self.slug} was replaced while it was being read") from None
            return None  # not a shown image (or deleted by hand from an atlas still in place)


def _check_thumbnails(files: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Every image shown (a winner, a distribution sample or a top-effect image) has its thumbnail (an atlas
    copied in by hand may not have all of them yet)."""
    try:
        present = set(os.listdir(files / fmt.THUMBS_DIR))
    except OSError:
        present = set()
    listed = ("topk_indices", "sample_indices", "effects_top_indices")
    shown = [np.unique(arrays[name]) for name in listed if name in arrays]
    indices = np.unique(np.concatenate(shown)) if shown else np.empty(0, dtype=np.int64)
    indices = indices[indices >= 0]
    missing = sum(1 for index in indices.tolist() if Path(fmt.thumbnail_name(index)).name not in present)
    if missing:
        raise AtlasError(f"{fmt.THUMBS_DIR}/: {missing} of {len(indices)} shown images' thumbnails missing")


def _read_json_record(path: Path, validate: Callable[[bytes], T]) -> T:
    """A small JSON file of the atlas, validated; ``AtlasError`` names the file and the wrong field."""
    try:
        return validate(path.read_bytes())
    except FileNotFoundError:
        raise AtlasError(f"missing {path.name}") from None
    except OSError as exc:
        raise AtlasError(f"{path.name}: {exc.__class__.__name__}") from None
    except ValidationError as exc:
        raise AtlasError(f"{path.name}: {describe_validation_error(exc)}") from None


def atlas_directories(root: Path) -> list[Path]:
    """The directories directly under ``root`` that may hold an atlas (hidden ones hold work in
    progress), sorted by name."""
    return sorted(p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith("."))


def find_atlases(root: Path) -> tuple[list[Atlas], list[tuple[Path, str]]]:
    """Open every atlas directly under ``root``; report the ones that fail instead of raising."""
    atlases: list[Atlas] = []
    failures: list[tuple[Path, str]] = []
    root = Path(root)
    if not root.is_dir():
        return atlases, [(root, "atlas directory does not exist")]
    for path in atlas_directories(root):
        try:
            atlases.append(Atlas.open(path))
        except AtlasError as exc:
            failures.append((path, str(exc)))
    return atlases, failures
