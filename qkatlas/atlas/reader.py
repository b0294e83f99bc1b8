"""Read-only, memory-mapped access to a finished atlas. A mode page costs one small read."""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from qkatlas.atlas import format as fmt

SIGN_AXIS = {"pos": 0, "neg": 1}


class AtlasError(Exception):
    """An atlas directory that is missing, incomplete or inconsistent. ``str(e)`` is the reason."""


class Atlas:
    """One atlas directory. Arrays are opened with ``mmap_mode='r'`` and never modified."""

    def __init__(self, path: Path, manifest: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.path = path
        self.manifest = manifest
        self._arrays = arrays
        model = manifest["model"]
        self.slug: str = manifest["slug"]
        self.model_slug: str = manifest["model_slug"]
        self.model_id: str = model["model_id"]
        self.n_layers: int = model["n_layers"]
        self.n_heads: int = model["n_heads"]
        self.n_modes: int = model["d_head"]
        self.grid: int = model["grid"]
        self.image_size: int = manifest["preprocessing"]["crop"]
        self.top_k: int = manifest["top_k"]
        self.bases: list[str] = list(manifest["bases"])

    @classmethod
    def open(cls, path: Path) -> Atlas:
        path = Path(path)
        manifest_path = path / fmt.MANIFEST
        if not manifest_path.is_file():
            raise AtlasError("no manifest.json (not an atlas, or never finished)")
        try:
            manifest = json.loads(manifest_path.read_text())
            if manifest.get("format_version") != fmt.FORMAT_VERSION:
                raise AtlasError(f"unsupported format version {manifest.get('format_version')!r}")
            shapes = fmt.expected_shapes(manifest)
        except (ValueError, KeyError, TypeError) as exc:
            raise AtlasError(f"unreadable manifest: {exc}") from None
        arrays = {}
        for name, (relative, dtype) in fmt.ARRAYS.items():
            try:
                array = np.load(path / relative, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise AtlasError(f"{relative}: {exc.__class__.__name__}") from None
            if array.shape != shapes[name] or array.dtype != np.dtype(dtype):
                raise AtlasError(f"{relative}: shape {array.shape} {array.dtype}, expected {shapes[name]} {dtype}")
            arrays[name] = array
        for name in (fmt.SUMMARY, fmt.IMAGES):
            if not (path / name).is_file():
                raise AtlasError(f"missing {name}")
        return cls(path, manifest, arrays)

    @cached_property
    def summary(self) -> dict[str, Any]:
        return json.loads((self.path / fmt.SUMMARY).read_text())  # type: ignore[no-any-return]

    @property
    def o3_paths(self) -> tuple[Path, Path]:
        """Where ``o3`` looks, in order: the atlas's ``o3.json``, then the root-level sidecar file."""
        return self.path / fmt.O3, self.path.parent / fmt.o3_sidecar_name(self.model_slug)

    @property
    def o3(self) -> dict[str, Any] | None:
        """The Odd-One-Out results of this atlas's model (docs/atlas-format.md "o3.json"), or None.

        Read from ``o3.json`` in the atlas, else from ``<atlas root>/<model-slug>__o3.json`` when that
        was computed from the same weights. Read on every call: ``precompute o3`` may add it later.
        """
        for path in self.o3_paths:
            try:
                result: dict[str, Any] = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if fmt.same_model_source(result.get("model_source"), self.manifest.get("model_source")):
                return result
        return None

    @cached_property
    def _images(self) -> dict[str, dict[str, Any]]:
        return json.loads((self.path / fmt.IMAGES).read_text())  # type: ignore[no-any-return]

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

    def sigma(self, layer: int, head: int) -> np.ndarray:
        return np.asarray(self._arrays["sigma"][layer, head])

    def cos(self, layer: int, head: int) -> np.ndarray:
        return np.asarray(self._arrays["cos"][layer, head])

    def degenerate(self, layer: int, head: int) -> np.ndarray:
        return np.asarray(self._arrays["degenerate"][layer, head])

    def mode_vectors(self, layer: int, head: int, mode: int) -> tuple[np.ndarray, np.ndarray]:
        """``(u_n, v_n)``, each ``[d]`` float32, canonical sign."""
        return np.asarray(self._arrays["U"][layer, head, mode]), np.asarray(self._arrays["V"][layer, head, mode])

    def _basis(self, basis: str) -> int:
        try:
            return self.bases.index(basis)
        except ValueError:
            raise KeyError(f"basis {basis!r} not in this atlas") from None

    def top_images(self, basis: str, layer: int, head: int, mode: int, sign: str) -> list[tuple[int, float]]:
        """``(dataset index, score)`` of the winners, best first (only filled slots)."""
        at = (self._basis(basis), layer, head, mode, SIGN_AXIS[sign])
        indices = np.asarray(self._arrays["topk_indices"][at])
        scores = np.asarray(self._arrays["topk_scores"][at])
        return [(int(i), float(s)) for i, s in zip(indices, scores, strict=True) if i >= 0]

    def best_scores(self, basis: str, layer: int, head: int) -> np.ndarray:
        """``[M, 2]``: the best score of every mode of the head for each sign (NaN when none)."""
        return np.asarray(self._arrays["topk_scores"][self._basis(basis), layer, head, :, :, 0], dtype=np.float64)

    def maps(self, basis: str, layer: int, head: int, mode: int, sign: str, rank: int) -> tuple[np.ndarray, np.ndarray]:
        """Query and key maps ``[T, T]`` float32 of the ``rank``-th winner of a signed mode."""
        at = (self._basis(basis), layer, head, mode, SIGN_AXIS[sign], rank)
        return (
            np.asarray(self._arrays["maps_query"][at], dtype=np.float32),
            np.asarray(self._arrays["maps_key"][at], dtype=np.float32),
        )

    def image_meta(self, index: int) -> dict[str, Any] | None:
        return self._images.get(str(index))

    def thumbnail_path(self, index: int) -> Path | None:
        if str(index) not in self._images:
            return None
        path = self.path / fmt.thumbnail_name(index)
        return path if path.is_file() else None


def find_atlases(root: Path) -> tuple[list[Atlas], list[tuple[Path, str]]]:
    """Open every atlas directly under ``root``; report the ones that fail instead of raising."""
    atlases: list[Atlas] = []
    failures: list[tuple[Path, str]] = []
    root = Path(root)
    if not root.is_dir():
        return atlases, [(root, "atlas directory does not exist")]
    for path in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            atlases.append(Atlas.open(path))
        except AtlasError as exc:
            failures.append((path, str(exc)))
    return atlases, failures
